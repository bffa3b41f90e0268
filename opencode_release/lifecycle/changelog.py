"""CHANGELOG.md in Keep a Changelog form with structured deprecations and incidents (docs/changelog.md).

An entry is `## [X.Y.Z] - YYYY-MM-DD` with `### Added|Changed|Deprecated|
Removed|Fixed|Security|Incidents` subsections of `- ` bullets. What a bullet
is about is its first `code span` (e.g. `` `opencode login --legacy` ``), or
its whole text when it has none: that is how a removal finds the deprecation
that announced it. A deprecation ends with `(removal: X.Y.Z)`, an incident is
`YYYY-MM-DD: summary (affects: X.Y.Z, ...; advisory: URL)` or `None.`, so the
packet and the calendar read them as records rather than prose.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import CheckFailed, VersionError
from ..core.versions import Version

SECTIONS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security", "Incidents")
FORMAT_DOC = "docs/changelog.md"

_ENTRY = re.compile(r"^##\s+\[?(?P<version>[^\]\s]+)\]?(?:\s+-\s+(?P<date>\d{4}-\d{2}-\d{2}))?\s*$")
_SECTION = re.compile(r"^###\s+(?P<name>.+?)\s*$")
_BULLET = re.compile(r"^[-*]\s+(?P<text>.*)$")
_CODE = re.compile(r"`([^`]+)`")
# The record fields at the end of a bullet: `(key: value; key: value)`.
_FIELDS = re.compile(r"\((?P<fields>[a-z][a-z -]*:[^()]*)\)\s*\.?\s*$")
_INCIDENT = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2}):\s*(?P<summary>.+)$")


@dataclass(frozen=True, slots=True)
class Deprecation:
    subject: str
    text: str
    since: str  # the version whose entry announced it
    since_date: dt.date | None
    removal: str  # the version planned to remove it

    def to_json(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "text": self.text,
            "since": self.since,
            "since_date": self.since_date.isoformat() if self.since_date else None,
            "removal": self.removal,
        }


@dataclass(frozen=True, slots=True)
class Incident:
    date: dt.date
    summary: str
    affected: tuple[str, ...]
    advisory: str
    recorded_in: str

    def to_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "summary": self.summary,
            "affected": list(self.affected),
            "advisory": self.advisory,
            "recorded_in": self.recorded_in,
        }


@dataclass(frozen=True, slots=True)
class Entry:
    version: str
    date: dt.date | None
    line: int
    sections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    deprecations: tuple[Deprecation, ...] = ()
    incidents: tuple[Incident, ...] = ()

    def items(self, section: str) -> tuple[str, ...]:
        return self.sections.get(section, ())


def subject(item: str) -> str:
    """What a bullet is about: its first code span, else its text."""
    found = _CODE.search(item)
    return found.group(1).strip() if found else " ".join(item.lower().split()).rstrip(".")


def _fields(item: str) -> tuple[str, dict[str, str]]:
    """A bullet's prose and its trailing `(key: value; ...)` record fields."""
    found = _FIELDS.search(item)
    if not found:
        return item.strip(), {}
    pairs = (part.split(":", 1) for part in found["fields"].split(";") if ":" in part)
    return item[: found.start()].strip(), {k.strip(): v.strip() for k, v in pairs}


def _version_field(value: str, where: str) -> str:
    try:
        return str(Version.parse(value))
    except VersionError:
        raise CheckFailed(f"{where}: {value!r} is not a version X.Y.Z (see {FORMAT_DOC})") from None


def _deprecation(item: str, version: str, day: dt.date | None, where: str) -> Deprecation:
    text, fields = _fields(item)
    if "removal" not in fields:
        raise CheckFailed(
            f"{where}: rule changelog-format: {version} deprecates {subject(item)!r} without a planned removal; "
            f"end the bullet with '(removal: X.Y.Z)' (see {FORMAT_DOC})"
        )
    return Deprecation(subject(item), text, version, day, _version_field(fields["removal"], where))


def _incident(item: str, version: str, where: str) -> Incident | None:
    text, fields = _fields(item)
    if text.rstrip(".").lower() == "none" and not fields:
        return None
    found = _INCIDENT.match(text)
    if not found or "affects" not in fields or "advisory" not in fields:
        raise CheckFailed(
            f"{where}: rule changelog-format: {version} has incident {text[:40]!r}; expected "
            f"'YYYY-MM-DD: summary (affects: X.Y.Z, ...; advisory: URL)' or 'None.' (see {FORMAT_DOC})"
        )
    affected = tuple(_version_field(v.strip(), where) for v in fields["affects"].split(",") if v.strip())
    day = dt.date.fromisoformat(found["date"])
    return Incident(day, found["summary"].strip(), affected, fields["advisory"], version)


