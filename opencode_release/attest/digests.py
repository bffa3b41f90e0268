"""Digests: sha256 and sha512 from one read, in flat memory; SHA256SUMS files.

hashlib releases the GIL while it hashes a large buffer, so sha512 (the slower,
with no hardware help) runs on a second thread over the same buffer while this
thread hashes sha256 and reads the next chunk into the other buffer. Memory is
two chunk buffers, whatever the file size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import Artifact, ArtifactKind, write_atomic
from ..errors import LedgerError
from ..stage import Context, Stage

CHUNK = 4 << 20
# The release's deliverables; evidence about them (SBOMs, signatures, …) is
# bound to these digests by its own statements, not listed in the sums.
SUMMED_KINDS = (ArtifactKind.ARCHIVE, ArtifactKind.DEB, ArtifactKind.WHEEL, ArtifactKind.SDIST)


@dataclass(frozen=True, slots=True)
class Digests:
    size: int
    sha256: str
    sha512: str


def digest_file(path: Path, chunk: int = CHUNK) -> Digests:
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    buffers = (bytearray(chunk), bytearray(chunk))
    size = 0
    with path.open("rb", buffering=0) as handle, ThreadPoolExecutor(1) as pool:
        current = 0
        count = handle.readinto(buffers[current])
        while count:
            view = memoryview(buffers[current])[:count]
            pending = pool.submit(sha512.update, view)
            sha256.update(view)
            size += count
            # Read ahead into the other buffer while sha512 finishes this one.
            current ^= 1
            count = handle.readinto(buffers[current])
            pending.result()
            view.release()
    return Digests(size, sha256.hexdigest(), sha512.hexdigest())


def sums_text(entries: Iterable[tuple[str, str]]) -> str:
    """`<hex>  <name>` lines (two spaces: binary-safe text mode), as `sha256sum -c` reads."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(entries))


class ChecksumStage(Stage):
    name = "checksum"
    description = "SHA256SUMS and SHA512SUMS over the release's deliverables"
    consumes = SUMMED_KINDS

    def run(self, ctx: Context) -> None:
        summed: list[Artifact] = [a for a in ctx.ledger.artifacts if a.kind in SUMMED_KINDS]
        if not summed:
            ctx.reporter.note("nothing to checksum yet")
            return
        sha256: list[tuple[str, str]] = []
        sha512: list[tuple[str, str]] = []
        with ctx.reporter.progress("hashing", len(summed)) as bar:
            for artifact in summed:
                digests = digest_file(ctx.ledger.file(artifact))
                if digests.sha256 != artifact.sha256:
                    raise LedgerError(f"{artifact.path}: changed since it was recorded; rerun its stage")
                sha256.append((artifact.path, digests.sha256))
                sha512.append((artifact.path, digests.sha512))
                ctx.ledger.update_facts(artifact.id, {"sha512": digests.sha512})
                bar.advance()
        ids = [a.id for a in summed]
        for file_name, entries in (("SHA256SUMS", sha256), ("SHA512SUMS", sha512)):
            path = ctx.dist_dir / file_name
            write_atomic(path, sums_text(entries).encode())
            ctx.ledger.record(
                path, ArtifactKind.CHECKSUMS, relations={"checksum_of": ids}, facts={"algorithm": file_name[:6].lower()}
            )
