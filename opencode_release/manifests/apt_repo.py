"""An apt repository: pool, per-suite Packages indexes, and the Release file.

Layout (Debian's): `pool/main/<p>/<package>/<file>.deb`,
`dists/<suite>/main/binary-<arch>/Packages{,.gz,.xz}`, `dists/<suite>/Release`
with SHA256 and SHA512 of every index. Digests of packages come from the
caller (the ledger recorded them when the .deb was made); packages already in
a suite's Packages are kept from that file as they are, checked only by size,
so adding one package costs one stanza, not a re-hash of the pool.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import lzma
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..core import names
from ..core.errors import CheckFailed

COMPONENT = "main"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """One package in the pool, with the digests its maker recorded."""

    filename: str  # relative to the repository root: pool/main/…
    size: int
    sha256: str
    sha512: str
    control: Mapping[str, str]

    @property
    def architecture(self) -> str:
        return self.control["Architecture"]

    def stanza(self) -> str:
        fields = dict(self.control)
        description = fields.pop("Description", None)
        lines = [f"{k}: {v}\n" for k, v in fields.items()]
        lines.append(f"Filename: {self.filename}\nSize: {self.size}\nSHA256: {self.sha256}\nSHA512: {self.sha512}\n")
        if description is not None:
            lines.append(f"Description: {description}\n")
        return "".join(lines)


@dataclass(frozen=True, slots=True)
class SuiteInfo:
    suite: str
    architectures: tuple[str, ...]
    origin: str
    label: str
    description: str
    epoch: int  # the Release file's Date
    valid_until: int | None = None  # Valid-Until (epoch seconds): apt refuses the Release after it


@dataclass
class IndexResult:
    suite: str
    written: list[Path] = field(default_factory=list)
    packages: int = 0
    reused: int = 0  # stanzas kept from the existing index, not re-hashed
    hashed: int = 0  # packages this run had to read because nobody recorded their digests


def hash_pool_file(root: Path, filename: str) -> tuple[int, str, str]:
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    size = 0
    with (root / filename).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            sha512.update(chunk)
            size += len(chunk)
    return size, sha256.hexdigest(), sha512.hexdigest()


def _parse_stanzas(text: str) -> list[str]:
    return [block.strip("\n") + "\n" for block in text.split("\n\n") if block.strip()]


def _stanza_field(stanza: str, name: str) -> str | None:
    text = "\n" + stanza
    start = text.find(f"\n{name}: ")
    if start < 0:
        return None
    start += len(name) + 3
    end = text.find("\n", start)
    return text[start : end if end >= 0 else None]


def _existing(root: Path, packages: Path) -> dict[str, str]:
    """Stanzas of an existing index whose pool file is still there with the recorded size."""
    try:
        text = packages.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    kept: dict[str, str] = {}
    prefix = f"{root}/"
    for stanza in _parse_stanzas(text):
        filename, size = _stanza_field(stanza, "Filename"), _stanza_field(stanza, "Size")
        if filename is None or size is None:
            raise CheckFailed(f"{packages}: a stanza has no Filename or Size; remove the file to rebuild the index")
        try:
            # A stat, not a read: the digests were recorded when the package was indexed.
            if os.stat(prefix + filename).st_size == int(size):  # noqa: PTH116 - no Path per package
                kept[filename] = stanza
        except FileNotFoundError:
            continue
    return kept


def index_suite(root: Path, info: SuiteInfo, entries: Iterable[PoolEntry | str]) -> IndexResult:
    """Add `entries` (a PoolEntry with digests, or a bare pool path to hash) to the suite.

    Writes the Packages files of every architecture and the unsigned Release;
    `sign_release` adds InRelease and Release.gpg.
    """
    result = IndexResult(info.suite)
    suite_dir = root / "dists" / info.suite
    new: dict[str, dict[str, str]] = {arch: {} for arch in info.architectures}
    for entry in entries:
        if isinstance(entry, str):
            entry = _entry_from_file(root, entry)
            result.hashed += 1
        if entry.architecture not in new:
            raise CheckFailed(
                f"{entry.filename}: architecture {entry.architecture} is not one of the suite "
                f"{info.suite}'s ({', '.join(info.architectures)})"
            )
        new[entry.architecture][entry.filename] = entry.stanza()
    indexes: dict[str, bytes] = {}
    for arch in info.architectures:
        packages_path = suite_dir / COMPONENT / f"binary-{arch}" / "Packages"
        stanzas = _existing(root, packages_path)
        result.reused += len(set(stanzas) - set(new[arch]))
        stanzas.update(new[arch])
        result.packages += len(stanzas)
        text = "\n".join(stanzas[name] for name in sorted(stanzas))
        indexes[f"{COMPONENT}/binary-{arch}/Packages"] = text.encode()
    files = _compressed(indexes)
    for relative, data in files.items():
        path = suite_dir / relative
        _replace(path, data)
        result.written.append(path)
    release = suite_dir / "Release"
    _replace(release, release_text(info, files).encode())
    result.written.append(release)
    return result


def _replace(path: Path, data: bytes) -> None:
    """Temp file and rename, without fsync: a reader never sees half a file, and a file torn
    by a crash fails its ledger digest, so the stage reruns (the ledger itself is fsynced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _entry_from_file(root: Path, filename: str) -> PoolEntry:
    import tarfile

    from .deb import control_from_deb

    size, sha256, sha512 = hash_pool_file(root, filename)
    try:
        control = control_from_deb(root / filename)
    except (OSError, ValueError, tarfile.TarError) as exc:
        raise CheckFailed(f"{root / filename}: not a readable .deb: {exc}") from exc
    return PoolEntry(filename, size, sha256, sha512, control)


def _compressed(indexes: Mapping[str, bytes]) -> dict[str, bytes]:
    """Each index plain, .gz and .xz; zlib and lzma release the GIL, so both cores work.

    An index is mostly hex digests, which compress poorly at any level: xz preset 0
    is 8x faster than preset 6 for about 20% more bytes, and gzip 6 matches 9.
    """
    out: dict[str, bytes] = {}
    with ThreadPoolExecutor(2) as pool:
        jobs = {}
        for name, data in indexes.items():
            out[name] = data
            jobs[name + ".xz"] = pool.submit(lzma.compress, data, preset=0)
            jobs[name + ".gz"] = pool.submit(gzip.compress, data, 6, mtime=0)
        for name, job in jobs.items():
            out[name] = job.result()
    return dict(sorted(out.items()))


def release_text(info: SuiteInfo, files: Mapping[str, bytes]) -> str:
    date = email.utils.formatdate(info.epoch, usegmt=True)
    head = (
        f"Origin: {info.origin}\nLabel: {info.label}\nSuite: {info.suite}\nCodename: {info.suite}\n"
        f"Date: {date}\n"
        + (f"Valid-Until: {email.utils.formatdate(info.valid_until, usegmt=True)}\n" if info.valid_until else "")
        + f"Architectures: {' '.join(info.architectures)}\nComponents: {COMPONENT}\n"
        f"Description: {info.description}\n"
    )
    width = max((len(str(len(d))) for d in files.values()), default=1)
    sections = []
    for title, algorithm in (("SHA256", hashlib.sha256), ("SHA512", hashlib.sha512)):
        lines = [f" {algorithm(d).hexdigest()} {len(d):>{width}} {name}" for name, d in files.items()]
        sections.append(f"{title}:\n" + "\n".join(lines) + "\n")
    return head + "".join(sections)


def revalidated(release: bytes, now: int, valid_until: int) -> bytes:
    """The Release dated `now` and valid until `valid_until` (epoch seconds); everything else as it was.

    The channel refresh re-signs a suite with it: the indexes and their digests do not change,
    only the window in which apt accepts the file (a replayed old one expires).
    """
    try:
        text = release.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckFailed("Release: not UTF-8 text; publish the suite again") from None
    head, sep, rest = text.partition("\nSHA256:")
    fields = [line for line in head.split("\n") if not line.startswith(("Date: ", "Valid-Until: "))]
    if not sep or not fields or not fields[0].startswith("Origin: "):
        raise CheckFailed("Release: not a Release file this pipeline wrote (no Origin, no SHA256 section)")
    at = next((i for i, line in enumerate(fields) if line.startswith("Architectures: ")), len(fields))
    fields[at:at] = [
        f"Date: {email.utils.formatdate(now, usegmt=True)}",
        f"Valid-Until: {email.utils.formatdate(valid_until, usegmt=True)}",
    ]
    return ("\n".join(fields) + sep + rest).encode("utf-8")


def suite_for(channel: str, version_line: str) -> str:
    """The apt suite a channel publishes to: stable, lts-<major.minor>, nightly, snapshot."""
    suite = names.apt_suite(f"lts/{version_line}" if channel == "lts" else channel)
    if suite is None:
        raise CheckFailed(f"channel {channel!r} has no apt suite; expected stable, lts, nightly or snapshot")
    return suite
