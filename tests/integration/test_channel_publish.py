"""Publishing: idempotence, immutability, crash safety, the lock, retention, nightlies."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from opencode_release.channels import repository as publishing
from opencode_release.channels.channel_index import ChannelIndex
from opencode_release.channels.publisher import STEPS
from opencode_release.channels.storage import ChannelError, FileStorage
from opencode_release.core import config
from opencode_release.lifecycle.calendar import nightly_version
from opencode_release.release import session, stages
from tests.conftest import REPO, write_project
from tests.integration.channel_helpers import NOW, TARGET, assert_consistent, make_ledger, repository, serve, tree

pytestmark = pytest.mark.integration


def test_publishing_the_same_release_again_changes_nothing(tmp_path: Path) -> None:
    ledger = make_ledger(tmp_path / "dist", "1.4.0", b"payload")
    assert repository(tmp_path / "public", tmp_path / "keys").publish(ledger, ["stable"]).status == "published"
    before = tree(tmp_path / "public")
    later = repository(tmp_path / "public", tmp_path / "keys", now=NOW + dt.timedelta(days=1))
    assert later.publish(ledger, ["stable"]).status == "unchanged"
    assert tree(tmp_path / "public") == before


def test_different_bytes_under_a_published_version_are_refused(tmp_path: Path) -> None:
    repo = repository(tmp_path / "public", tmp_path / "keys")
    repo.publish(make_ledger(tmp_path / "a", "1.4.0", b"payload"), ["stable"])
    before = tree(tmp_path / "public")
    with pytest.raises(ChannelError) as err:
        repo.publish(make_ledger(tmp_path / "b", "1.4.0", b"other payload"), ["stable"])
    assert str(err.value) == (
        "stable 1.4.0: already published with different bytes (archive:opencode-1.4.0-linux-x86_64-gnu.tar.gz, "
        "checksums:SHA256SUMS); a published version is immutable: publish a new version"
    )
    assert tree(tmp_path / "public") == before


@pytest.mark.parametrize("step", STEPS)
def test_publisher_killed_at_a_step_boundary_leaves_a_consistent_repository(tmp_path: Path, step: str) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(make_ledger(tmp_path / "dist", "1.4.0", b"old" * 50), ["stable"])
    new = make_ledger(tmp_path / "dist", "1.5.0", b"new" * 50)
    # the final state of an uninterrupted run, for comparison
    reference = tmp_path / "reference"
    shutil.copytree(public, reference)
    repository(reference, keys).publish(new, ["stable"])

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.crash_publisher",
            str(public),
            str(keys),
            str(new.root),
            step,
            NOW.isoformat(),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr
    assert_consistent(public)
    with serve(public) as url:
        from opencode_release.channels import update_client

        seen = update_client.check(
            url, "stable", tmp_path / f"cache-{step}", target=TARGET, trusted_root=public / "metadata/1.root.json"
        )
    assert seen is not None
    assert seen.version == ("1.5.0" if STEPS.index(step) >= STEPS.index("timestamp") else "1.4.0")

    repository(public, keys).publish(new, ["stable"])
    assert_consistent(public)
    assert tree(public) == tree(reference)


def test_a_second_publisher_fails_cleanly_when_the_lock_is_held(tmp_path: Path) -> None:
    public = tmp_path / "public"
    holder = FileStorage(public)
    with holder.lock(1.0):
        repo = repository(public, tmp_path / "keys", lock_timeout=0.3)
        with pytest.raises(ChannelError) as err:
            repo.publish(make_ledger(tmp_path / "dist", "1.4.0", b"x"), ["stable"])
    assert str(err.value).startswith(f"{public}/.publish.lock: another publisher holds the lock (pid ")
    assert str(err.value).endswith("waited 0.3s (channels.lock-timeout-seconds); try again when it has finished")
    assert not (public / "metadata").exists()


def test_a_second_publisher_waits_for_the_first(tmp_path: Path) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(make_ledger(tmp_path / "dist", "1.3.0", b"0"), ["stable"])
    results: dict[str, str] = {}

    def publish(version: str) -> None:
        repo = repository(public, keys, lock_timeout=20)
        results[version] = repo.publish(make_ledger(tmp_path / version, version, version.encode()), ["stable"]).status

    holder = FileStorage(public)
    with holder.lock(1.0):
        threads = [threading.Thread(target=publish, args=(v,)) for v in ("1.4.0", "1.5.0")]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        assert results == {}  # both wait while the lock is held
    for thread in threads:
        thread.join()
    assert results == {"1.4.0": "published", "1.5.0": "published"}
    assert_consistent(public)
    index = ChannelIndex.from_bytes((public / "stable/index.json").read_bytes(), "index")
    assert sorted(index.releases) == ["1.3.0", "1.4.0", "1.5.0"]


def test_nightly_retention_keeps_newest_payloads_and_evidence_for_its_period(tmp_path: Path) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    versions = [f"1.4.1-nightly.2026112{day}+gabcdef{day}" for day in range(1, 5)]
    for day, version in enumerate(versions, 1):
        repo = repository(public, keys, now=NOW + dt.timedelta(days=day), keep=2, evidence_days=10)
        repo.publish(make_ledger(tmp_path / "dist", version, f"nightly {day}".encode(), "nightly"), ["nightly"])
    assert_consistent(public)
    index = json.loads((public / "nightly/index.json").read_text())
    state = {r["version"]: (r["pruned"], bool(r["downloads"]), len(r["evidence"])) for r in index["releases"]}
    assert state == {
        versions[3]: (False, True, 3),
        versions[2]: (False, True, 3),
        versions[1]: (True, False, 3),
        versions[0]: (True, False, 3),
    }
    assert not list((public / "targets/nightly" / versions[0]).glob("*.tar.gz"))
    assert len(list((public / "targets/nightly" / versions[0]).glob("*.cdx.json"))) == 1
    # two weeks later the evidence of the pruned ones is past its period
    later = repository(public, keys, now=NOW + dt.timedelta(days=13), keep=2, evidence_days=10)
    result = later.publish(
        make_ledger(tmp_path / "dist", "1.4.1-nightly.20261207+gabcdef9", b"n", "nightly"), ["nightly"]
    )
    assert sorted(result.expired) == versions[:2]
    assert result.pruned == (versions[2],)
    assert_consistent(public)
    assert not (public / "targets/nightly" / versions[0]).exists() or not any(
        (public / "targets/nightly" / versions[0]).iterdir()
    )


def test_nightly_version_and_same_commit_same_day_publishes_nothing_new(tmp_path: Path) -> None:
    settings = config.load(write_project(tmp_path, 'name = "opencode"\npackage = "src"\n[channels]\nroot = "public"\n'))
    version = nightly_version(settings, "0123456789abcdef" * 2, dt.date(2026, 11, 23))
    assert str(version) == "1.4.1-nightly.20261123+g0123456"
    assert not publishing.nightly_published(settings, version)
    ledger = make_ledger(tmp_path / "dist", str(version), b"nightly", "nightly")
    assert stages.channels_for(settings, ledger, dt.date(2026, 11, 23)) == ["nightly"]
    repo = publishing.repository(settings, snapshot=True, now=NOW)
    assert repo.publish(ledger, ["nightly"]).status == "published"
    assert publishing.nightly_published(settings, version)
    other_commit = nightly_version(settings, "fedcba98" * 5, dt.date(2026, 11, 23))
    assert not publishing.nightly_published(settings, other_commit)
    assert repo.publish(ledger, ["nightly"]).status == "unchanged"
    assert (tmp_path / ".opencode-release/tuf-keys/nightly.pem").is_file()


def test_year_lts_stable_also_opens_its_lts_channel(tmp_path: Path) -> None:
    settings = config.load(write_project(tmp_path, 'name = "opencode"\npackage = "src"\n[channels]\nroot = "public"\n'))
    first = make_ledger(tmp_path / "dist", "2.0.0", b"2")
    assert stages.channels_for(settings, first, dt.date(2027, 1, 19)) == ["stable", "lts/2.0"]
    released = dt.datetime(2027, 1, 19, 12, tzinfo=dt.UTC)
    publishing.repository(settings, snapshot=True, now=released).publish(first, ["stable", "lts/2.0"])
    assert json.loads((tmp_path / "public/lts/2.0/index.json").read_text())["releases"][0]["version"] == "2.0.0"
    second = make_ledger(tmp_path / "dist", "2.1.0", b"3")
    assert stages.channels_for(settings, second, dt.date(2027, 3, 2)) == ["stable"]
    second.channel = "lts"
    assert stages.channels_for(settings, second, dt.date(2027, 3, 2)) == ["lts/2.1"]


def test_real_release_without_configured_keys_is_refused(tmp_path: Path) -> None:
    settings = config.load(write_project(tmp_path, 'name = "opencode"\npackage = "src"\n[channels]\nroot = "public"\n'))
    with pytest.raises(ChannelError) as err:
        publishing.repository(settings, snapshot=False, now=NOW).publish(
            make_ledger(tmp_path / "dist", "1.4.0", b"x"), ["stable"]
        )
    assert str(err.value) == (
        f"TUF root key: not found at {tmp_path}/.opencode-release/tuf-keys/root.pem nor in "
        "$OPENCODE_RELEASE_TUF_ROOT_KEY; real releases read keys from signing.keys-dir or the environment"
    )


def test_routine_publish_does_not_need_the_root_key(tmp_path: Path) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(make_ledger(tmp_path / "dist", "1.4.0", b"x"), ["stable"])
    (keys / "root.pem").rename(tmp_path / "offline-root.pem")
    from opencode_release.channels.keys import Keyring

    repo = repository(public, keys)
    repo.keyring = Keyring(keys, generate=False)
    assert repo.publish(make_ledger(tmp_path / "dist", "1.5.0", b"y"), ["stable"]).status == "published"
    assert not (keys / "root.pem").exists()


def test_publish_stage_publishes_the_real_build_from_its_ledger(release_copy: Path, tmp_path: Path) -> None:
    settings = config.load(release_copy / "pyproject.toml")
    request = session.Request(snapshot=True, quiet=True, clock=lambda: NOW)
    ctx, report = session.run(settings, [stages.PublishStage()], request)
    assert report.results[-1].status == "ran"
    public = settings.path(settings.channels.root)
    assert_consistent(public)
    (archive,) = [a for a in ctx.ledger.uploadable() if a.kind == "archive"]
    with serve(public) as url:
        from opencode_release.channels import update_client

        update = update_client.check(
            url, "stable", tmp_path / "cache", target=archive.target, trusted_root=public / "metadata/1.root.json"
        )
    assert update is not None and update.version == "1.4.0"
    assert update.path.read_bytes() == ctx.ledger.file(archive).read_bytes()
    _, again = session.run(settings, [stages.PublishStage()], request)
    assert any("unchanged: stable" in note for note in again.notes)


@pytest.mark.parametrize("step", STEPS)
def test_the_readable_index_never_names_what_tuf_does_not(tmp_path: Path, step: str) -> None:
    """Killed at any step boundary: index.json and index.html name 1.5.0 only once the timestamp does."""
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(make_ledger(tmp_path / "dist", "1.4.0", b"old" * 50), ["stable"])

    class Killed(BaseException):
        pass

    def die(at: str) -> None:
        if at == step:
            raise Killed(at)

    repo = repository(public, keys)
    repo.on_step = die
    with pytest.raises(Killed):
        repo.publish(make_ledger(tmp_path / "dist", "1.5.0", b"new" * 50), ["stable"])
    committed = STEPS.index(step) >= STEPS.index("timestamp")
    readable = json.loads((public / "stable/index.json").read_text())
    if not committed:
        assert [r["version"] for r in readable["releases"]] == ["1.4.0"]
        assert "1.5.0" not in (public / "stable/index.html").read_text()
    repository(public, keys).publish(make_ledger(tmp_path / "dist", "1.5.0", b"new" * 50), ["stable"])
    readable = json.loads((public / "stable/index.json").read_text())
    assert [r["version"] for r in readable["releases"]] == ["1.5.0", "1.4.0"]  # finished by the next publish
    assert "1.5.0" in (public / "stable/index.html").read_text()


_FULL_DISK = """
import sys
from pathlib import Path
from opencode_release.channels.storage import ChannelError
from tests.integration.channel_helpers import make_ledger, repository, tree
public, keys, dist = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
repository(public, keys).publish(make_ledger(dist, "1.4.0", b"one" * 100), ["stable"])
before = tree(public)
try:
    repository(public, keys).publish(make_ledger(dist, "1.5.0", bytes(range(256)) * 2000), ["stable"])
