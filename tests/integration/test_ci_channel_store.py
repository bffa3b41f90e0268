"""CI's channel store: a bucket (moto_server on 127.0.0.1) that outlives every run of the workflows.

The publish and refresh jobs name the bucket (`--store`, from channels.ci-storage); each run reads
the repository's current state from it, so a later run keeps the root and bumps the versions of
what it signs. The refresh job's step is run here as generated (its script and its `env:`, with the
environment's secrets filled in as GitHub fills them) against a quiet channel published eight days
ago: a TUF client refuses the expired timestamp before it and accepts the release after it.
The whole release and nightly workflows publish to the store in test_ci_simulation.py.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from tuf.api.metadata import Metadata

from opencode_release.build import ci_workflow
from opencode_release.channels import update_client
from opencode_release.channels.keys import Keyring
from opencode_release.channels.storage import ChannelError, S3Storage
from opencode_release.core import config
from opencode_release.core.errors import UnsafePathError
from opencode_release.release.ci_sim import object_store
from opencode_release.release.ci_sim import secrets as simulated_secrets
from tests.conftest import write_project
from tests.integration.channel_helpers import NOW, TARGET, make_ledger, repository
from tests.unit.test_apt_suite import _with_apt

pytestmark = pytest.mark.integration
STORE = "s3://ci-store/channels"
_SECRET = re.compile(r"^\$\{\{ secrets\.([A-Z0-9_]+) \}\}$")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with object_store.serving() as url:
        object_store.ensure_bucket(url, STORE)
        # clients read the bucket anonymously, as from a public bucket or its CDN
        policy = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::ci-store/*"}
        object_store.client(url).put_bucket_policy(
            Bucket="ci-store", Policy=json.dumps({"Version": "2012-10-17", "Statement": [policy]})
        )
        yield url


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_project(
        tmp_path,
        f'name = "opencode"\npackage = "src"\ndist-dir = "dist"\n[channels]\nroot = "public"\nci-storage = "{STORE}"\n',
    )
    return tmp_path


def _generated_step(project: Path, job: str) -> dict[str, Any]:
    """The step of the nightly workflow's `job` that runs opencode-release, as generated for `project`."""
    settings = config.load(project / "pyproject.toml")
    layout = ci_workflow.Layout(project=".", dist="dist", self_hosting=False)
    steps = ci_workflow.workflow(settings, layout, "nightly")["jobs"][job]["steps"]
    (step,) = [s for s in steps if str(s.get("run", "")).startswith("opencode-release ")]
    return dict(step)


def _run(script: str, env: Mapping[str, str], secrets: Mapping[str, str], cwd: Path, endpoint: str) -> Any:
    """A `run:` step as the runner runs it: bash, the step's env with secrets filled in (unset ones empty)."""
    filled = {k: (secrets.get(m[1], "") if (m := _SECRET.match(v)) else v) for k, v in env.items()}
    base = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env={**base, object_store.ENDPOINT_ENV: endpoint, **filled},
        capture_output=True,
        text=True,
        check=False,
    )
    return done


@pytest.fixture(scope="module")
def apt_key() -> str:
    return simulated_secrets.armored_gpg_key("opencode archive key (test) <release@example.org>")


def _secrets(keys: Path, apt_key: str = "") -> dict[str, str]:
    ring = Keyring(keys, generate=True)
    for role in ci_workflow.TUF_ROLES:
        ring.signer(role)
    found = {f"TUF_{r.upper()}_KEY": ring.path(r).read_text() for r in ci_workflow.TUF_ROLES}
    found |= {"APT_SIGNING_KEY": apt_key} if apt_key else {}
    return {**found, "AWS_ACCESS_KEY_ID": "simulated", "AWS_SECRET_ACCESS_KEY": "simulated"}


def _version(storage: S3Storage, key: str) -> int:
    data = storage.read(key)
    assert data is not None, key
    return int(Metadata.from_bytes(data).signed.version)


