"""`publish --refresh` keeps each channel's apt suite valid (issue #15): real apt-get, over HTTP from public/.

The release's apt repository is signed ten days ago (Valid-Until = then + apt.valid-days = 7):
published, its InRelease is expired and apt refuses it. The refresh re-signs the suite's
Release with a new Date and Valid-Until; apt accepts it and downloads the package from the
channel's pool; a TUF client gets the same refreshed InRelease as a target of the channel.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tuf.ngclient import Updater

from opencode_release.channels.update_client import BoundedFetcher
from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release import pipeline, session
from tests.aptclient import AptClient
from tests.conftest import REPO
from tests.integration.channel_helpers import assert_consistent, serve

pytestmark = pytest.mark.integration

SIGNED_AT = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=10)
SUITE = "stable/apt/dists/stable"


def _cli(*args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from opencode_release.cli import main; sys.exit(main())", *args, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert isinstance(document, dict)
    return document


def _valid_until(release: bytes) -> dt.datetime:
    (line,) = [x for x in release.decode().splitlines() if x.startswith("Valid-Until: ")]
    return email.utils.parsedate_to_datetime(line.removeprefix("Valid-Until: "))


def test_refresh_resigns_the_apt_suite_and_apt_get_accepts_it_where_it_refused_the_expired_one(
    release_copy: Path, tmp_path: Path
) -> None:
    settings = config.load(release_copy / "pyproject.toml")
    session.run(
        settings,
        pipeline.stages_named(("deb", "apt-repo", "checksum")),
        session.Request(snapshot=True, quiet=True, targets=(), clock=lambda: SIGNED_AT),
    )
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    (deb,) = ledger.by_kind(ArtifactKind.DEB)
    project = ("--project", str(release_copy), "--snapshot")
    published = _cli("publish", *project, "--version", "1.4.0", "--channel", "stable")
    assert published["status"] == "published", published
    public = release_copy.parent / "public"
    expired = (public / SUITE / "Release").read_bytes()
    assert _valid_until(expired) < dt.datetime.now(dt.UTC)  # the release's own Release, copied as it was
    keyring = public / "stable/apt/opencode-archive-keyring.gpg"
    assert keyring.read_bytes() == (ledger.root / "manifests/apt/opencode-archive-keyring.gpg").read_bytes()

    with serve(public) as url:
        before = AptClient(tmp_path / "before", f"{url}/stable/apt", "stable", keyring).update()
        assert before.returncode == 100, before.stdout + before.stderr
        assert "is expired (invalid since" in before.stdout + before.stderr

        refreshed = _cli("publish", *project, "--refresh")
        assert refreshed["status"] == "refreshed" and "stable/apt" in str(refreshed["channels"]), refreshed
        release = (public / SUITE / "Release").read_bytes()
        left = _valid_until(release) - dt.datetime.now(dt.UTC)
        assert dt.timedelta(days=6) < left <= dt.timedelta(days=7)  # apt.valid-days from the refresh
        # Only the window changed: the same indexes with the same digests.
        assert [x for x in release.splitlines() if not x.startswith((b"Date:", b"Valid-Until:"))] == [
            x for x in expired.splitlines() if not x.startswith((b"Date:", b"Valid-Until:"))
        ]

        client = AptClient(tmp_path / "after", f"{url}/stable/apt", "stable", keyring)
        after = client.update()
        assert after.returncode == 0, after.stdout + after.stderr
        download = client.run("download", "opencode")
        assert download.returncode == 0, download.stdout + download.stderr
        (fetched,) = (tmp_path / "after" / "download").glob("opencode_*.deb")
        assert hashlib.sha256(fetched.read_bytes()).hexdigest() == deb.sha256

        # TUF covers the refreshed suite: a TUF client gets the same InRelease as the channel's target.
        assert_consistent(public)
        updater = Updater(
            str(tmp_path / "tuf"),
            f"{url}/metadata/",
            str(tmp_path),
            f"{url}/targets/",
            fetcher=BoundedFetcher(time.monotonic() + 60),
            bootstrap=(public / "metadata/1.root.json").read_bytes(),
        )
        updater.refresh()
        info = updater.get_targetinfo(f"{SUITE}/InRelease")
        assert info is not None
        got = Path(updater.download_target(info, str(tmp_path / "InRelease"))).read_bytes()
        assert got == (public / SUITE / "InRelease").read_bytes() != b""

    # Fresh now: the next daily refresh changes nothing.
    assert _cli("publish", *project, "--refresh")["status"] == "unchanged"
