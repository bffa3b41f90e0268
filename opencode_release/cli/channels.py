"""Tasks of the channels and the lifecycle: calendar, publish, yank, nightly, update-check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from invoke.context import Context as InvokeContext
from invoke.tasks import task
from rich.console import Console
from rich.table import Table
from tuf.api.exceptions import DownloadError, RepositoryError

from ..channels import channel_index, repository, update_client
from ..core.errors import UsageError, VerificationError
from ..core.fsio import write_atomic
from ..core.ledger import Ledger
from ..core.versions import Version
from ..lifecycle import calendar_svg
from ..lifecycle.calendar import build_calendar, nightly_version
from ..release import pipeline, session, source, stages
from ._common import emit_json, finish, handles_errors, settings

_HELP = {
    "project": "product folder or pyproject.toml (default: ./product)",
    "from": "first day of the calendar, YYYY-MM-DD (default: today, UTC)",
    "count": "how many upcoming stable dates",
    "svg": "also write the calendar as an SVG timeline to this file",
    "json": "print a JSON report on stdout",
}


def _date(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--from {text!r}: expected a date YYYY-MM-DD") from None


@task(help=_HELP, name="calendar")
@handles_errors
def calendar(
    c: InvokeContext,
    project: str | None = None,
    from_: str | None = None,
    count: int = 8,
    svg: str | None = None,
    json: bool = False,
) -> None:
    """Upcoming stable dates, LTS lines with their support windows, lines past end of life."""
    if count <= 0:
        raise UsageError(f"--count {count}: expected a positive number of stable dates")
    cfg = settings(project)
    start = _date(from_)
    storage = repository.channel_storage(cfg)
    stables = channel_index.release_dates(channel_index.read_index(storage, "stable"))
    cal = build_calendar(cfg.lifecycle, start, count, stables)
    if svg:
        write_atomic(Path(svg), calendar_svg.render(cal, f"{cfg.name} release calendar from {start}").encode())
    if json:
        emit_json({**cal.to_json(), **({"svg": svg} if svg else {})})
        return
    console = Console()
    trains = Table(
        title=f"stable train (every {cfg.lifecycle.stable_cadence_weeks} weeks from {cfg.lifecycle.stable_anchor})"
    )
    trains.add_column("#", justify="right")
    trains.add_column("stable date")
    trains.add_column("becomes LTS")
    lts_starts = {line.start for line in cal.lines}
    for number, day in enumerate(cal.stables, 1):
        trains.add_row(str(number), day.isoformat(), "yes" if day in lts_starts else "")
    console.print(trains)
    lines = Table(title=f"LTS lines ({cfg.lifecycle.lts_support_months} months of patches)")
    for column in ("line", "start of support", "end of support", "status"):
        lines.add_column(column)
    for line in (*cal.lines, *cal.end_of_life):
        lines.add_row(line.name, line.start.isoformat(), line.end.isoformat(), line.status(start))
    console.print(lines)
    if svg:
        console.print(f"timeline: {svg}")


_PUBLISH_HELP = {
    "project": _HELP["project"],
    "version": "release version in dist/ (default: the product's version)",
    "channel": "stable, lts, lts/<major.minor> or nightly (default: the ledger's channel)",
    "snapshot": "local keys created on first use in the state folder (real releases read configured keys)",
    "dry_run": "show which channels and files would be published; change nothing",
    "refresh": "publish nothing: re-sign metadata past half its lifetime (run daily so clients never see it expire)",
    "json": _HELP["json"],
}


def _result(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        emit_json(data)
        return
    Console(stderr=True).print(" ".join(f"{k}: {v}" for k, v in data.items() if v not in ([], (), "", None)))


@task(help=_PUBLISH_HELP)
@handles_errors
def publish(
    c: InvokeContext,
    project: str | None = None,
    version: str | None = None,
    channel: str | None = None,
    snapshot: bool = False,
    dry_run: bool = False,
    refresh: bool = False,
    json: bool = False,
) -> None:
    """Publish a built release (from its ledger) to its channels: files, index, TUF metadata, atomically."""
    cfg = settings(project)
    if refresh:
        if dry_run:
            _result({"would_refresh": str(cfg.path(cfg.channels.root))}, json)
            return
        _result(repository.repository(cfg, snapshot=snapshot).refresh().to_json(), json)
        return
    ledger = Ledger.load(session.release_dir(cfg, version or cfg.version))
    if channel:
        ledger.channel = channel
    channels = stages.channels_for(cfg, ledger, dt.datetime.now(dt.UTC).date())
    if dry_run:
        files = [a.path for a in ledger.uploadable()]
        _result(
            {
                "version": ledger.version,
                "would_publish_to": channels,
                "files": files,
                "repository": str(cfg.path(cfg.channels.root)),
            },
            json,
        )
        return
    result = repository.repository(cfg, snapshot=snapshot).publish(ledger, channels)
    _result(result.to_json(), json)


@task(
    help={
        "project": _HELP["project"],
        "reason": "why (shown to people and update clients); required",
        "channel": "only this channel (default: every channel holding the version)",
        "snapshot": _PUBLISH_HELP["snapshot"],
        "dry_run": "say what would be yanked; change nothing",
        "json": _HELP["json"],
    },
    positional=["version"],
)
@handles_errors
def yank(
    c: InvokeContext,
    version: str,
    reason: str = "",
    project: str | None = None,
    channel: str | None = None,
    snapshot: bool = False,
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """Mark a published release yanked with a reason; update clients skip it."""
    if not reason.strip():
        raise UsageError(f"yank {version}: --reason is required; say why, people and clients read it")
    Version.parse(version)
    cfg = settings(project)
    repo = repository.repository(cfg, snapshot=snapshot)
    if dry_run:
        _result(
            {"version": version, "would_yank_in": [channel] if channel else repo.channels(), "reason": reason}, json
        )
        return
    _result(repo.yank(version, reason, [channel] if channel else None).to_json(), json)


@task(
    help={
        "project": _HELP["project"],
        "snapshot": _PUBLISH_HELP["snapshot"],
        "dry_run": "show the nightly version and the stages; change nothing",
        "json": _HELP["json"],
    }
)
@handles_errors
def nightly(
    c: InvokeContext, project: str | None = None, snapshot: bool = False, dry_run: bool = False, json: bool = False
) -> None:
    """Build HEAD as today's nightly, run the pipeline, publish to nightly, prune old nightlies."""
    cfg = settings(project)
    described = source.describe(cfg.project_dir, cfg.repository)
    version = nightly_version(cfg, described.commit, dt.datetime.now(dt.UTC).date())
    if repository.nightly_published(cfg, version):
        _result(
            {
                "version": str(version),
                "status": "unchanged",
                "note": "this commit's nightly of today is already published",
            },
            json,
        )
        return
    request = session.Request(version=str(version), channel="nightly", snapshot=snapshot, dry_run=dry_run, quiet=json)
    ctx, report = session.run(cfg, pipeline.release_stages(), request)
    finish(report, json, {"version": str(version), "manifest": str(ctx.ledger.path)})


@task(
    name="update-check",
    help={
        "channel": "stable, nightly or lts/<major.minor>",
        "repo": "the channel repository's URL (http(s):// or file://)",
        "root": "a trusted root.json to start from (default: trust the repository's first root on first use)",
        "target": "platform target (default: this machine's)",
        "current": "the installed version: report only newer",
        "cache": "where metadata and downloads are kept (default: ~/.cache/opencode/updates/…)",
        "json": _HELP["json"],
    },
)
@handles_errors
def update_check(
    c: InvokeContext,
    channel: str = "stable",
    repo: str = "",
    root: str | None = None,
    target: str | None = None,
    current: str | None = None,
    cache: str | None = None,
    json: bool = False,
) -> None:
    """Find and download the newest release of a channel for this platform, verified with TUF."""
    if not repo:
        raise UsageError("update-check: --repo URL is required (the channel repository, e.g. http://host/public)")
    try:
        found = update_client.check(
            repo,
            channel,
            Path(cache) if cache else update_client.default_cache(repo),
            target=target,
            trusted_root=Path(root) if root else None,
            current=current,
        )
    except RepositoryError as exc:
        raise VerificationError(repo, "tuf", f"{type(exc).__name__}: {exc}") from exc
    except DownloadError as exc:
        raise VerificationError(repo, "download", f"{type(exc).__name__}: {exc}") from exc
    if found is None:
        _result({"channel": channel, "status": "up to date", "current": current}, json)
        return
    _result({"status": "update", **found.to_json()}, json)
