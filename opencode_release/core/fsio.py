"""Durable writes: atomic replacement of one file, and several such writes at once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Temp file in the same folder, fsync, rename: readers see old or new, never half.

    Release files are public, so the default mode is 0644 (mkstemp's 0600 would
    make a served repository unreadable); keys pass mode=0o600, set before any
    byte is written so a secret is never readable by others, even briefly.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# Durable writes in flight at once. Each is as durable as alone (fsync of the file and its folder
# before it returns), but a filesystem's journal commits concurrent fsyncs together and an
# object store takes PUTs in parallel: 4 cut the time of a release's ~150 writes to a third.
WRITERS = 4
_T = TypeVar("_T")
_R = TypeVar("_R")


def concurrently(function: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """`function` of each item, WRITERS at a time; results in order. When one fails, the
    others still finish (what they wrote is named by no record yet) and its error is raised."""
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="writer") as pool:
        return list(pool.map(function, items))