def _entry(version: str, day: dt.date | None, line: int, sections: dict[str, list[str]], where: str) -> Entry:
    at = f"{where}:{line}"
    deprecations = tuple(_deprecation(item, version, day, at) for item in sections.get("Deprecated", ()))
    found = (_incident(item, version, at) for item in sections.get("Incidents", ()))
    incidents = tuple(i for i in found if i is not None)
    return Entry(version, day, line, {k: tuple(v) for k, v in sections.items()}, deprecations, incidents)


def parse(text: str, where: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    current: tuple[str, dt.date | None, int] | None = None
    sections: dict[str, list[str]] = {}
    section: str | None = None

    def close() -> None:
        if current is not None:
            entries[current[0]] = _entry(*current, sections, where)

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
            f"(Keep a Changelog, with an Incidents section; see {FORMAT_DOC})"
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


def _line_key(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _released_entries(entries: Mapping[str, Entry]) -> list[Entry]:
    """Entries of real versions (not `Unreleased`), oldest version first."""
    real = []
    for entry in entries.values():
        try:
            Version.parse(entry.version)
        except VersionError:
            continue
        real.append(entry)
    return sorted(real, key=lambda e: Version.parse(e.version))


def deprecations(entries: Mapping[str, Entry]) -> list[Deprecation]:
    return [d for entry in _released_entries(entries) for d in entry.deprecations]


def previous_lts_line(version: str, lts_lines: Iterable[str]) -> str | None:
    """The newest LTS line strictly before `version`'s line: the one whose users must have seen a notice."""
    own = _line_key(str(Version.parse(version)))
    earlier = [line for line in lts_lines if _line_key(line) < own]
    return max(earlier, key=_line_key) if earlier else None


def check_deprecations(entries: Mapping[str, Entry], version: str, lts_lines: Iterable[str], where: str) -> None:
    """Everything `version` removes was announced under Deprecated by a release of the previous LTS line
    (or earlier), so every LTS user saw the notice for a whole cycle, and not before its planned removal."""
    entry = check_entry(entries, version, where)
    at = f"{where}:{entry.line}"
    previous = previous_lts_line(version, lts_lines)
    announced = deprecations(entries)
    for item in entry.items("Removed"):
        topic = subject(item)
        found = [d for d in announced if d.subject == topic and Version.parse(d.since) < Version.parse(version)]
        if not found:
            raise CheckFailed(
                f"{at}: rule deprecation-period: {version} removes {topic!r}, which no earlier release announced "
                "under Deprecated; deprecate it first and remove it in a line after the next LTS line"
            )
        first = found[0]
        if previous is None or _line_key(first.since) > _line_key(previous):
            carried = f"the previous LTS line ({previous})" if previous else "an earlier LTS line (none yet)"
            raise CheckFailed(
                f"{at}: rule deprecation-period: {version} removes {topic!r}, deprecated in {first.since}, "
                f"which no release of {carried} carried; remove it in a line after the next LTS line"
            )
        if Version.parse(version) < Version.parse(first.removal):
            raise CheckFailed(
                f"{at}: rule deprecation-removal: {version} removes {topic!r}, announced in {first.since} for "
                f"removal in {first.removal}; keep it until {first.removal} or announce an earlier removal"
            )


@dataclass(frozen=True, slots=True)
class InForce:
    """A deprecation not yet removed, and from which line the rule allows removing it."""

    deprecation: Deprecation
    removable_after: str | None  # the LTS line that must carry it first (None: no LTS line at or after yet)

    def to_json(self) -> dict[str, object]:
        after = self.removable_after
        return {
            **self.deprecation.to_json(),
            "removable_after_lts_line": after,
            "may_be_removed": f"in a line after {after}" if after else "in a line after the next LTS line",
        }


def in_force(entries: Mapping[str, Entry], lts_lines: Iterable[str], at: str | None = None) -> list[InForce]:
    """Deprecations announced at or before version `at` (default: every release) and not removed by then."""
    lines = sorted(set(lts_lines), key=_line_key)
    real = _released_entries(entries)
    if at is not None:
        real = [e for e in real if Version.parse(e.version) <= Version.parse(at)]
    removed = {subject(item) for e in real for item in e.items("Removed")}
    result = []
    for entry in real:
        for dep in entry.deprecations:
            if dep.subject in removed:
                continue
            after = next((line for line in lines if _line_key(line) >= _line_key(dep.since)), None)
            result.append(InForce(dep, after))
    return result


def incidents(entries: Mapping[str, Entry]) -> list[Incident]:
    return sorted((i for e in entries.values() for i in e.incidents), key=lambda i: (i.date, i.summary))
