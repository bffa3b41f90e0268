"""Deterministic archives: same inputs, same bytes.

Entries sorted; every mtime is SOURCE_DATE_EPOCH; owner 0/0 with empty names;
modes normalised to 0755 (executables, folders) or 0644; the gzip header has
no file name and a zero time, and the compression level is fixed.
"""

from __future__ import annotations

import io
import stat
import tarfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.formats import gzip_bytes
from ..core.fsio import write_atomic

_ZIP_MIN_TIME = 315532800  # 1980-01-01: zip cannot store earlier times


@dataclass(frozen=True, slots=True)
class Entry:
    """A file to archive: where it is now, and its name inside the archive."""

    source: Path
    name: str

    @property
    def executable(self) -> bool:
        return bool(self.source.stat().st_mode & stat.S_IXUSR)


def _mode(entry: Entry) -> int:
    return 0o755 if entry.executable else 0o644


def _folders(entries: Sequence[Entry]) -> list[str]:
    folders: set[str] = set()
    for entry in entries:
        parts = entry.name.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(folders)


def tar_gz(entries: Sequence[Entry], dest: Path, epoch: int) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in _folders(entries):
            info = tarfile.TarInfo(folder + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, epoch
            tar.addfile(info)
        for entry in sorted(entries, key=lambda e: e.name):
            info = tarfile.TarInfo(entry.name)
            info.size, info.mode, info.mtime = entry.source.stat().st_size, _mode(entry), epoch
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with entry.source.open("rb") as handle:
                tar.addfile(info, handle)
    write_atomic(dest, gzip_bytes(raw.getvalue()))
    return dest


def zip_archive(entries: Sequence[Entry], dest: Path, epoch: int) -> Path:
    stamp = time.gmtime(max(epoch, _ZIP_MIN_TIME))[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for folder in _folders(entries):
            info = zipfile.ZipInfo(folder + "/", date_time=stamp)
            info.external_attr = (0o40755 << 16) | 0x10
            info.create_system = 3  # unix, so the modes are honoured
            archive.writestr(info, b"")
        for entry in sorted(entries, key=lambda e: e.name):
            info = zipfile.ZipInfo(entry.name, date_time=stamp)
            info.external_attr = (stat.S_IFREG | _mode(entry)) << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entry.source.read_bytes(), compresslevel=9)
    write_atomic(dest, buffer.getvalue())
    return dest


def make(fmt: str, entries: Sequence[Entry], dest: Path, epoch: int) -> Path:
    if fmt == "tar.gz":
        return tar_gz(entries, dest, epoch)
    if fmt == "zip":
        return zip_archive(entries, dest, epoch)
    raise ValueError(f"unknown archive format {fmt!r}")


def ensure_executable(path: Path) -> None:
    # Release binaries are meant to be run by anyone who unpacks them.
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
