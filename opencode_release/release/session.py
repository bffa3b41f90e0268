"""Open (or resume) a release's ledger and run stages over it."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import devsigstore
from ..build import stages as build_stages
from ..build import targets
from ..core.config import Settings
from ..core.errors import LedgerError, VersionError
from ..core.ledger import MANIFEST_NAME, Ledger
from ..core.stage import Context, Stage, utc_now
from ..core.versions import Version
from . import source
from .runner import ConsoleReporter, RunReport, run_stages


@dataclass(frozen=True, slots=True)
class Request:
    """What the caller asked for, already parsed from flags."""

    version: str | None = None
    channel: str = "stable"
    snapshot: bool = True
    dry_run: bool = False
    targets: tuple[str, ...] | None = None  # None: this machine's target, if the release has it
    quiet: bool = False
    clock: Callable[[], dt.datetime] = utc_now  # the release day and publish time
    signing_instance: str | None = None  # over the configured signing.instance
    skip: tuple[str, ...] = ()  # stages left out (`--skip`, checked by pipeline.check_skips)


def release_dir(settings: Settings, version: str) -> Path:
    return settings.path(settings.dist_dir) / version


def snapshot_version(settings: Settings, day: dt.date, commit: str) -> str:
    """The snapshot of `commit` on `day`: the one already begun (a rerun resumes it), else the next number.

    `X.Y.Z-snapshot.YYYYMMDD.N+g<sha>` is a SemVer pre-release of the product's version: it sorts
    before X.Y.Z, so it can never block or precede the real release.
    """
    base = Version.parse(settings.version)
    stamp = day.strftime("%Y%m%d")
    dist = settings.path(settings.dist_dir)
    numbers: set[int] = set()
    for folder in sorted(dist.glob(f"{base.major}.{base.minor}.{base.patch}-snapshot.{stamp}.*")):
        try:
            found = Version.parse(folder.name)
        except VersionError:
            continue
        if found.commit == commit[:7] and (folder / MANIFEST_NAME).is_file():
            return folder.name
        numbers.add(int(found.pre[2]))
    return str(Version.snapshot(base, stamp, max(numbers, default=0) + 1, commit))


def open_ledger(settings: Settings, version: str, channel: str) -> Ledger:
    """The release's ledger: resumed when it exists, new otherwise."""
    root = release_dir(settings, version)
    described = source.describe(settings.project_dir, settings.repository)
    if (root / MANIFEST_NAME).is_file():
        ledger = Ledger.load(root)
        if ledger.product != settings.name or ledger.version != version:
            raise LedgerError(
                f"{ledger.path}: records {ledger.product} {ledger.version}, not {settings.name} {version}; "
                "remove it with `invoke clean`"
            )
        # The tree may have moved on since the last run; fingerprints catch changed inputs.
        ledger.source = described
        ledger.channel = channel
        return ledger
    return Ledger(root, product=settings.name, version=version, channel=channel, source=described)


def build_targets(settings: Settings, requested: Sequence[str] | None) -> tuple[str, ...]:
    if requested:
        return tuple(t if build_stages.prebuilt(t) else targets.check_buildable_here(t).name for t in requested)
    host = targets.host().name
    return (host,) if host in settings.targets else ()


def make_context(settings: Settings, request: Request, reporter: ConsoleReporter) -> Context:
    version = request.version or settings.version
    Version.parse(version)
    ledger = open_ledger(settings, version, request.channel)
    return Context(
        settings=settings,
        ledger=ledger,
        reporter=reporter,
        build_targets=build_targets(settings, request.targets),
        snapshot=request.snapshot,
        dry_run=request.dry_run,
        clock=request.clock,
        signing_instance=request.signing_instance,
        skip=request.skip,
        local_sigstore=functools.partial(devsigstore.signing_session, rekor_version=settings.signing.rekor_version),
    )


def run(
    settings: Settings, stages: Sequence[Stage], request: Request, report: RunReport | None = None
) -> tuple[Context, RunReport]:
    """Run `stages`; `report` (when given) holds what ran so far if one fails."""
    reporter = ConsoleReporter(report if report is not None else RunReport(), quiet=request.quiet)
    ctx = make_context(settings, request, reporter)
    report = run_stages(stages, ctx, reporter)
    return ctx, report
