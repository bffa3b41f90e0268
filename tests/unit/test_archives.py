from __future__ import annotations

import gzip
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from opencode_release.build import archives


def _entries(folder: Path, mode: int) -> list[archives.Entry]:
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "opencode"
    binary.write_bytes(b"\x7fELF binary bytes" * 100)
    binary.chmod(mode)
    license_file = folder / "LICENSE"
    license_file.write_text("MIT\n")
    license_file.chmod(0o600)
    return [archives.Entry(license_file, "opencode-1.4.0/LICENSE"), archives.Entry(binary, "opencode-1.4.0/opencode")]


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_two_runs_from_different_folders_and_times_give_identical_bytes(tmp_path: Path, fmt: str) -> None:
    first = archives.make(fmt, _entries(tmp_path / "a", 0o700), tmp_path / f"one.{fmt}", 1767225600)
    entries = _entries(tmp_path / "elsewhere" / "b", 0o755)
    for entry in entries:
        entry.source.touch()  # a newer mtime must not leak in
    second = archives.make(fmt, list(reversed(entries)), tmp_path / f"two.{fmt}", 1767225600)
    assert first.read_bytes() == second.read_bytes()


def test_tar_metadata_is_normalised(tmp_path: Path) -> None:
    path = archives.make("tar.gz", _entries(tmp_path / "a", 0o700), tmp_path / "x.tar.gz", 1767225600)
    raw = path.read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # gzip MTIME field
    assert raw[3] & 0x08 == 0  # FNAME flag not set
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["opencode-1.4.0", "opencode-1.4.0/LICENSE", "opencode-1.4.0/opencode"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 1767225600)}
    assert {m.name: m.mode for m in members} == {
        "opencode-1.4.0": 0o755,
        "opencode-1.4.0/LICENSE": 0o644,
        "opencode-1.4.0/opencode": 0o755,
    }
    assert gzip.decompress(raw)  # a valid gzip stream
    listing = subprocess.run(["tar", "-tvzf", str(path)], capture_output=True, text=True, check=True).stdout
    assert "root" not in listing and "opencode-1.4.0/opencode" in listing


def test_zip_keeps_unix_modes_and_fixed_times(tmp_path: Path) -> None:
    path = archives.make("zip", _entries(tmp_path / "a", 0o700), tmp_path / "x.zip", 1767225600)
    with zipfile.ZipFile(path) as archive:
        infos = {i.filename: i for i in archive.infolist()}
    assert (infos["opencode-1.4.0/opencode"].external_attr >> 16) & 0o777 == 0o755
    assert (infos["opencode-1.4.0/LICENSE"].external_attr >> 16) & 0o777 == 0o644
    assert {i.date_time for i in infos.values()} == {(2026, 1, 1, 0, 0, 0)}


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown archive format 'rar'"):
        archives.make("rar", [], tmp_path / "x.rar", 0)
