"""The C library an image target's build job carries to the image stage, from its own runner.

CI's Linux binaries are dynamic (musllinux and manylinux link a loader), so their images carry a C
library. The merge job that builds the images runs on an amd64 runner, which has no arm64 package to
take; each image target's build job does, on its native runner. `opencode-release carry-libc` there
takes `images.libc-package` as that runner's dpkg installed it (the same reading as `_libc.host_libc`)
and records each shared object in the partial ledger, as `image-libc/<target>/<path in the image>` with
the package's name, version, architecture and vendor. The merge imports them with the binary, and the
image stage prefers them to the merge runner's own packages.

They arrive from another job, so they are read as hostile: each file's digest is the ledger's, each
path is a shared object in a library folder, every file names the same package (the configured one)
of the image's architecture, and the files hold the binary's interpreter and libraries.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.config import Settings
from ..core.config_images import platform_of
from ..core.errors import LedgerError, StageError
from ..core.fsio import write_atomic
from ..core.ledger import Artifact, ArtifactKind, Ledger
from . import _libc
from .layout import RootFile

FOLDER = "image-libc"
_FIELDS = ("package", "version", "architecture", "vendor")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+~:_-]{0,127}")
MAX_BYTES = 256 << 20  # a C library is a few MB; what a partial ledger claims beyond this is not read


def carry(settings: Settings, ledger: Ledger, target: str) -> list[Artifact]:
    """Record this runner's images.libc-package for the image of `target`'s binary; [] for a static one."""
    try:
        _, architecture = platform_of(target)
    except ValueError as exc:
        raise StageError(f"carry-libc --target {target}: {exc}") from None
    package = settings.images.libc_package
    if not package:
        raise StageError(f"{settings.source_file}: images.libc-package is empty; there is no C library to carry")
    binaries = ledger.by_kind(ArtifactKind.BINARY, target=target)
    if len(binaries) != 1:
        raise StageError(f"{ledger.path}: no binary of {target} to carry a C library for; build it first")
    facts = binaries[0].facts.get("inspection")
    if not isinstance(facts, dict) or "static" not in facts:
        raise StageError(f"{binaries[0].path}: no inspection facts (static, interpreter); run the inspect stage first")
    if facts.get("static"):
        return []
    libc = _libc.host_libc(package, architecture, facts.get("interpreter"), list(facts.get("needed", [])))
    described = {field: getattr(libc, field) for field in _FIELDS}
    recorded = []
    for file in libc.files:
        dest = ledger.root / FOLDER / target / file.path.lstrip("/")
        write_atomic(dest, file.data)
        recorded.append(
            ledger.record(dest, ArtifactKind.IMAGE_LIBC, target=target, facts={"path": file.path, **described})
        )
    ledger.save()
    return recorded


def carried(ledger: Ledger, target: str, package: str) -> _libc.Libc | None:
    """The C library carried for `target`, checked; None when none was."""
    found = ledger.by_kind(ArtifactKind.IMAGE_LIBC, target=target)
    if not found:
        return None
    _, architecture = platform_of(target)
    if sum(a.size for a in found) > MAX_BYTES:
        raise StageError(f"{ledger.path}: the C library carried for {target} is over {MAX_BYTES >> 20} MiB")
    files: list[RootFile] = []
    described: dict[str, Any] | None = None
    for artifact in sorted(found, key=lambda a: str(a.facts.get("path"))):
        where = f"{ledger.path}: {artifact.id}"
        path = artifact.facts.get("path")
        if not isinstance(path, str) or not _libc.is_library(path):
            raise StageError(f"{where}: path {path!r} is not a shared object in a library folder; build it again")
        if artifact.path != f"{FOLDER}/{target}{path}":  # one file per path in the image, as carry() lays them out
            raise StageError(
                f"{where}: is the file for {path} in the image, which carry-libc keeps at {FOLDER}/{target}{path}"
            )
        these = {field: artifact.facts.get(field) for field in _FIELDS}
        if not all(isinstance(v, str) and _WORD.fullmatch(v) for v in these.values()):
            raise StageError(f"{where}: its package, version, architecture and vendor are not all plain names")
        if described is not None and these != described:
            raise StageError(f"{where}: names {these}, another file of the same C library names {described}")
        described = these
        if not ledger.verify_file(artifact):
            raise LedgerError(f"{ledger.file(artifact)}: missing or changed since it was recorded; carry it again")
        files.append(RootFile(path, ledger.file(artifact).read_bytes(), 0o755))
    assert described is not None
    if described["package"] != package or described["architecture"] != architecture:
        raise StageError(
            f"{ledger.path}: the C library carried for {target} is {described['package']} for "
            f"{described['architecture']}; the image needs images.libc-package {package} for {architecture}"
        )
    return _libc.Libc(package, described["version"], architecture, tuple(files), described["vendor"])