except ChannelError as exc:
    print("refused:", exc)
print("unchanged:", tree(public) == before)
"""


def test_a_full_disk_is_one_line_naming_the_path_and_leaves_the_repository_as_it_was(tmp_path: Path) -> None:
    """A real ENOSPC: the repository on a 200 KiB tmpfs (mounted in a private mount namespace)."""
    mount = tmp_path / "small"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=200k tmpfs {mount} && "
        f"{sys.executable} -c '{_FULL_DISK}' {mount / 'public'} {tmp_path / 'keys'} {tmp_path / 'dist'}"
    )
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    refused, unchanged = proc.stdout.strip().splitlines()
    assert refused.startswith(f"refused: {mount / 'public'}/") and "No space left on device (ENOSPC)" in refused
    assert refused.endswith("nothing was changed: the repository is as it was")
    assert unchanged == "unchanged: True"


_REFUSED_WRITE = """
import sys
from pathlib import Path
from opencode_release.channels.storage import ChannelError
from tests.integration.channel_helpers import make_ledger, repository
public, keys, dist = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
try:
    repository(public, keys).publish(make_ledger(dist, "1.5.0", b"two" * 100), ["stable"])
except ChannelError as exc:
    print("refused:", exc)
"""


def test_a_permission_error_mid_publish_is_one_line_naming_the_path_and_leaves_the_repository_as_it_was(
    tmp_path: Path,
) -> None:
    """A real EACCES after the new targets are stored: metadata/ is read-only for the publisher (run as a
    user without root's override, in a user namespace), so the transaction fails at its targets step."""
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(make_ledger(tmp_path / "dist", "1.4.0", b"one" * 100), ["stable"])
    before = tree(public)
    (public / "metadata").chmod(0o555)
    arguments = (str(public), str(keys), str(tmp_path / "dist"))
    try:
        proc = subprocess.run(
            ["unshare", "--user", "--map-user=65534", sys.executable, "-c", _REFUSED_WRITE, *arguments],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        (public / "metadata").chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    (refused,) = proc.stdout.strip().splitlines()
    assert refused.startswith(f"refused: {public / 'metadata'}/") and "Permission denied (EACCES)" in refused
    assert refused.endswith("nothing was changed: the repository is as it was")
    assert tree(public) == before  # the stored targets of 1.5.0 and the journal are gone again
    assert_consistent(public)
