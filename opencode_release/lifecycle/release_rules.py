"""Preflight rules of the lifecycle policy (real releases only, never --snapshot).

Each rule reads what was released (`released(channel)`: version -> date, which
release/ answers from the channel repository), so the promise
made to customers (what is an LTS line, until when it gets patches, what
may be removed) is enforced by the pipeline, not only written down. Every
failure names its rule and the dates involved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from ..core.errors import CheckFailed
from ..core.stage import Context
from ..core.versions import Version
from . import calendar as lifecycle
from . import changelog

# What a channel holds: version -> release date.
Released = Callable[[str], Mapping[str, dt.date]]


def today(ctx: Context) -> dt.date:
    """The release day: UTC today by the context's clock (tests and re-runs set it)."""
    return ctx.clock().date()


def _applies(ctx: Context) -> Version | None:
    version = Version.parse(ctx.ledger.version)
    return None if ctx.snapshot or version.is_nightly else version


def check_stable_follows_last(ctx: Context, released: Released) -> None:
    version = _applies(ctx)
    if version is None or ctx.ledger.channel != "stable":
        return
    stables = dict(released("stable"))
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


def check_lts_patch(ctx: Context, released: Released) -> None:
    version = _applies(ctx)
    if version is None or not ctx.ledger.channel.startswith("lts"):
        return
    policy, day = ctx.settings.lifecycle, today(ctx)
    stables = dict(released("stable"))
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
    in_line = {
        **{v: d for v, d in stables.items() if Version.parse(v).line == version.line},
        **released(f"lts/{version.line}"),
    }
    last = max(in_line, key=Version.parse)
    if version.patch == 0 or version <= Version.parse(last):
        raise CheckFailed(
            f"lts {version}: rule lts-patch-bump: the last release of line {version.line} is {last} "
            f"({in_line[last]}); an LTS release must be a patch bump {version.line}.x with x > "
            f"{Version.parse(last).patch}"
        )


def check_changelog(ctx: Context, released: Released) -> None:
    version = _applies(ctx)
    if version is None:
        return
    path = ctx.settings.path(ctx.settings.lifecycle.changelog)
    entries = changelog.load(path)
    changelog.check_entry(entries, str(version), path.name)
    lines = lifecycle.shipped_lines(ctx.settings.lifecycle, released("stable"))
    changelog.check_deprecations(entries, str(version), lines, path.name)


# The stages a real release of each channel may not leave out (`--skip`): what
# customers are promised was tested, signed, verified and published.
REQUIRED_STAGES: Mapping[str, tuple[str, ...]] = {
    "stable": ("smoke", "sign", "verify", "publish"),
    "lts": ("smoke", "sign", "verify", "publish"),
    "nightly": ("smoke", "sign", "verify"),
}


def check_required_stages(ctx: Context) -> None:
    if ctx.snapshot or not ctx.skip:
        return
    channel = "lts" if ctx.ledger.channel.startswith("lts") else ctx.ledger.channel
    refused = [name for name in REQUIRED_STAGES.get(channel, ()) if name in ctx.skip]
    if refused:
        raise CheckFailed(
            f"{channel} {ctx.ledger.version}: rule required-stages: a real {channel} release runs "
            f"{', '.join(REQUIRED_STAGES[channel])}; drop --skip {','.join(refused)} or cut a --snapshot"
        )
