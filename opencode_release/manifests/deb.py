"""Deterministic Debian binary packages, written without dpkg-deb.

A .deb is an `ar` archive of `debian-binary`, `control.tar.gz` and
`data.tar.gz`. Building it here keeps it byte-identical for the same inputs:
every mtime is SOURCE_DATE_EPOCH, owners are root/root, modes are fixed,
members are sorted, gzip headers carry no name or clock. The package digests
(sha256, sha512) come out of the same bytes, so the apt index never reads the
file back.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import tarfile
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core import formats
from ..core.fsio import write_atomic

# One file the package installs: its absolute path in the system and content.
InstalledFile = tuple[str, bytes, bool]  # (path like "usr/bin/opencode", bytes, executable)

DEP5 = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """What the control file says about the package."""

    package: str
    version: str  # Debian version (Version.debian())
    architecture: str  # amd64 | arm64
    maintainer: str
    synopsis: str
    description: str
    section: str = "devel"
    homepage: str = ""
    depends: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.package}_{self.version}_{self.architecture}.deb"

    @property
    def pool_path(self) -> str:
        """Where Debian archives keep it: pool/<component>/<initial>/<package>/<file>."""
        return f"pool/main/{self.package[0]}/{self.package}/{self.file_name}"


@dataclass(frozen=True, slots=True)
class BuiltDeb:
    path: Path
    size: int
    sha256: str
    sha512: str
    # The control stanza's fields in order, as the Packages index repeats them.
    control: dict[str, str]


def control_fields(info: PackageInfo, installed_size_kib: int) -> dict[str, str]:
    fields = {
        "Package": info.package,
        "Version": info.version,
        "Architecture": info.architecture,
        "Maintainer": info.maintainer,
        "Installed-Size": str(installed_size_kib),
    }
    if info.depends:
        fields["Depends"] = info.depends
    fields.update(Section=info.section, Priority="optional")
    if info.homepage:
        fields["Homepage"] = info.homepage
    fields.update(info.extra)
    fields["Description"] = info.synopsis + "\n" + _description_body(info.description)
    return fields


def _description_body(text: str) -> str:
    # Extended description lines start with a space; an empty line is " .".
    lines: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        if lines:
            lines.append(" .")
        lines.extend(" " + line for line in textwrap.wrap(" ".join(paragraph.split()), 78))
    return "\n".join(lines)


def format_stanza(fields: Mapping[str, str]) -> str:
    return "".join(f"{key}: {value}\n" for key, value in fields.items())


def changelog(info: PackageInfo, distribution: str, epoch: int, entry: str) -> bytes:
    """A one-entry Debian changelog, dated by SOURCE_DATE_EPOCH."""
    date = email.utils.formatdate(epoch, usegmt=False).replace("-0000", "+0000")
    text = (
        f"{info.package} ({info.version}) {distribution}; urgency=medium\n\n"
        f"  * {entry}\n\n"
        f" -- {info.maintainer}  {date}\n"
    )
    return text.encode()


def copyright_file(info: PackageInfo, source: str, holder: str, license_name: str, license_text: str) -> bytes:
    """Machine-readable copyright (DEP-5) carrying the full license text."""
    body = "\n".join(f" {line}" if line.strip() else " ." for line in license_text.strip().splitlines())
    text = (
        f"Format: {DEP5}\nUpstream-Name: {info.package}\n"
        + (f"Source: {source}\n" if source else "")
        + f"\nFiles: *\nCopyright: {holder}\nLicense: {license_name}\n{body}\n"
    )
    return text.encode()


def _tar_gz(files: Sequence[InstalledFile], epoch: int, folders: bool) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:

        def add(name: str, data: bytes | None, mode: int) -> None:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.uid, info.gid = epoch, mode, 0, 0
            info.uname = info.gname = "root"
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        if folders:
            dirs = {"."}
            for path, _, _ in files:
                parts = path.split("/")[:-1]
                dirs.update("./" + "/".join(parts[: i + 1]) for i in range(len(parts)))
            for folder in sorted(dirs):
                add(folder + "/", None, 0o755)
        for path, data, executable in sorted(files):
            add(("./" if folders else "") + path, data, 0o755 if executable else 0o644)
    return formats.gzip_bytes(raw.getvalue())  # on both cores: the payload is megabytes


def _ar(members: Sequence[tuple[str, bytes]], epoch: int) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members:
        header = f"{name:<16}{epoch:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n"
        out.write(header.encode("ascii"))
        out.write(data)
        if len(data) % 2:
            out.write(b"\n")
    return out.getvalue()


def build(info: PackageInfo, files: Sequence[InstalledFile], dest: Path, epoch: int) -> BuiltDeb:
    """Write the .deb for `files` to `dest`; same inputs give the same bytes."""
    installed_kib = sum((len(data) + 1023) // 1024 for _, data, _ in files) + 4 * len(files)
    fields = control_fields(info, installed_kib)
    md5sums = "".join(f"{hashlib.md5(data).hexdigest()}  {path}\n" for path, data, _ in sorted(files))
    control_tar = _tar_gz(
        [("control", format_stanza(fields).encode(), False), ("md5sums", md5sums.encode(), False)],
        epoch,
        folders=False,
    )
    data_tar = _tar_gz(files, epoch, folders=True)
    package = _ar([("debian-binary", b"2.0\n"), ("control.tar.gz", control_tar), ("data.tar.gz", data_tar)], epoch)
    write_atomic(dest, package)
    return BuiltDeb(
        path=dest,
        size=len(package),
        sha256=hashlib.sha256(package).hexdigest(),
        sha512=hashlib.sha512(package).hexdigest(),
        control=fields,
    )


def control_from_deb(path: Path) -> dict[str, str]:
    """The control fields of a .deb (for packages nobody recorded): ar, then control.tar.*."""
    data = path.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive")
    offset = 8
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = data[offset + 60 : offset + 60 + size]
        if name.startswith("control.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                for member in tar.getmembers():
                    if member.name.lstrip("./") == "control":
                        handle = tar.extractfile(member)
                        if handle is not None:
                            return parse_stanza(handle.read().decode())
            raise ValueError("control.tar has no control file")
        offset += 60 + size + (size % 2)
    raise ValueError("no control.tar member")


def parse_stanza(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith((" ", "\t")) and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields
