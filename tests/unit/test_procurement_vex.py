"""Vulnerabilities: SBOM components against a tiny OSV export (tests/testdata/osv), triage, OpenVEX and
CycloneDX VEX (checked by cyclonedx-python-lib's strict validator), and the CISA attestation draft."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from opencode_release.core.errors import UsageError
from opencode_release.procurement import attestation, catalog, mapping, osv, vex

OSV_RECORDS = Path(__file__).resolve().parents[1] / "testdata" / "osv" / "PyPI"
SBOM: dict[str, Any] = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "components": [
        {"type": "library", "name": "requests", "version": "2.31.0", "purl": "pkg:pypi/requests@2.31.0"},
        {"type": "library", "name": "jinja2", "version": "3.1.2", "purl": "pkg:pypi/jinja2@3.1.2"},
        {"type": "library", "name": "urllib3", "version": "1.26.18", "purl": "pkg:pypi/urllib3@1.26.18"},
        {
            "type": "library",
            "name": "outer",
            "version": "1.0",
            "purl": "pkg:pypi/outer@1.0",
            "components": [{"type": "library", "name": "idna", "version": "3.6", "purl": "pkg:pypi/idna@3.6"}],
        },
    ],
}
TRIAGE = """\
[[triage]]
vulnerability = "CVE-2099-0001"
component = "pkg:pypi/requests"
state = "not_affected"
justification = "vulnerable_code_not_in_execute_path"
impact = "The CLI never sends requests through a proxy."

[[triage]]
vulnerability = "OSV-TEST-0004"
state = "affected"
action = "Upgrade to 1.4.1, which ships idna 3.7."
"""


def export(tmp_path: Path) -> Path:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for record in sorted(OSV_RECORDS.glob("*.json")):
            archive.write(record, record.name)
    return path


def _found(tmp_path: Path) -> list[vex.Finding]:
    advisories = osv.read_export(export(tmp_path), "all.zip")
    (tmp_path / "triage.toml").write_text(TRIAGE)
    triage = vex.load_triage(tmp_path / "triage.toml", "triage.toml")
    return vex.findings({"1.4.0": list(osv.match(osv.components(SBOM), advisories))}, triage)


def test_components_match_by_range_versions_and_canonical_name(tmp_path: Path) -> None:
    found = {(f.match.component.name, f.match.advisory.id): f.state for f in _found(tmp_path)}
    assert found == {
        ("requests", "OSV-TEST-0001"): "not_affected",  # introduced 0, fixed 2.32.0; triaged by its alias
        ("jinja2", "OSV-TEST-0002"): "under_investigation",  # listed version, "Jinja2" in the record; untriaged
        ("idna", "OSV-TEST-0004"): "affected",  # last_affected 3.6 includes 3.6; a nested component
    }
    # urllib3 1.26.18 is before the 2.0.0 the range starts at; the npm record is another ecosystem.


def test_an_untriaged_known_vulnerability_is_listed_as_such(tmp_path: Path) -> None:
    (untriaged,) = [f for f in _found(tmp_path) if f.triage is None]
    row = untriaged.to_json()
    assert row["triaged"] is False and row["state"] == "under_investigation"
    assert row["impact"] == "known vulnerability, not triaged by the maintainers"
    document = vex.openvex("opencode", "2026-Q4", dt.date(2026, 12, 2), _found(tmp_path))
    statement = next(s for s in document["statements"] if s["vulnerability"]["name"] == "OSV-TEST-0002")
    assert statement["status"] == "under_investigation" and statement["status_notes"] == vex.UNTRIAGED
    assert statement["products"] == [
        {"@id": "pkg:generic/opencode@1.4.0", "subcomponents": [{"@id": "pkg:pypi/jinja2@3.1.2"}]}
    ]


def test_openvex_carries_the_triage(tmp_path: Path) -> None:
    document = vex.openvex("opencode", "2026-Q4", dt.date(2026, 12, 2), _found(tmp_path))
    assert document["@context"] == "https://openvex.dev/ns/v0.2.0" and document["timestamp"] == "2026-12-02T00:00:00Z"
    by_id = {s["vulnerability"]["name"]: s for s in document["statements"]}
    assert by_id["OSV-TEST-0001"]["justification"] == "vulnerable_code_not_in_execute_path"
    assert by_id["OSV-TEST-0001"]["vulnerability"]["aliases"] == ["CVE-2099-0001"]
    assert by_id["OSV-TEST-0004"]["action_statement"] == "Upgrade to 1.4.1, which ships idna 3.7."


def test_the_cyclonedx_vex_passes_the_strict_validator(tmp_path: Path) -> None:
    document = vex.cyclonedx_vex("opencode", "2026-Q4", dt.date(2026, 12, 2), _found(tmp_path))
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(document))
    assert error is None, error
    states = {v["id"]: v["analysis"] for v in document["vulnerabilities"]}
    assert states["OSV-TEST-0001"] == {
        "state": "not_affected",
        "justification": "code_not_reachable",
        "detail": "The CLI never sends requests through a proxy.",
    }
    assert states["OSV-TEST-0002"]["state"] == "in_triage" and states["OSV-TEST-0004"]["state"] == "exploitable"


def test_bad_triage_and_bad_records_are_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[[triage]]\nvulnerability = "X"\nstate = "fine"\n')
    with pytest.raises(UsageError) as err:
        vex.load_triage(path, "t.toml")
    assert str(err.value) == (
        "t.toml: [[triage]] #1 (X): state 'fine'; expected one of not_affected, affected, fixed, under_investigation"
    )
    path.write_text('[[triage]]\nvulnerability = "X"\nstate = "not_affected"\n')
    with pytest.raises(UsageError, match=r"^t\.toml: \[\[triage\]\] #1 \(X\): not_affected needs a justification"):
        vex.load_triage(path, "t.toml")
    path.write_text('[[triage]]\nvulnerability = "X"\nstate = "affected"\n')
    with pytest.raises(UsageError, match=r"affected needs an action statement"):
        vex.load_triage(path, "t.toml")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("A.json", "{not json")
    with pytest.raises(UsageError, match=r"^bad\.zip: A\.json is not an OSV record"):
        osv.read_export(bad, "bad.zip")
    (tmp_path / "plain.zip").write_text("not a zip")
    with pytest.raises(UsageError, match=r"^plain\.zip: not an OSV export zip"):
        osv.read_export(tmp_path / "plain.zip", "plain.zip")


def test_the_attestation_draft_is_prefilled_from_the_mapping() -> None:
    cited = mapping.Statements("ssdf-statements.toml", None, {})
    everything = {c: ["x"] for c in ("sbom", "provenance", "build-report", "signatures", "transparency-log")}
    rows = mapping.map_tasks(catalog.tasks(), mapping.RULES, everything, {}, cited, lambda p: "0" * 64)
    form = attestation.form("opencode", ["1.4.0"], rows)
    assert form["draft"] is True and form["signatory"]["signature"] is None
    assert [s["number"] for s in form["statements"]] == ["1", "2", "3", "4"]
    first = form["statements"][0]
    assert first["ssdf_tasks"] == ["PO.5.1", "PO.5.2"]
    # PO.5.1 is partly met by the pipeline (its ceiling) and PO.5.2 has no statement: both are gaps.
    assert first["gaps"] == ["PO.5.1: partly met", "PO.5.2: organisational (statement missing)"]
    assert {"path": "x", "sha256": "0" * 64} in first["evidence"]
