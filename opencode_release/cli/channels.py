"""The channels and the lifecycle: calendar, publish, yank, nightly, update-check."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from rich.table import Table

from ..channels import apt_suite, channel_index, repository, update_client
from ..core.config import Settings
from ..core.errors import UsageError
from ..core.fsio import write_atomic
from ..core.ledger import Ledger
from ..core.versions import Version
from ..lifecycle import calendar_svg, changelog
from ..lifecycle.calendar import build_calendar, nightly_version, shipped_lines
from ..manifests import apt_signing
from ..release import pipeline, session, source, stages
from ._common import run_stages, settings, store_option, with_store
from .command import Command, Outcome, Output, channel_option, dry_run_option, option, project_option, version_option

_SNAPSHOT_HELP = "local keys created on first use in the state folder (real releases read configured keys)"


def _date(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--from {text!r}: expected a date YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value}: expected a positive number")
    return value


def _calendar_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    parser.add_argument("--from", metavar="DATE", help="first day of the calendar, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--count", type=_positive, default=8, help="how many upcoming stable dates (default: 8)")
    parser.add_argument("--svg", metavar="FILE", help="also write the calendar as an SVG timeline to this file")


def _deprecations(cfg: Settings, stables: dict[str, dt.date], out: Output) -> list[dict[str, object]]:
    """The changelog's deprecations in force, and after which LTS line each may be removed."""
    path = cfg.path(cfg.lifecycle.changelog)
    if not path.is_file():
        out.say(f"deprecations: no changelog at {path}")
        return []
    found = [f.to_json() for f in changelog.in_force(changelog.load(path), shipped_lines(cfg.lifecycle, stables))]
    if not out.json:
        table = Table(title=f"deprecations in force ({path.name})")
        for column in ("what", "since", "planned removal", "may be removed"):
            table.add_column(column)
        for item in found:
            table.add_row(*(str(item[k]) for k in ("subject", "since", "removal", "may_be_removed")))
        out.console.print(table)
    return found


def _calendar(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    start = _date(getattr(args, "from"))
    storage = repository.channel_storage(cfg)
    stables = channel_index.release_dates(channel_index.read_index(storage, "stable"))
    cal = build_calendar(cfg.lifecycle, start, args.count, stables)
    if args.svg:
        write_atomic(Path(args.svg), calendar_svg.render(cal, f"{cfg.name} release calendar from {start}").encode())
    if not out.json:
        life = cfg.lifecycle
        trains = Table(title=f"stable train (every {life.stable_cadence_weeks} weeks from {life.stable_anchor})")
        trains.add_column("#", justify="right")
        trains.add_column("stable date")
        trains.add_column("becomes LTS")
        lts_starts = {line.start for line in cal.lines}
        for number, day in enumerate(cal.stables, 1):
            trains.add_row(str(number), day.isoformat(), "yes" if day in lts_starts else "")
        out.console.print(trains)
        lines = Table(title=f"LTS lines ({life.lts_support_months} months of patches)")
        for column in ("line", "start of support", "end of support", "status"):
            lines.add_column(column)
        for line in (*cal.lines, *cal.end_of_life):
            lines.add_row(line.name, line.start.isoformat(), line.end.isoformat(), line.status(start))
        out.console.print(lines)
        if args.svg:
            out.say(f"timeline: {args.svg}")
    deprecations = _deprecations(cfg, dict(stables), out)
    return Outcome({**cal.to_json(), "deprecations": deprecations, **({"svg": args.svg} if args.svg else {})})


def _said(data: dict[str, Any], out: Output) -> Outcome:
    if not out.json:
        out.say(" ".join(f"{k}: {v}" for k, v in data.items() if v not in ([], (), "", None)))
    return Outcome(data)


def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    version_option(parser)
    channel_option(parser, None, "stable, lts, lts/<major.minor>, nightly or snapshot (default: the ledger's channel)")
    parser.add_argument("--snapshot", action="store_true", help=_SNAPSHOT_HELP)
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="publish nothing: re-sign TUF metadata and each channel's apt Release (new Valid-Until) past half "
        "their lifetime (run daily so clients never see them expire)",
    )
    store_option(parser)
    dry_run_option(parser, "show which channels and files would be published; change nothing")


def _publish(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = with_store(settings(args), args.store)
    if args.refresh:
        if args.dry_run:
            return _said({"would_refresh": repository.channel_storage(cfg).description}, out)
        resign = apt_signing.Resigner(cfg, snapshot=args.snapshot, state_dir=cfg.path(cfg.state_dir))
        apt = apt_suite.AptResigner(resign.lifetime, resign)
        return _said(repository.repository(cfg, snapshot=args.snapshot).refresh(apt).to_json(), out)
    ledger = Ledger.load(session.release_dir(cfg, args.version or cfg.version))
    if args.channel:
        ledger.channel = args.channel
    channels = stages.channels_for(cfg, ledger, dt.datetime.now(dt.UTC).date())
    if args.dry_run:
        return _said(
            {
                "version": ledger.version,
                "would_publish_to": channels,
                "files": [a.path for a in ledger.uploadable()],
                "repository": repository.channel_storage(cfg).description,
            },
            out,
        )
    return _said(repository.repository(cfg, snapshot=args.snapshot).publish(ledger, channels).to_json(), out)


def _yank_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("release", metavar="VERSION", help="the published version to yank")
    project_option(parser)
    parser.add_argument("--reason", default="", help="why (shown to people and update clients); required")
    channel_option(parser, None, "only this channel (default: every channel holding the version)")
    parser.add_argument("--snapshot", action="store_true", help=_SNAPSHOT_HELP)
    dry_run_option(parser, "say what would be yanked; change nothing")


def _yank(args: argparse.Namespace, out: Output) -> Outcome:
    if not (args.reason or "").strip():
        raise UsageError(f"yank {args.release}: --reason is required; say why, people and clients read it")
    Version.parse(args.release)
    cfg = settings(args)
    repo = repository.repository(cfg, snapshot=args.snapshot)
    only = [args.channel] if args.channel else None
    if args.dry_run:
        return _said({"version": args.release, "would_yank_in": only or repo.channels(), "reason": args.reason}, out)
    return _said(repo.yank(args.release, args.reason, only).to_json(), out)


def _nightly_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    parser.add_argument("--snapshot", action="store_true", help=_SNAPSHOT_HELP)
    dry_run_option(parser, "show the nightly version and the stages; change nothing")


def _nightly(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    described = source.describe(cfg.project_dir, cfg.repository)
    version = nightly_version(cfg, described.commit, dt.datetime.now(dt.UTC).date())
    if repository.nightly_published(cfg, version):
        return _said(
            {
                "version": str(version),
                "status": "unchanged",
                "note": "this commit's nightly of today is already published",
            },
            out,
        )
    request = session.Request(
        version=str(version), channel="nightly", snapshot=args.snapshot, dry_run=args.dry_run, quiet=out.json
    )
    return run_stages(cfg, pipeline.release_stages(), request, out, version=str(version))


def _update_arguments(parser: argparse.ArgumentParser) -> None:
    channel_option(parser, "stable", "stable, nightly or lts/<major.minor>")
    parser.add_argument(
        "--repo", required=True, metavar="URL", help="the channel repository's URL (http(s):// or file://)"
    )
    parser.add_argument(
        "--root",
        metavar="FILE",
        help="the trusted root.json to start from: the repository's metadata/1.root.json, obtained out of band "
        "(default: with --project, the product's channels.update-root)",
    )
    parser.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="no root to pin: accept whatever root the server sends now (unsafe; prints a warning)",
    )
    option(parser, "--target", metavar="T", help="platform target (default: this machine's)")
    parser.add_argument("--current", metavar="VERSION", help="the installed version: report only newer")
    parser.add_argument("--cache", metavar="DIR", help="where metadata and downloads are kept (default: ~/.cache/…)")
    project_option(parser)


def _update_check(args: argparse.Namespace, out: Output) -> Outcome:
    """Exit 0: up to date, or the update downloaded and verified; 1: download or verification failed
    (deadline, length cap, signatures, expiry, rollback); 2: usage (no root of trust, a root file that is
    not a self-signed root, a bad URL, channel or cache folder)."""
    root = Path(args.root) if args.root else None
    if root is None and args.project:  # the root pinned in the product's configuration; --root wins
        cfg = settings(args)
        root = cfg.path(cfg.channels.update_root) if cfg.channels.update_root else None
    if root is None and args.trust_on_first_use:
        out.progress.quiet = False  # loud even under --json: it goes to stderr
        out.progress.print(update_client.TOFU_WARNING.format(url=args.repo), style="bold red")
    found = update_client.check(
        args.repo,
        args.channel,
        Path(args.cache) if args.cache else update_client.default_cache(args.repo),
        trusted_root=root,
        trust_on_first_use=args.trust_on_first_use,
        target=args.target,
        current=args.current,
    )
    if found is None:
        return _said({"channel": args.channel, "status": "up to date", "current": args.current}, out)
    return _said({"status": "update", **found.to_json()}, out)


COMMANDS = (
    Command(
        "update-check",
        "the newest release of a channel for this platform, downloaded and verified with TUF",
        _update_arguments,
        _update_check,
    ),
    Command(
        "calendar",
        "upcoming stable dates, LTS lines with their support windows, lines past end of life, deprecations in force",
        _calendar_arguments,
        _calendar,
        maintainer=True,
    ),
    Command(
        "publish",
        "publish a built release (from its ledger) to its channels: files, index, TUF metadata",
        _publish_arguments,
        _publish,
        maintainer=True,
    ),
    Command(
        "yank",
        "mark a published release yanked with a reason; update clients skip it",
        _yank_arguments,
        _yank,
        maintainer=True,
    ),
    Command(
        "nightly",
        "build HEAD as today's nightly, run the pipeline, publish to nightly, prune old ones",
        _nightly_arguments,
        _nightly,
        maintainer=True,
    ),
)
