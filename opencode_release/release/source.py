"""Where the source comes from: repository, commit, ref, SOURCE_DATE_EPOCH."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..core.environment import minimal
from ..core.ledger import Source

# Outside git (a source tarball), a fixed epoch keeps builds reproducible.
FALLBACK_EPOCH = 1767225600  # 2026-01-01T00:00:00Z
NO_COMMIT = "0" * 40


def _git_bytes(cwd: Path, *args: str) -> bytes | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False, env=minimal())
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None


def _git(cwd: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=minimal())
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def describe(project_dir: Path, repository: str) -> Source:
    """Facts of the source tree; SOURCE_DATE_EPOCH from the environment wins."""
    commit = _git(project_dir, "rev-parse", "HEAD") or NO_COMMIT
    ref = (
        _git(project_dir, "describe", "--tags", "--exact-match")
        or _git(project_dir, "symbolic-ref", "-q", "HEAD")
        or ""
    )
    epoch_text = os.environ.get("SOURCE_DATE_EPOCH") or _git(project_dir, "log", "-1", "--format=%ct")
    epoch = int(epoch_text) if epoch_text and epoch_text.isdigit() else FALLBACK_EPOCH
    return Source(repository=repository, commit=commit, ref=ref, epoch=epoch)


@dataclass(frozen=True, slots=True)
class TreeState:
    """The working tree against HEAD, each path relative to the repository root, as git names it."""

    changed: tuple[str, ...] = ()  # tracked files modified, added, deleted, renamed
    untracked: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


def parse_porcelain(data: bytes) -> TreeState:
    """`git status --porcelain=v1 -z`: `XY name\\0` entries, a rename or copy followed by its old name.

    Never stripped or split on lines: a leading space is the X column (" M README.md"), and a
    name may hold spaces or newlines.
    """
    found: dict[str, list[str]] = {"changed": [], "untracked": [], "ignored": []}
    entries = data.split(b"\0")
    position = 0
    while position < len(entries):
        entry = entries[position]
        position += 1
        if not entry:
            continue
        if len(entry) < 4 or entry[2:3] != b" ":
            raise ValueError(f"unexpected git status entry {entry[:80]!r}")
        code, name = entry[:2].decode("ascii", "replace"), entry[3:].decode("utf-8", "backslashreplace")
        if code == "??":
            found["untracked"].append(name)
        elif code == "!!":
            found["ignored"].append(name)
        else:
            found["changed"].append(name)
            if "R" in code or "C" in code:
                position += 1  # the old name of a rename or copy
    return TreeState(*(tuple(found[k]) for k in ("changed", "untracked", "ignored")))


def tree_state(project_dir: Path) -> TreeState:
    """Changed, untracked and ignored files of the whole repository (empty outside git)."""
    out = _git_bytes(project_dir, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=traditional")
    return parse_porcelain(out) if out else TreeState()


def repository_root(project_dir: Path) -> Path | None:
    top = _git(project_dir, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def dirty_files(project_dir: Path) -> list[str]:
    """Tracked files with uncommitted changes, named correctly."""
    return list(tree_state(project_dir).changed)


def tag_exists(project_dir: Path, tag: str) -> bool:
    return _git(project_dir, "rev-parse", "-q", "--verify", f"refs/tags/{tag}") is not None


def has_commit(project_dir: Path, commit: str) -> bool:
    """Whether the repository holding `project_dir` has `commit` (a full object name) as a commit."""
    return _git(project_dir, "cat-file", "-e", f"{commit}^{{commit}}") is not None


def common_dir(project_dir: Path) -> Path | None:
    """The repository's object store folder: the same for every worktree of it."""
    found = _git(project_dir, "rev-parse", "--path-format=absolute", "--git-common-dir")
    return Path(found) if found else None
