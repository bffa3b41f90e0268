"""The files of a release folder, read as a distributor must: nothing followed, nothing trusted by name.

`safe_path` refuses a listed path that is absolute, climbs out with `..`, or
names anything but a regular file (symlinks, FIFOs and devices are never
opened: checked with lstat on every component). `folder_files` walks the
folder without following links and reports each entry that is not a regular
file or folder. `parse_json` refuses what a hostile file can do to a JSON
parser: nesting past the interpreter's recursion limit, numbers beyond a double, non-UTF-8 text, a size
beyond a bound.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from ..core.errors import VerificationError

MAX_JSON_BYTES = 64 << 20


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def safe_path(root: str, relative: str, name: str) -> str:
    """The on-disk path of a listed file, or a `path` refusal naming why."""
    if not relative or "\\" in relative or "\0" in relative:
        raise VerificationError(name, "path", f"{relative!r} is not a relative POSIX path")
    pure = PurePosixPath(relative)
    if pure.is_absolute():
        raise VerificationError(name, "path", f"{relative} is absolute; release paths are relative to the folder")
    if any(part in ("..", ".", "") for part in relative.split("/")):
        raise VerificationError(name, "path", f"{relative} leaves the release folder or is not normalised")
    current = root
    for index, part in enumerate(pure.parts):
        current = os.path.join(current, part)  # noqa: PTH118
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            reason = f"{relative} is listed in a signed statement but missing"
            raise VerificationError(name, "listed-file", reason) from None
        except OSError as exc:
            raise VerificationError(name, "path", f"{relative}: {exc.strerror}") from None
        last = index == len(pure.parts) - 1
        if (last and not stat.S_ISREG(mode)) or (not last and not stat.S_ISDIR(mode)):
            where = "/".join(pure.parts[: index + 1])
            raise VerificationError(name, "path", f"{where} is {_kind(mode)}; not followed or read")
    return current


def open_regular(path: str) -> int:
    """A file descriptor on a regular file, never through a symlink, never blocking on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(0, "not a regular file", path)
    return fd


def folder_files(root: str, skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, str | None]]:
    """(relative path, problem) for every entry under `root` (top-level names in `skip` left out);
    problem is None for a regular file, else what the entry is."""
    stack = [""]
    while stack:
        prefix = stack.pop()
        with os.scandir(os.path.join(root, prefix) if prefix else root) as entries:  # noqa: PTH118
            for entry in sorted(entries, key=lambda e: e.name):
                relative = f"{prefix}{entry.name}"
                if not prefix and entry.name in skip:
                    continue
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    stack.append(relative + "/")
                elif stat.S_ISREG(mode):
                    yield relative, None
                else:
                    yield relative, _kind(mode)


def _refuse_constant(value: str) -> Any:
    raise ValueError(f"{value} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:20]} is beyond a double")
    return value


def parse_json(raw: bytes, what: str) -> Any:
    """JSON of a file the release holds; ValueError with one line on anything hostile."""
    if len(raw) > MAX_JSON_BYTES:
        raise ValueError(f"{what} is {len(raw)} bytes, more than {MAX_JSON_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError(f"{what} nests too deep to be a release document") from None
    except ValueError as exc:
        raise ValueError(f"{what} is not JSON: {' '.join(str(exc).split())[:200]}") from None
