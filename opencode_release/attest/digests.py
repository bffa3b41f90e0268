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

CHUNK = 4 << 20
# The release's deliverables; evidence about them (SBOMs, signatures, …) is
# bound to these digests by its own statements, not listed in the sums.


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
