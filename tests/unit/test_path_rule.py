"""The one path rule (core/fsio.py): every path that comes from data passes it or is refused."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from opencode_release.channels.channel_index import ReleaseEntry
from opencode_release.channels.storage import ChannelError, FileStorage
from opencode_release.core.errors import UnsafePathError, UsageError
from opencode_release.core.fsio import check_relative, inside
from opencode_release.core.ledger import Artifact, ArtifactKind, Ledger, Source
from opencode_release.release import merge

SOURCE = Source("https://example.org/repo", "a" * 40, "refs/tags/v1.4.0", 1767225600)

ACCEPTED = [
    "a",
    "a/b.txt",
    "manifests/apt/pool/main/o/opencode/opencode_1.4.0_amd64.deb",
    "..a",
    "a..b",
    ".hidden",
    "a b/ç",
]
REFUSED = {
    "": "empty",
    "/etc/passwd": "absolute",
    "C:/Windows": "absolute",
    "c:x": "absolute",
    "a\\b": "backslash",
    "../x": "'..'",
    "a/../../x": "'..'",
    "a/..": "'..'",
    "./a": "not normalised",
    "a//b": "not normalised",
    "a/": "not normalised",
    "a/./b": "not normalised",
    "a\x00b": "control",
    "a\nb": "control",
    "a\x1bb": "control",
    "a\x7f": "control",
    "x" * 256: "longer than 255",
    "/".join(["abc"] * 1200): "longer than 4096",
}


@pytest.mark.parametrize("path", ACCEPTED)
def test_accepts_relative_normalised_paths(path: str) -> None:
    assert check_relative(path, source="ledger.json") == path


@pytest.mark.parametrize(("path", "why"), REFUSED.items())
def test_refuses_with_one_line_naming_the_source_and_the_path(path: str, why: str) -> None:
    with pytest.raises(UnsafePathError) as caught:
        check_relative(path, source="dist/1.4.0/release-manifest.json: artifact binary:x")
    message = str(caught.value)
    assert message.startswith("dist/1.4.0/release-manifest.json: artifact binary:x: refused path ")
    assert repr(path)[:60] in message and why in message
    assert "\n" not in message and "\x00" not in message
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2


def test_refuses_what_is_not_a_string() -> None:
    for value in (None, 3, ["a"], b"a"):
        with pytest.raises(UnsafePathError, match="not a string"):
            check_relative(value, source="s")


def test_inside_refuses_a_symlink_on_the_way(tmp_path: Path) -> None:
    root = tmp_path / "release"
    (root / "real").mkdir(parents=True)
    (root / "real" / "f").write_text("x")
    assert inside(root, "real/f", source="s") == root / "real" / "f"
    assert inside(root, "not/yet/there", source="s") == root / "not/yet/there"
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    os.symlink(tmp_path / "secret", root / "file-link")
    for path in ("link/f", "link", "file-link"):
        with pytest.raises(UnsafePathError, match="symlink"):
            inside(root, path, source="s")


def test_a_root_behind_a_symlink_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert inside(tmp_path / "alias", "f", source="s") == tmp_path / "alias" / "f"


# -- the doors the rule closes (each input is one that got through before) -------------------------


def _tamper(ledger: Ledger, path: str) -> Path:
    """The saved ledger with its first artifact's path replaced, as a hostile writer would."""
    data = json.loads(ledger.path.read_text())
    data["artifacts"][0]["path"] = path
    ledger.path.write_text(json.dumps(data))
    return ledger.path


def _one_file_ledger(root: Path, name: str = "opencode-1.4.0-linux-x86_64-gnu.tar.gz") -> Ledger:
    ledger = Ledger(root, product="opencode", version="1.4.0", channel="stable", source=SOURCE)
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(b"payload")
    ledger.record(root / name, ArtifactKind.ARCHIVE, target="linux-x86_64-gnu")
    ledger.save()
    return ledger


@pytest.mark.parametrize("path", ["../../../../../../../../tmp/EVIL", "/etc/passwd", "a/../../x", "a\nb"])
def test_a_ledger_whose_path_leaves_the_release_folder_does_not_load(tmp_path: Path, path: str) -> None:
    manifest = _tamper(_one_file_ledger(tmp_path / "dist" / "1.4.0"), path)
    with pytest.raises(UnsafePathError) as caught:
        Ledger.load(manifest)
    assert str(caught.value).startswith(f"{manifest}: artifact 'archive:opencode-1.4.0-linux-x86_64-gnu.tar.gz': ")


