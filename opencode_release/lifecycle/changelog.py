"""CHANGELOG.md in Keep a Changelog form, plus an `Incidents` section.

An entry is `## [X.Y.Z] - YYYY-MM-DD` with `### Added|Changed|Deprecated|
Removed|Fixed|Security|Incidents` subsections of `- ` bullets. What a bullet
is about is its first `code span` (e.g. `` `opencode login --legacy` ``), or
its whole text when it has none: that is how a removal finds the deprecation
that announced it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import CheckFailed
from .calendar import add_months

SECTIONS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security", "Incidents")
# How long a deprecation must be announced before the removal: one LTS cycle.
DEPRECATION_MONTHS = 12

_ENTRY = re.compile(r"^##\s+\[?(?P<version>[^\]\s]+)\]?(?:\s+-\s+(?P<date>\d{4}-\d{2}-\d{2}))?\s*$")
_SECTION = re.compile(r"^###\s+(?P<name>.+?)\s*$")
_BULLET = re.compile(r"^[-*]\s+(?P<text>.*)$")
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True, slots=True)
class Entry:
    version: str
    date: dt.date | None
    line: int
    sections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def items(self, section: str) -> tuple[str, ...]:
        return self.sections.get(section, ())


def subject(item: str) -> str:
    """What a bullet is about: its first code span, else its text."""
    found = _CODE.search(item)
    return found.group(1).strip() if found else " ".join(item.lower().split()).rstrip(".")


def parse(text: str, where: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    current: tuple[str, dt.date | None, int] | None = None
    sections: dict[str, list[str]] = {}
    section: str | None = None

    def close() -> None:
        if current is not None:
            version, day, line = current
            entries[version] = Entry(version, day, line, {k: tuple(v) for k, v in sections.items()})

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if line.startswith("## "):
            close()
            match = _ENTRY.match(line)
            if not match:
                raise CheckFailed(
                    f"{where}:{number}: rule changelog-format: cannot read heading {line!r}; "
                    "expected '## [X.Y.Z] - YYYY-MM-DD'"
                )
            day = dt.date.fromisoformat(match["date"]) if match["date"] else None
            current, sections, section = (match["version"], day, number), {}, None
        elif line.startswith("### ") and current is not None:
            name = _SECTION.match(line)
            section = name["name"] if name else line[4:]
            if section not in SECTIONS:
                raise CheckFailed(
                    f"{where}:{number}: rule changelog-sections: {current[0]} has section {section!r}; "
                    f"expected one of {', '.join(SECTIONS)}"
                )
            sections.setdefault(section, [])
        elif section is not None and current is not None:
            bullet = _BULLET.match(line)
            if bullet:
                sections[section].append(bullet["text"].strip())
            elif line.startswith((" ", "\t")) and line.strip() and sections[section]:
                sections[section][-1] += " " + line.strip()
    close()
    return entries


def load(path: Path) -> dict[str, Entry]:
    if not path.is_file():
        raise CheckFailed(
            f"{path}: rule changelog-entry: no changelog; add a CHANGELOG.md "
            "(Keep a Changelog, with an Incidents section)"
        )
    return parse(path.read_text(encoding="utf-8"), path.name)


def check_entry(entries: Mapping[str, Entry], version: str, where: str) -> Entry:
    entry = entries.get(version)
    if entry is None:
        raise CheckFailed(
            f"{where}: rule changelog-entry: no entry for {version}; add '## [{version}] - YYYY-MM-DD' "
            f"with sections from {', '.join(SECTIONS)}"
        )
    return entry


def check_deprecations(entries: Mapping[str, Entry], version: str, today: dt.date, where: str) -> None:
    """Everything `version` removes was deprecated at least one LTS cycle before its date."""
    entry = check_entry(entries, version, where)
    released = entry.date or today
    for item in entry.items("Removed"):
        topic = subject(item)
        announced = sorted(
            (e.date, e.version)
            for e in entries.values()
            if e.version != version and e.date is not None and any(subject(d) == topic for d in e.items("Deprecated"))
        )
        if not announced:
            raise CheckFailed(
                f"{where}: rule deprecation-period: {version} ({released}) removes {topic!r}, which no earlier "
                "release announced under Deprecated; deprecate it first and remove it one year later"
            )
        day, by = announced[0]
        allowed = add_months(day, DEPRECATION_MONTHS)
        if released < allowed:
            raise CheckFailed(
                f"{where}: rule deprecation-period: {version} ({released}) removes {topic!r}, deprecated in "
                f"{by} ({day}), less than one LTS cycle (one year) earlier; remove it on or after {allowed}"
            )
