"""Preflight rules of the lifecycle policy (real releases only, never --snapshot).

Each rule reads what was released from the channel repository, so the promise
made to customers (what is an LTS line, until when it gets patches, what
may be removed) is enforced by the pipeline, not only written down. Every
failure names its rule and the dates involved.
"""

from __future__ import annotations

import datetime as dt

from ..channels import index as channel_index
from ..channels.storage import Storage, open_storage
from ..config import Settings
from ..errors import CheckFailed
from ..stage import Context
from ..versions import Version
from . import changelog, lifecycle


def channel_storage(settings: Settings) -> Storage:
    return open_storage(settings.channels.storage, settings.path(settings.channels.root), settings.channels.s3_endpoint)


def today(ctx: Context) -> dt.date:
    """The release day: UTC today, or `lifecycle.today` from the options (tests, re-runs)."""
    chosen = ctx.option("lifecycle.today")
    return chosen if isinstance(chosen, dt.date) else dt.datetime.now(dt.UTC).date()


def _applies(ctx: Context) -> Version | None:
    version = Version.parse(ctx.ledger.version)
    return None if ctx.snapshot or version.is_nightly else version


def _stables(ctx: Context) -> dict[str, dt.date]:
    return channel_index.release_dates(channel_index.read_index(channel_storage(ctx.settings), "stable"))


def check_stable_follows_last(ctx: Context) -> None:
    version = _applies(ctx)
    if version is None or ctx.ledger.channel != "stable":
        return
    stables = _stables(ctx)
    if str(version) in stables:
        raise CheckFailed(
            f"stable {version}: rule stable-follows-last: {version} was already released on "
            f"{stables[str(version)]}; a version is never published twice"
        )
    if stables:
        last = max(stables, key=Version.parse)
        if version < Version.parse(last):
            raise CheckFailed(
                f"stable {version}: rule stable-follows-last: the last stable is {last} ({stables[last]}); "
                "a new stable must be newer (no downgrade)"
            )


def check_lts_patch(ctx: Context) -> None:
    version = _applies(ctx)
    if version is None or not ctx.ledger.channel.startswith("lts"):
        return
    policy, day = ctx.settings.lifecycle, today(ctx)
    stables = _stables(ctx)
    line = lifecycle.find_line(policy, version.line, stables)
    if line is None:
        known = [
            f"{found.line} ({found.start} to {found.end})"
            for year in sorted({d.year for d in stables.values()})
            if (found := lifecycle.lts_line(policy, year, stables)) and found.line
        ]
        raise CheckFailed(
            f"lts {version}: rule lts-line: {version.line} is not an LTS line; known LTS lines: "
            f"{', '.join(known) or 'none yet'}"
        )
    if not line.start <= day <= line.end:
        raise CheckFailed(
            f"lts {version}: rule lts-support: line {version.line} is supported from {line.start} to {line.end}; "
            f"today is {day}: {line.status(day)}"
        )
    storage = channel_storage(ctx.settings)
    released = {
        **{v: d for v, d in stables.items() if Version.parse(v).line == version.line},
        **channel_index.release_dates(channel_index.read_index(storage, f"lts/{version.line}")),
    }
    last = max(released, key=Version.parse)
    if version.patch == 0 or version <= Version.parse(last):
        raise CheckFailed(
            f"lts {version}: rule lts-patch-bump: the last release of line {version.line} is {last} "
            f"({released[last]}); an LTS release must be a patch bump {version.line}.x with x > "
            f"{Version.parse(last).patch}"
        )


def check_changelog(ctx: Context) -> None:
    version = _applies(ctx)
    if version is None:
        return
    path = ctx.settings.path(ctx.settings.lifecycle.changelog)
    entries = changelog.load(path)
    changelog.check_entry(entries, str(version), path.name)
    changelog.check_deprecations(entries, str(version), today(ctx), path.name)
