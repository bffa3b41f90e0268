"""Where the source comes from: repository, commit, ref, SOURCE_DATE_EPOCH."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..core.ledger import Source

# Outside git (a source tarball), a fixed epoch keeps builds reproducible.
FALLBACK_EPOCH = 1767225600  # 2026-01-01T00:00:00Z
NO_COMMIT = "0" * 40


def _git(cwd: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
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


def dirty_files(project_dir: Path) -> list[str]:
    out = _git(project_dir, "status", "--porcelain", "--untracked-files=no")
    return [line[3:] for line in (out or "").splitlines()]


def tag_exists(project_dir: Path, tag: str) -> bool:
    return _git(project_dir, "rev-parse", "-q", "--verify", f"refs/tags/{tag}") is not None
