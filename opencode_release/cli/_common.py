"""What every task shares: finding the project, turning errors into exits, JSON."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from invoke.exceptions import Exit
from rich.console import Console

from ..core import config
from ..core.errors import ReleaseError
from ..release.runner import RunReport, summary_table

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_PROJECTS = ("product/pyproject.toml", "pyproject.toml")


def project_file(project: str | None) -> Path:
    """--project DIR|FILE, else $OPENCODE_RELEASE_PROJECT, else ./product, else ./pyproject.toml."""
    chosen = project or os.environ.get("OPENCODE_RELEASE_PROJECT")
    if chosen:
        path = Path(chosen)
        return path / "pyproject.toml" if path.is_dir() else path
    for candidate in DEFAULT_PROJECTS:
        path = Path(candidate)
        if path.is_file() and "opencode-release" in path.read_text(encoding="utf-8"):
            return path
    return Path(DEFAULT_PROJECTS[0])


def settings(project: str | None) -> config.Settings:
    return config.load(project_file(project))


def handles_errors(task: Callable[P, R]) -> Callable[P, R]:
    """One line on stderr and the error's exit code, instead of a traceback."""

    @functools.wraps(task)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return task(*args, **kwargs)
        except ReleaseError as exc:
            raise Exit(f"error: {exc}", code=exc.exit_code) from None

    return wrapper


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def finish(report: RunReport, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        emit_json({**report.to_json(), **(extra or {})})
        return
    console = Console(stderr=True)
    console.print(summary_table(report))
    for key, value in (extra or {}).items():
        console.print(f"{key}: {value}")
