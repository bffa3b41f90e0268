"""SBOM components against an OSV export: OSV's per-ecosystem archive (`all.zip`, one JSON record per file).

Only what OSV's schema defines is read: `affected[].package` (ecosystem and
name), its explicit `versions`, and `ranges` of type ECOSYSTEM or SEMVER walked
event by event as the schema describes (introduced, fixed, last_affected).
PyPI versions compare by packaging's PEP 440 rules; other ecosystems by their
numeric parts.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packageurl import PackageURL
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..core.errors import UsageError

MAX_RECORD_BYTES = 4 << 20  # one advisory is a few KiB; anything this large is not one
ECOSYSTEMS = {"pypi": "PyPI", "npm": "npm", "golang": "Go", "cargo": "crates.io", "maven": "Maven", "deb": "Debian"}


@dataclass(frozen=True, slots=True)
class Component:
    purl: str
    ecosystem: str
    name: str
    version: str
    bom_ref: str


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    affected: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Match:
    component: Component
    advisory: Advisory


def _name(ecosystem: str, name: str) -> str:
    return canonicalize_name(name) if ecosystem == "PyPI" else name


def components(sbom: Mapping[str, Any]) -> list[Component]:
    """Every component of a CycloneDX SBOM with a purl of a known ecosystem (nested ones too)."""
    found: list[Component] = []

    def walk(items: Iterable[Any]) -> None:
        for item in items:
            if not isinstance(item, dict):
                continue
            raw = item.get("purl")
            if isinstance(raw, str):
                try:
                    purl = PackageURL.from_string(raw)
                except ValueError:
                    purl = None
                if purl is not None and purl.type in ECOSYSTEMS and purl.version:
                    name = f"{purl.namespace}/{purl.name}" if purl.namespace and purl.type != "deb" else purl.name
                    ecosystem = ECOSYSTEMS[purl.type]
                    found.append(
                        Component(raw, ecosystem, _name(ecosystem, name), purl.version, item.get("bom-ref", raw))
                    )
            walk(item.get("components", ()) or ())

    walk(sbom.get("components", ()) or ())
    return found


def read_export(source: Path | bytes, where: str) -> list[Advisory]:
    """Every record of an OSV export zip (a file, or the bytes fetched from its URL); a malformed one is
    refused naming its member."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{where}: not an OSV export zip: {exc}") from None
    advisories = []
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            if info.file_size > MAX_RECORD_BYTES:
                raise UsageError(f"{where}: {info.filename} is {info.file_size} bytes; no OSV record is that large")
            try:
                record = json.loads(archive.read(info))
                advisories.append(
                    Advisory(
                        str(record["id"]),
                        tuple(str(a) for a in record.get("aliases", []) or []),
                        str(record.get("summary") or record.get("details", "")[:200]),
                        tuple(a for a in record.get("affected", []) or [] if isinstance(a, dict)),
                    )
                )
            except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
                raise UsageError(f"{where}: {info.filename} is not an OSV record: {exc}") from None
    return advisories


def _key(ecosystem: str, text: str) -> Any:
    if ecosystem == "PyPI":
        return Version(text)
    return tuple(int(part) for part in re.findall(r"\d+", text))


def _in_range(ecosystem: str, version: str, events: Iterable[Mapping[str, str]]) -> bool:
    """OSV's range evaluation: walk the events in version order ("0" is before everything)."""
    current = _key(ecosystem, version)
    ordered = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in event:
                value = event[kind]
                ordered.append((kind, None if value == "0" else _key(ecosystem, value)))
    ordered.sort(key=lambda e: (e[1] is not None, e[1] if e[1] is not None else ()))
    affected = False
    for kind, at in ordered:
        if kind == "introduced" and (at is None or current >= at):
            affected = True
        elif at is not None and ((kind == "fixed" and current >= at) or (kind == "last_affected" and current > at)):
            affected = False
    return affected


def _affects(entry: Mapping[str, Any], component: Component) -> bool:
    package = entry.get("package") or {}
    ecosystem = str(package.get("ecosystem", "")).split(":")[0]
    if ecosystem != component.ecosystem or _name(ecosystem, str(package.get("name", ""))) != component.name:
        return False
    if component.version in (entry.get("versions") or []):
        return True
    try:
        return any(
            _in_range(component.ecosystem, component.version, r.get("events", []))
            for r in entry.get("ranges", []) or []
            if r.get("type") in ("ECOSYSTEM", "SEMVER")
        )
    except (InvalidVersion, TypeError):
        return False


def match(found: Iterable[Component], advisories: Iterable[Advisory]) -> Iterator[Match]:
    by_name: dict[tuple[str, str], list[Component]] = {}
    for component in found:
        by_name.setdefault((component.ecosystem, component.name), []).append(component)
    for advisory in advisories:
        for entry in advisory.affected:
            package = entry.get("package") or {}
            ecosystem = str(package.get("ecosystem", "")).split(":")[0]
            for component in by_name.get((ecosystem, _name(ecosystem, str(package.get("name", "")))), ()):
                if _affects(entry, component):
                    yield Match(component, advisory)
