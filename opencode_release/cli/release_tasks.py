"""Tasks of the release spine: build, package, release, plan, clean, test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from invoke.context import Context as InvokeContext
from invoke.tasks import task

from ..release import pipeline, session
from ..release.session import Request
from ._common import finish, handles_errors, settings

_HELP = {
    "project": "product folder or pyproject.toml (default: ./product)",
    "version": "release version (default: the product's version)",
    "dry_run": "show what would run; change nothing",
    "json": "print a JSON report on stdout",
    "target": "target to build (default: this machine's); repeatable",
    "snapshot": "a local snapshot: embedded defaults, floors warn instead of fail",
    "channel": "stable, lts or nightly",
    "all": "also remove the state folder (keys, local log)",
}


def _help(*names: str) -> dict[str, str]:
    return {name: _HELP[name] for name in names}


def _run(project: str | None, names: tuple[str, ...] | None, request: Request, as_json: bool) -> None:
    cfg = settings(project)
    stages = pipeline.release_stages() if names is None else pipeline.stages_named(names)
    ctx, report = session.run(cfg, stages, request)
    finish(report, as_json, {"release": str(ctx.dist_dir), "manifest": str(ctx.ledger.path)})


@task(help=_help("project", "version", "target", "dry_run", "json"), iterable=["target"])
@handles_errors
def build(
    c: InvokeContext,
    project: str | None = None,
    version: str | None = None,
    target: list[str] | None = None,
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """Compile, inspect and smoke-test the binary for this machine's target."""
    request = Request(version=version, targets=tuple(target or ()) or None, dry_run=dry_run, quiet=json)
    _run(project, pipeline.SUBSETS["build"], request, json)


@task(help=_help("project", "version", "dry_run", "json"))
@handles_errors
def package(
    c: InvokeContext, project: str | None = None, version: str | None = None, dry_run: bool = False, json: bool = False
) -> None:
    """Archive the built binaries deterministically and write the checksum files."""
    request = Request(version=version, targets=(), dry_run=dry_run, quiet=json)
    _run(project, pipeline.SUBSETS["package"], request, json)


@task(help=_help("project", "version", "snapshot", "channel", "dry_run", "json"))
@handles_errors
def release(
    c: InvokeContext,
    project: str | None = None,
    version: str | None = None,
    snapshot: bool = False,
    channel: str = "stable",
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """Run the whole pipeline: preflight, build, inspect, smoke, package, checksum, …"""
    request = Request(version=version, channel=channel, snapshot=snapshot, dry_run=dry_run, quiet=json)
    _run(project, None, request, json)


@task(help=_help("project", "version", "json"))
@handles_errors
def plan(c: InvokeContext, project: str | None = None, version: str | None = None, json: bool = False) -> None:
    """What `release` would run and what is already up to date; changes nothing."""
    request = Request(version=version, dry_run=True, quiet=json)
    _run(project, None, request, json)


@task(help=_help("project", "all", "dry_run"))
@handles_errors
def clean(c: InvokeContext, project: str | None = None, all: bool = False, dry_run: bool = False) -> None:
    """Remove the dist folder (and with --all the state folder)."""
    cfg = settings(project)
    paths = [cfg.path(cfg.dist_dir)] + ([cfg.path(cfg.state_dir)] if all else [])
    for path in paths:
        if path.exists():
            print(f"{'would remove' if dry_run else 'removing'} {path}")
            if not dry_run:
                shutil.rmtree(path)


@task(help={"fast": "unit tests only (skip integration tests)", "pytest_args": "extra pytest arguments"})
def test(c: InvokeContext, fast: bool = False, pytest_args: str = "") -> None:
    """Lint (ruff), type-check (mypy strict) and run the test suite."""
    python = sys.executable  # the tools of this environment, activated or not
    c.run(f"{python} -m ruff check .", echo=True, pty=False)
    c.run(f"{python} -m ruff format --check .", echo=True, pty=False)
    c.run(f"{python} -m mypy", echo=True, pty=False)
    # The committed CI workflows must be what the configuration generates.
    c.run(f"{Path(python).parent / 'opencode-release'} ci --check", echo=True, pty=False)
    marker = '-m "not integration"' if fast else ""
    c.run(f"{python} -m pytest -n 2 {marker} {pytest_args}", echo=True, pty=False)
