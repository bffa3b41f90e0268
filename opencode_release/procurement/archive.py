"""The packet's manifest (every file with its sha256) and its deterministic zip.

The zip's bytes depend only on the files: entries in sorted order under one
`<quarter>/` folder, a fixed date (1980-01-01, the zip epoch), fixed modes, one
compression level; so the same packet gives the same zip, and its digest can be
compared across machines.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..core.names import BUNDLE_SUFFIX, PACKET_MANIFEST_NAME, PACKET_SCHEMA
from . import evidence
from .packet import write_json

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def packet_files(folder: Path) -> list[str]:
    """Every file of the packet (posix paths, sorted), without the manifest and its bundle."""
    skip = {PACKET_MANIFEST_NAME, PACKET_MANIFEST_NAME + BUNDLE_SUFFIX}
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in skip
    )


def write_manifest(folder: Path, quarter: str, product: str) -> Path:
    files = [
        {"path": name, "sha256": evidence.sha256(folder / name), "size": (folder / name).stat().st_size}
        for name in packet_files(folder)
    ]
    document: dict[str, Any] = {"schema": PACKET_SCHEMA, "quarter": quarter, "product": product, "files": files}
    path = folder / PACKET_MANIFEST_NAME
    write_json(path, document)
    return path


def write_zip(folder: Path, dest: Path) -> Path:
    """The packet folder (with its manifest) as a deterministic zip at `dest`."""
    names = [*packet_files(folder), PACKET_MANIFEST_NAME]
    partial = dest.with_name(dest.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(names):
            info = zipfile.ZipInfo(f"{folder.name}/{name}", date_time=_ZIP_DATE)
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (folder / name).read_bytes(), compresslevel=9)
    partial.replace(dest)
    return dest