def test_the_store_keeps_its_root_the_refresh_job_resigns_a_quiet_channel_and_a_later_publish_bumps(
    endpoint: str, project: Path, tmp_path: Path, apt_key: str
) -> None:
    s3 = object_store.client(endpoint)
    storage = S3Storage("ci-store", "channels", client=s3)
    secrets = _secrets(tmp_path / "keys", apt_key)
    # the first release, eight days ago: its timestamp (7 days) has expired since, its snapshot (14 days)
    # is past half its lifetime, its apt suite's Release expired a day ago
    old = repository(tmp_path / "unused", tmp_path / "keys", storage=storage, now=NOW - dt.timedelta(days=8))
    first = _with_apt(project / "dist", "1.4.0", b"first", NOW - dt.timedelta(days=1))
    assert old.publish(first, ["stable"]).status == "published"
    root = storage.read("metadata/root.json")
    assert root is not None and root == storage.read("metadata/1.root.json")
    url, cache = f"{endpoint}/ci-store/channels", tmp_path / "client"
    with pytest.raises(update_client.UpdateError, match="ExpiredMetadataError"):
        update_client.check(url, "stable", cache, trusted_root=root, target=TARGET)

    step = _generated_step(project, "refresh")
    assert f"--store {STORE}" in step["run"] and "OPENCODE_RELEASE_TUF_ROOT_KEY" not in step["env"]
    done = _run(step["run"], step["env"], secrets, project, endpoint)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "refreshed"
    assert {"snapshot", "timestamp", "stable/apt"} <= set(json.loads(done.stdout)["channels"])
    refreshed = _version(storage, "metadata/timestamp.json")
    assert refreshed > 1  # the TUF refresh, then the apt suite's (its dists/ are the channel's targets)
    update = update_client.check(url, "stable", cache, trusted_root=root, target=TARGET)
    assert update is not None and update.version == "1.4.0" and update.path.read_bytes() == b"first" * 10
    # the apt suite, re-signed with the environment's apt key: apt.valid-days (7) from now
    release = storage.read("stable/apt/dists/stable/Release") or b""
    (line,) = [x for x in release.decode().splitlines() if x.startswith("Valid-Until: ")]
    left = email.utils.parsedate_to_datetime(line.removeprefix("Valid-Until: ")) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=6) < left <= dt.timedelta(days=7)
    signed = storage.read("stable/apt/dists/stable/InRelease") or b""
    assert signed.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----") and line.encode() in signed

    # the next release reads the store's state: the same root, the next versions; no root key needed
    make_ledger(project / "dist", "1.4.1", b"second")
    no_root = {k: v for k, v in secrets.items() if k != "TUF_ROOT_KEY"}
    publish_env = {f"OPENCODE_RELEASE_{k}": f"${{{{ secrets.{k} }}}}" for k in no_root if k.startswith("TUF_")}
    publish_env |= {k: f"${{{{ secrets.{k} }}}}" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    later = _run(
        f"opencode-release publish --project . --version 1.4.1 --channel stable --store {STORE} --json",
        publish_env,
        no_root,
        project,
        endpoint,
    )
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout)["status"] == "published"
    assert storage.read("metadata/root.json") == root and storage.read("metadata/2.root.json") is None
    assert _version(storage, "metadata/timestamp.json") == refreshed + 1
    update = update_client.check(url, "stable", cache, trusted_root=root, target=TARGET, current="1.4.0")
    assert update is not None and update.version == "1.4.1"
    assert not (project / "public").exists()  # nothing went to the folder channels.root names


def test_refresh_of_an_empty_store_and_a_store_that_is_not_a_bucket_fail_in_one_line(
    endpoint: str, project: Path, tmp_path: Path
) -> None:
    keys = _secrets(tmp_path / "keys")
    step = _generated_step(project, "refresh")
    empty = _run(step["run"].replace(STORE, "s3://ci-store/empty"), step["env"], keys, project, endpoint)
    assert empty.returncode == 1
    assert empty.stderr.strip() == "error: s3://ci-store/empty: no channel repository here; publish first"
    folder = _run(step["run"].replace(STORE, "/tmp/public"), step["env"], keys, project, endpoint)
    assert folder.returncode == 2
    assert folder.stderr.strip() == (
        "error: --store '/tmp/public': expected filesystem or s3://BUCKET/PREFIX (a bucket name of S3's rules)"
    )


def test_the_simulated_store_keeps_its_objects_from_one_server_to_the_next(tmp_path: Path) -> None:
    """moto keeps objects in memory: `serving(kept=DIR)` carries them from one server (one `ci --simulate`
    process) to the next through DIR, and refuses to write back a key that would leave DIR."""
    kept = tmp_path / "kept"
    with object_store.serving(kept) as first:
        object_store.ensure_bucket(first, STORE)
        storage = S3Storage("ci-store", "channels", client=object_store.client(first))
        storage.write("metadata/root.json", b"root v1")
        assert storage.create("stable/index.json", b"index") is True
    assert (kept / "ci-store" / "channels" / "metadata" / "root.json").read_bytes() == b"root v1"
    with object_store.serving(kept) as second:
        assert second != first
        storage = S3Storage("ci-store", "channels", client=object_store.client(second))
        assert storage.read("metadata/root.json") == b"root v1"
        # an immutable file stays immutable across servers: create refuses other bytes
        with pytest.raises(ChannelError, match="already holds different bytes"):
            storage.create("stable/index.json", b"other")
        storage.delete("metadata/root.json")
        object_store.client(second).put_object(Bucket="ci-store", Key="channels\\escape", Body=b"x")
        with pytest.raises(UnsafePathError, match=r"ci-store: refused path 'channels\\\\escape': contains a backslash"):
            object_store.dump(second, kept)
        # refused before anything was written: kept is as the first server left it
        assert (kept / "ci-store" / "channels" / "metadata" / "root.json").read_bytes() == b"root v1"
        object_store.client(second).delete_object(Bucket="ci-store", Key="channels\\escape")
    # the block's end wrote back the deletion
    assert not (kept / "ci-store" / "channels" / "metadata" / "root.json").exists()
    assert (kept / "ci-store" / "channels" / "stable" / "index.json").read_bytes() == b"index"
