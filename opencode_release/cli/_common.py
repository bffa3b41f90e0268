"""What the release commands share: finding the product, running stages into an Outcome."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core import config, config_rules
from ..core.errors import ReleaseError, UsageError
from ..core.ledger import MANIFEST_NAME, Ledger
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


def existing_release(cfg: config.Settings, version: str | None) -> str:
    """The version of a release that exists (its ledger loads), checked before anything is written:
    the commands that continue a release (package, manifests, attest, upload-index) never start one."""
    chosen = version or cfg.version
    Ledger.load(session.release_dir(cfg, chosen) / MANIFEST_NAME)
    return chosen


def store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        metavar="filesystem|s3://BUCKET/PREFIX",
        help="the channel repository's store for this run (the generated CI jobs pass channels.ci-storage); "
        "default: channels.storage",
    )


def with_store(cfg: config.Settings, store: str | None) -> config.Settings:
    """The settings with channels.storage replaced by --store, checked as the configuration's value is."""
    if store is None:
        return cfg
    if store != "filesystem" and not re.fullmatch(config_rules.NAME_PATTERNS["channels.ci-storage"][0], store):
        raise UsageError(f"--store {store!r}: expected filesystem or s3://BUCKET/PREFIX (a bucket name of S3's rules)")
    return dataclasses.replace(cfg, channels=dataclasses.replace(cfg.channels, storage=store))


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
