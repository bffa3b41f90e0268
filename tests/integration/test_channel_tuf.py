"""A real tuf.ngclient.Updater against the published repository, served on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]
from tuf.api.metadata import Metadata, Timestamp
from tuf.api.serialization.json import JSONSerializer

from opencode_release.channels import update_client
from opencode_release.channels.keys import Keyring
from opencode_release.channels.update_client import UpdateError
from tests.conftest import REPO
from tests.integration.channel_helpers import NOW, TARGET, make_ledger, repository, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """stable 1.4.0 then 1.5.0, published with keys in tmp_path/keys."""
    repo = repository(tmp_path / "public", tmp_path / "keys")
    repo.publish(make_ledger(tmp_path / "dist", "1.4.0", b"one" * 100), ["stable"])
    repo.publish(make_ledger(tmp_path / "dist", "1.5.0", b"two" * 100), ["stable"])
    return tmp_path / "public"


def _check(url: str, tmp_path: Path, public: Path) -> update_client.Update | None:
    return update_client.check(
        url, "stable", tmp_path / "cache", target=TARGET, trusted_root=public / "metadata/1.root.json"
    )


def _resign(public: Path, keys: Path, role: str, change: object = None, key: CryptoSigner | None = None) -> None:
    path = public / "metadata/timestamp.json"
    md: Metadata[Timestamp] = Metadata.from_bytes(path.read_bytes())
    if callable(change):
        change(md.signed)
    md.signed.version += 1
    md.signatures.clear()
    md.sign(key or Keyring(keys, generate=False).signer(role))
    path.write_bytes(md.to_bytes(JSONSerializer(compact=False)))


def test_layout_is_conventional(published: Path) -> None:
    names = sorted(p.name for p in (published / "metadata").iterdir())
    assert {"root.json", "1.root.json", "timestamp.json", "1.targets.json", "1.stable.json", "2.snapshot.json"} <= set(
        names
    )
    archive = next((published / "targets/stable/1.5.0").glob("*.opencode-1.5.0-linux-x86_64-gnu.tar.gz"))
    assert archive.name.split(".", 1)[0] == __import__("hashlib").sha256(b"two" * 100).hexdigest()
    index = json.loads((published / "stable/index.json").read_text())
    newest = index["releases"][0]
    assert (newest["version"], newest["date"], newest["yanked"]) == ("1.5.0", "2026-01-01", False)
    assert newest["downloads"][TARGET]["size"] == 300 and newest["evidence"]
    assert "1.5.0" in (published / "stable/index.html").read_text()


def test_updater_gets_the_newest_release(published: Path, tmp_path: Path) -> None:
    with serve(published) as url:
        update = _check(url, tmp_path, published)
    assert update is not None and update.version == "1.5.0"
    assert update.path.read_bytes() == b"two" * 100
    with serve(published) as url:
        root = published / "metadata/1.root.json"
        assert (
            update_client.check(url, "stable", tmp_path / "cache", target=TARGET, trusted_root=root, current="1.5.0")
            is None
        )


def test_update_check_command_and_yanked_release_is_skipped(published: Path, tmp_path: Path) -> None:
    repository(published, tmp_path / "keys").yank("1.5.0", "corrupts the config on upgrade")
    with serve(published) as url:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "invoke",
                "update-check",
                "--channel",
                "stable",
                "--repo",
                url,
                "--target",
                TARGET,
                "--root",
                str(published / "metadata/1.root.json"),
                "--cache",
                str(tmp_path / "c"),
                "--json",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    found = json.loads(proc.stdout)
    assert found["version"] == "1.4.0"
    assert found["skipped"] == ["1.5.0 (yanked: corrupts the config on upgrade)"]
    assert Path(found["path"]).read_bytes() == b"one" * 100


def test_rolled_back_timestamp_is_refused(published: Path, tmp_path: Path) -> None:
    old = (published / "metadata/timestamp.json").read_bytes()
    repository(published, tmp_path / "keys").publish(make_ledger(tmp_path / "dist", "1.6.0", b"3"), ["stable"])
    with serve(published) as url:
        assert _check(url, tmp_path, published).version == "1.6.0"  # type: ignore[union-attr]
        (published / "metadata/timestamp.json").write_bytes(old)
        with pytest.raises(UpdateError, match=r"BadVersionNumberError: .*New timestamp version 2 must be >= 3"):
            _check(url, tmp_path, published)


def test_rolled_back_snapshot_is_refused(published: Path, tmp_path: Path) -> None:
    with serve(published) as url:
        _check(url, tmp_path, published)

        def to_old_snapshot(signed: Timestamp) -> None:
            signed.snapshot_meta.version = 1

        _resign(published, tmp_path / "keys", "timestamp", to_old_snapshot)
        with pytest.raises(
            UpdateError, match=r"BadVersionNumberError: .*New snapshot version must be >= 2, got version 1"
        ):
            _check(url, tmp_path, published)


def test_expired_metadata_is_refused(tmp_path: Path) -> None:
    long_ago = NOW - dt.timedelta(days=30)  # timestamps live 7 days
    repository(tmp_path / "public", tmp_path / "keys", now=long_ago).publish(
        make_ledger(tmp_path / "dist", "1.4.0", b"x"), ["stable"]
    )
    with (
        serve(tmp_path / "public") as url,
        pytest.raises(UpdateError, match=r"ExpiredMetadataError: .*timestamp\.json is expired"),
    ):
        _check(url, tmp_path, tmp_path / "public")


def test_changed_target_bytes_are_refused(published: Path, tmp_path: Path) -> None:
    (archive,) = (published / "targets/stable/1.5.0").glob("*.tar.gz")
    archive.write_bytes(b"evil" * 75)  # same length, other bytes
    with serve(published) as url, pytest.raises(UpdateError, match=r"LengthOrHashMismatchError: .*hash"):
        _check(url, tmp_path, published)


def test_metadata_signed_by_the_wrong_key_is_refused(published: Path, tmp_path: Path) -> None:
    _resign(published, tmp_path / "keys", "timestamp", key=CryptoSigner.generate_ed25519())
    with (
        serve(published) as url,
        pytest.raises(UpdateError, match=r"UnsignedMetadataError: .*timestamp was signed by 0/1 keys"),
    ):
        _check(url, tmp_path, published)


def test_evidence_deep_in_the_release_folder_is_reachable_through_the_delegations(
    published: Path, tmp_path: Path
) -> None:
    from tuf.ngclient import Updater

    deep = "stable/1.5.0/manifests/winget/manifests/o/OpenCode/OpenCode/1.5.0/OpenCode.OpenCode.yaml"
    (tmp_path / "m").mkdir()
    with serve(published) as url:
        updater = Updater(
            str(tmp_path / "m"),
            f"{url}/metadata/",
            str(tmp_path),
            f"{url}/targets/",
            bootstrap=(published / "metadata/1.root.json").read_bytes(),
        )
        updater.refresh()
        info = updater.get_targetinfo(deep)
        assert info is not None
        assert Path(updater.download_target(info, str(tmp_path / "manifest.yaml"))).read_text() == "winget: 1.5.0\n"
