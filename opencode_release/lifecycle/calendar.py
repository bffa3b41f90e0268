"""The lifecycle policy: the stable train, the yearly LTS line, support windows.

Stables ship every `stable-cadence-weeks` from `stable-anchor`. Each year, the
first stable at or after `lts-month` becomes that year's LTS line and gets
`lts-support-months` of patches from its train date. Which version a line is
(`1.4`) is only known once that stable shipped, so lines are named from the
stable channel's history and otherwise by their train date.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ..core.config import LifecycleSettings, Settings
from ..core.versions import Version


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole months; the 31st becomes the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def train_on_or_after(policy: LifecycleSettings, day: dt.date) -> dt.date:
    """The first stable train date on or after `day` (never before the anchor)."""
    if day <= policy.stable_anchor:
        return policy.stable_anchor
    cadence = policy.stable_cadence_weeks * 7
    trains = -(-(day - policy.stable_anchor).days // cadence)
    return policy.stable_anchor + dt.timedelta(days=trains * cadence)


def stable_dates(policy: LifecycleSettings, start: dt.date, count: int) -> list[dt.date]:
    first = train_on_or_after(policy, start)
    step = dt.timedelta(weeks=policy.stable_cadence_weeks)
    return [first + step * i for i in range(count)]


def lts_train(policy: LifecycleSettings, year: int) -> dt.date | None:
    """The train that becomes year `year`'s LTS line; None before the anchor's year."""
    if year < policy.stable_anchor.year:
        return None
    train = train_on_or_after(policy, dt.date(year, policy.lts_month, 1))
    return train if train.year == year else None


@dataclass(frozen=True, slots=True)
class LtsLine:
    year: int
    start: dt.date  # the day its first stable shipped (the train date while it is upcoming)
    end: dt.date  # last day of patches
    line: str | None  # "1.4" once that stable shipped, from the stable channel

    @property
    def name(self) -> str:
        return f"lts/{self.line}" if self.line else f"LTS {self.year} (stable of {self.start})"

    def status(self, today: dt.date) -> str:
        if today > self.end:
            return "end of life"
        return "in support" if today >= self.start else "upcoming"

    def to_json(self, today: dt.date) -> dict[str, object]:
        return {
            "year": self.year,
            "line": self.line,
            "name": self.name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "status": self.status(today),
        }


def lts_line(policy: LifecycleSettings, year: int, stables: Mapping[str, dt.date]) -> LtsLine | None:
    """Year `year`'s LTS line; `stables` maps released stable versions to their dates."""
    train = lts_train(policy, year)
    if train is None:
        return None
    shipped = sorted(
        (day, Version.parse(v))
        for v, day in stables.items()
        if train <= day and day.year == year and not Version.parse(v).is_prerelease
    )
    if not shipped:
        return LtsLine(year, train, add_months(train, policy.lts_support_months) - dt.timedelta(days=1), None)
    # Only a real release opens a line, on the day it ships: support is counted from then.
    start, first = shipped[0]
    return LtsLine(year, start, add_months(start, policy.lts_support_months) - dt.timedelta(days=1), first.line)


def lts_lines(
    policy: LifecycleSettings, first_year: int, last_year: int, stables: Mapping[str, dt.date]
) -> list[LtsLine]:
    lines = (lts_line(policy, year, stables) for year in range(first_year, last_year + 1))
    return [line for line in lines if line is not None]


def shipped_lines(policy: LifecycleSettings, stables: Mapping[str, dt.date]) -> list[str]:
    """The LTS lines ("1.4") the shipped stables opened, oldest first."""
    years = sorted({day.year for day in stables.values()})
    found = lts_lines(policy, years[0], years[-1], stables) if years else []
    return [line.line for line in found if line.line]


def find_line(policy: LifecycleSettings, line: str, stables: Mapping[str, dt.date]) -> LtsLine | None:
    """The LTS line named `line` ("1.4"), if one of the shipped stables made it one."""
    years = {day.year for day in stables.values()}
    for year in sorted(years):
        found = lts_line(policy, year, stables)
        if found is not None and found.line == line:
            return found
    return None


@dataclass(frozen=True, slots=True)
class Calendar:
    start: dt.date
    stables: tuple[dt.date, ...]
    lines: tuple[LtsLine, ...]  # in support or upcoming within the window
    end_of_life: tuple[LtsLine, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "from": self.start.isoformat(),
            "stable": [d.isoformat() for d in self.stables],
            "lts": [line.to_json(self.start) for line in self.lines],
            "end_of_life": [line.to_json(self.start) for line in self.end_of_life],
        }


def build_calendar(
    policy: LifecycleSettings, start: dt.date, count: int, stables: Mapping[str, dt.date] | None = None
) -> Calendar:
    dates = stable_dates(policy, start, count)
    last = dates[-1] if dates else start
    lines = lts_lines(policy, policy.stable_anchor.year, last.year, stables or {})
    current = tuple(line for line in lines if line.end >= start and line.start <= last)
    gone = tuple(line for line in lines if line.end < start)
    return Calendar(start, tuple(dates), current, gone)


def nightly_version(settings: Settings, commit: str, day: dt.date) -> Version:
    """HEAD's nightly: the next patch of the product's version, dated, with the commit."""
    return Version.nightly(Version.parse(settings.version), day.strftime("%Y%m%d"), commit)
