"""Known vulnerabilities of the releases' components, with the maintainers' triage, as OpenVEX and CycloneDX VEX.

The triage is a TOML file in the product's repository:

    [[triage]]
    vulnerability = "GHSA-xxxx-xxxx-xxxx"   # the OSV id or one of its aliases
    component = "pkg:pypi/requests"         # optional: only this package (purl without version)
    state = "not_affected"                  # not_affected | affected | fixed | under_investigation
    justification = "vulnerable_code_not_in_execute_path"   # not_affected: an OpenVEX justification
    impact = "The CLI never sends requests through a proxy."
    action = "..."                          # affected: what users should do

A match no triage entry covers is listed `under_investigation` with the note
that nobody triaged it: never left out.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from ..core.errors import UsageError
from .osv import Match

STATES = ("not_affected", "affected", "fixed", "under_investigation")
JUSTIFICATIONS = {  # OpenVEX -> CycloneDX 1.5 analysis.justification
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "protected_by_mitigating_control",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
CDX_STATES = {
    "not_affected": "not_affected",
    "affected": "exploitable",
    "fixed": "resolved",
    "under_investigation": "in_triage",
}
UNTRIAGED = "known vulnerability, not triaged by the maintainers"


@dataclass(frozen=True, slots=True)
class Triage:
    vulnerability: str
    component: str  # "" for every component
    state: str
    justification: str
    impact: str
    action: str


def _base(purl: str) -> str:
    parsed = PackageURL.from_string(purl)
    return PackageURL(parsed.type, parsed.namespace, parsed.name).to_string()


def load_triage(path: Path, where: str) -> list[Triage]:
    if not path.is_file():
        return []
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("triage", [])
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{where}: not valid TOML: {exc}") from None
    if not isinstance(entries, list):
        raise UsageError(f"{where}: triage must be an array of [[triage]] tables")
    found = []
    for number, entry in enumerate(entries, 1):
        at = f"{where}: [[triage]] #{number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("vulnerability"), str):
            raise UsageError(f'{at}: needs vulnerability = "<OSV id or alias>"')
        state = entry.get("state")
        if state not in STATES:
            raise UsageError(f"{at} ({entry['vulnerability']}): state {state!r}; expected one of {', '.join(STATES)}")
        justification = str(entry.get("justification", ""))
        if state == "not_affected" and justification not in JUSTIFICATIONS:
            raise UsageError(
                f"{at} ({entry['vulnerability']}): not_affected needs a justification, one of "
                f"{', '.join(JUSTIFICATIONS)}"
            )
        if state == "affected" and not str(entry.get("action", "")).strip():
            raise UsageError(f'{at} ({entry["vulnerability"]}): affected needs an action statement (action = "...")')
        component = str(entry.get("component", ""))
        try:
            component = _base(component) if component else ""
        except ValueError:
            raise UsageError(f"{at}: component {component!r} is not a package URL (pkg:type/name)") from None
        found.append(
            Triage(
                entry["vulnerability"],
                component,
                state,
                justification,
                str(entry.get("impact", "")),
                str(entry.get("action", "")),
            )
        )
    return found


def _triage_for(match: Match, triage: Sequence[Triage]) -> Triage | None:
    names = {match.advisory.id, *match.advisory.aliases}
    base = _base(match.component.purl)
    for entry in triage:
        if entry.vulnerability in names and entry.component in ("", base):
            return entry
    return None


@dataclass(frozen=True, slots=True)
class Finding:
    release: str
    match: Match
    triage: Triage | None

    @property
    def state(self) -> str:
        return self.triage.state if self.triage else "under_investigation"

    def to_json(self) -> dict[str, Any]:
        advisory = self.match.advisory
        return {
            "release": self.release,
            "component": self.match.component.purl,
            "vulnerability": advisory.id,
            "aliases": list(advisory.aliases),
            "summary": advisory.summary,
            "state": self.state,
            "triaged": self.triage is not None,
            "justification": self.triage.justification if self.triage else "",
            "impact": self.triage.impact if self.triage else UNTRIAGED,
        }


def findings(by_release: Mapping[str, Iterable[Match]], triage: Sequence[Triage]) -> list[Finding]:
    seen: dict[tuple[str, str, str], Finding] = {}
    for release, matches in by_release.items():
        for match in matches:
            key = (release, match.component.purl, match.advisory.id)
            seen.setdefault(key, Finding(release, match, _triage_for(match, triage)))
    return [seen[k] for k in sorted(seen)]


def _product(product: str, release: str) -> str:
    return PackageURL("generic", None, product, release).to_string()


def openvex(product: str, quarter: str, day: dt.date, found: Sequence[Finding]) -> dict[str, Any]:
    statements = []
    for finding in found:
        advisory, triage = finding.match.advisory, finding.triage
        statement: dict[str, Any] = {
            "vulnerability": {"name": advisory.id, **({"aliases": list(advisory.aliases)} if advisory.aliases else {})},
            "products": [
                {"@id": _product(product, finding.release), "subcomponents": [{"@id": finding.match.component.purl}]}
            ],
            "status": finding.state,
        }
        if triage is None:
            statement["status_notes"] = UNTRIAGED
        else:
            statement.update(
                {
                    k: v
                    for k, v in (
                        ("justification", triage.justification),
                        ("impact_statement", triage.impact),
                        ("action_statement", triage.action),
                    )
                    if v
                }
            )
        statements.append(statement)
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'openvex/{product}/{quarter}')}",
        "author": f"{product} maintainers",
        "timestamp": f"{day.isoformat()}T00:00:00Z",
        "version": 1,
        "statements": statements,
    }


def cyclonedx_vex(product: str, quarter: str, day: dt.date, found: Sequence[Finding]) -> dict[str, Any]:
    components = {f.match.component.purl: f.match.component for f in found}
    vulnerabilities = []
    for finding in found:
        advisory, triage = finding.match.advisory, finding.triage
        analysis: dict[str, Any] = {"state": CDX_STATES[finding.state]}
        if triage and triage.justification:
            analysis["justification"] = JUSTIFICATIONS[triage.justification]
        analysis["detail"] = (triage.impact or triage.action) if triage else UNTRIAGED
        vulnerabilities.append(
            {
                "bom-ref": f"{advisory.id}/{finding.release}/{finding.match.component.purl}",
                "id": advisory.id,
                "source": {"name": "OSV", "url": f"https://osv.dev/vulnerability/{advisory.id}"},
                **({"description": advisory.summary} if advisory.summary else {}),
                "affects": [{"ref": finding.match.component.purl}],
                "analysis": analysis,
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'cyclonedx-vex/{product}/{quarter}')}",
        "version": 1,
        "metadata": {
            "timestamp": f"{day.isoformat()}T00:00:00Z",
            "component": {"type": "application", "name": product, "bom-ref": f"pkg:generic/{product}"},
        },
        "components": [
            {"type": "library", "name": c.name, "version": c.version, "purl": c.purl, "bom-ref": c.purl}
            for _, c in sorted(components.items())
        ],
        "vulnerabilities": vulnerabilities,
    }