def test_a_ledger_file_reached_through_a_symlink_is_refused(tmp_path: Path) -> None:
    ledger = _one_file_ledger(tmp_path / "dist" / "1.4.0")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_bytes(b"x")
    os.symlink(tmp_path / "elsewhere", ledger.root / "sub")
    ledger.add(Artifact("archive:sub/f", "archive", "sub/f", None, 1, "0" * 64))
    with pytest.raises(UnsafePathError, match="symlink"):
        ledger.file(ledger.get("archive:sub/f"))


def test_a_partial_ledger_cannot_copy_outside_the_release_folder(tmp_path: Path) -> None:
    """A compromised build job's partial ledger names ../../tasks.py: refused, nothing copied."""
    release = Ledger(
        tmp_path / "project" / "dist" / "1.4.0", product="opencode", version="1.4.0", channel="stable", source=SOURCE
    )
    job = tmp_path / "ci" / "incoming" / "job1"
    job.mkdir(parents=True)
    payload = b"print('owned')\n"
    (tmp_path / "ci" / "tasks.py").write_bytes(payload)  # where ../../tasks.py points from the job's folder
    partial = Ledger(job, product="opencode", version="1.4.0", channel="stable", source=SOURCE)
    partial.add(
        Artifact(
            "binary:x", "binary", "../tasks.py", "linux-x86_64-gnu", len(payload), hashlib.sha256(payload).hexdigest()
        )
    )
    partial.save()
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(
        UnsafePathError, match=r"release-manifest\.json: artifact 'binary:x': refused path '\.\./tasks\.py'"
    ):
        merge.merge(release, merge.find_partials(tmp_path / "ci" / "incoming"))
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_a_partial_ledger_behind_a_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = _one_file_ledger(tmp_path / "elsewhere")
    incoming = tmp_path / "incoming"
    (incoming / "job1").mkdir(parents=True)
    os.symlink(elsewhere.path, incoming / "job1" / "release-manifest.json")
    with pytest.raises(UnsafePathError, match="symlink"):
        merge.find_partials(incoming)


def test_a_ci_signature_that_is_a_symlink_is_not_imported(tmp_path: Path) -> None:
    ledger = _one_file_ledger(tmp_path / "dist" / "1.4.0")
    signed = tmp_path / "signed"
    signed.mkdir()
    (tmp_path / "secret").write_text("root:x:0:0")
    os.symlink(tmp_path / "secret", signed / "opencode-1.4.0-linux-x86_64-gnu.tar.gz.sigstore.json")
    with pytest.raises(UnsafePathError, match="symlink"):
        merge.import_signatures(ledger, signed)
    assert not (ledger.root / "opencode-1.4.0-linux-x86_64-gnu.tar.gz.sigstore.json").exists()


@pytest.mark.parametrize("key", ["../outside", "targets/../../outside", "/tmp/outside", "targets/a\x00b"])
def test_storage_keys_follow_the_rule_for_read_write_and_delete(tmp_path: Path, key: str) -> None:
    storage = FileStorage(tmp_path / "public")
    (tmp_path / "outside").write_text("keep me")
    refused = re.escape(f"{tmp_path / 'public'}: refused path")
    with pytest.raises(UnsafePathError, match=refused):
        storage.read(key)
    with pytest.raises(UnsafePathError, match=refused):
        storage.write(key, b"x")
    with pytest.raises(UnsafePathError, match=refused):
        storage.delete(key)
    assert (tmp_path / "outside").read_text() == "keep me"


def test_a_release_record_naming_a_file_outside_targets_is_refused() -> None:
    file = {
        "id": "a",
        "kind": "archive",
        "path": "stable/1.4.0/a",
        "url": "../../../etc/passwd",
        "size": 1,
        "sha256": "0",
        "target": None,
        "payload": True,
    }
    record = {
        "version": "1.4.0",
        "date": "2026-01-01",
        "published": "2026-01-02T00:00:00+00:00",
        "commit": "c" * 40,
        "files": [file],
        "yanked": False,
        "yanked_reason": "",
        "pruned": False,
    }
    with pytest.raises(UnsafePathError, match=re.escape("public/stable/1.4.0/release.json: file 'a': refused path")):
        ReleaseEntry.from_record(record, "public/stable/1.4.0/release.json")
    file["url"] = "stable/1.4.0/index.json"  # inside, but not a stored target
    with pytest.raises(ChannelError, match="is not under targets/"):
        ReleaseEntry.from_record(record, "r")
