"""What the release commands share: finding the product, running stages into an Outcome."""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core import config
from ..core.errors import ReleaseError
from ..core.stage import Stage
from ..release import session
from ..release.runner import RunReport, summary_table
from .command import Outcome, Output

DEFAULT_PROJECTS = ("pyproject.toml", "product/pyproject.toml")


def _has_table(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("tool", {}).get("opencode-release"), dict)


def project_file(project: str | None) -> Path:
    """--project DIR|FILE, else $OPENCODE_RELEASE_PROJECT, else ./pyproject.toml or ./product with the table."""
    chosen = project or os.environ.get("OPENCODE_RELEASE_PROJECT")
    if chosen:
        path = Path(chosen)
        return path / "pyproject.toml" if path.is_dir() else path
    for candidate in DEFAULT_PROJECTS:
        path = Path(candidate)
        if path.is_file() and _has_table(path):
            return path
    return Path(DEFAULT_PROJECTS[0])


def settings(args: argparse.Namespace) -> config.Settings:
    return config.load(project_file(getattr(args, "project", None)))


def show_report(report: RunReport, out: Output, extra: dict[str, Any]) -> None:
    if out.json:
        return
    out.console.print(summary_table(report))
    for key, value in extra.items():
        out.say(f"{key}: {value}")


def run_stages(
    cfg: config.Settings, stages: Sequence[Stage], request: session.Request, out: Output, **extra: Any
) -> Outcome:
    """Run stages; the report (so far, when a stage fails) is the JSON document."""
    report = RunReport()
    try:
        ctx, _ = session.run(cfg, stages, request, report=report)
    except ReleaseError as exc:
        show_report(report, out, {})
        return Outcome({**report.to_json(), **extra}, exc.exit_code, str(exc))
    extra = {"release": str(ctx.dist_dir), "ledger": str(ctx.ledger.path), **extra}
    show_report(report, out, extra)
    return Outcome({**report.to_json(), **extra})
