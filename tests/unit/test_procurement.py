"""The procurement area on its own: the quarter, the OSCAL catalog, the statements file, the mapping's statuses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from opencode_release.core.errors import UsageError
from opencode_release.procurement import catalog, mapping, statements
from opencode_release.procurement.packet import quarter_dates

ORGANISATIONAL = [t for t, r in mapping.RULES.items() if r.kind == "organisational"]


def test_quarters_are_calendar_quarters() -> None:
    assert quarter_dates("2026-Q4") == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert quarter_dates("2027-Q1") == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
    with pytest.raises(UsageError) as err:
        quarter_dates("2026-4")
    assert str(err.value) == "--quarter '2026-4': expected YYYY-QN, e.g. 2026-Q4"


def test_the_catalog_is_nists_file_unchanged_with_its_42_tasks() -> None:
    # The package data is the OSCAL file as NIST published it (README of the standards folder gives the digest).
    assert catalog.catalog_digest() == "b01634a5fdb382e7a12660c379a4d0bc3a2b8e29abccf2861834880005137117"
    ids = [t.id for t in catalog.tasks()]
    assert len(ids) == len(set(ids)) == 42
    assert ids[0] == "PO.1.1" and ids[-1] == "RV.3.4" and "PW.3.1" not in ids  # PW.3 was folded into PW.4 in 1.1
    assert catalog.tasks()[ids.index("PS.2.1")].statement == (
        "Make software integrity verification information available to software acquirers."
    )


def test_every_task_has_one_rule_and_the_draft_is_apart() -> None:
    assert sorted(mapping.RULES) == sorted(t.id for t in catalog.tasks())
    draft = [t.id for t in catalog.draft_tasks()]
    assert draft == ["PO.6.1", "PO.6.2", "PO.6.3", "PS.4.1", "PS.4.2", "PS.4.3", "PS.4.4"]
    assert sorted(mapping.DRAFT_RULES) == sorted(draft) and not set(draft) & set(mapping.RULES)
    assert all(t.draft for t in catalog.draft_tasks())


def _rows(
    evidence: dict[str, list[str]], facts: dict[str, bool], given: dict[str, str] | None = None
) -> dict[str, Any]:
    cited = mapping.Statements("ssdf-statements.toml", "ssdf/ssdf-statements.toml", given or {})
    rows = mapping.map_tasks(catalog.tasks(), mapping.RULES, evidence, facts, cited, lambda p: "d" * 64)
    return {row["id"]: row for row in rows}


def test_a_computed_status_follows_the_evidence_and_the_verification() -> None:
    full = {"signatures": ["b"], "verification": ["v"], "transparency-log": ["t"], "trust-root": ["r"]}
    assert _rows(full, {"verification-passed": True})["PS.2.1"]["status"] == "met"
    failed = _rows(full, {"verification-passed": False})["PS.2.1"]
    assert failed["status"] == "partly met" and failed["how"].endswith("does not hold: verification-passed")
    partial = _rows({"signatures": ["b"]}, {"verification-passed": True})["PS.2.1"]
    assert partial["status"] == "partly met" and "not in this packet: verification, transparency-log" in partial["how"]
    assert _rows({}, {})["PS.2.1"]["status"] == "not met"
    # A ceiling: the pipeline shows part of PO.5.1; the rest is the organisation's.
    assert _rows({"provenance": ["p"], "build-report": ["r"]}, {})["PO.5.1"]["status"] == "partly met"


def test_an_organisational_task_without_a_statement_is_marked_missing() -> None:
    rows = _rows({}, {}, {"PO.2.2": "Yearly training."})
    assert rows["PO.2.2"]["status"] == "organisational" and rows["PO.2.2"]["missing"] is False
    assert rows["PO.2.2"]["evidence"] == [{"path": "ssdf/ssdf-statements.toml", "sha256": "d" * 64}]
    assert rows["RV.1.3"]["missing"] is True and rows["RV.1.3"]["how"].startswith("MISSING: ssdf-statements.toml")


def test_the_statements_file_refuses_what_it_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    assert statements.load(path, "s.toml", ORGANISATIONAL) == {}
    path.write_text('[tasks."PS.2.1"]\nstatement = "we sign"\n')
    with pytest.raises(UsageError, match=r"^s.toml: tasks.'PS.2.1' is not an organisational SSDF task"):
        statements.load(path, "s.toml", ORGANISATIONAL)
    path.write_text('[tasks."PO.2.2"]\nstatement = ""\n')
    with pytest.raises(UsageError) as err:
        statements.load(path, "s.toml", ORGANISATIONAL)
    assert str(err.value) == "s.toml: tasks.'PO.2.2'.statement must be a non-empty string"
    path.write_text("[tasks\n")
    with pytest.raises(UsageError, match=r"^s.toml: not valid TOML"):
        statements.load(path, "s.toml", ORGANISATIONAL)
    path.write_text('[tasks."PO.2.2"]\nstatement = """two\n  lines"""\n')
    assert statements.load(path, "s.toml", ORGANISATIONAL) == {"PO.2.2": "two lines"}


def test_the_sample_products_statements_load() -> None:
    from tests.conftest import PRODUCT

    found = statements.load(PRODUCT / "ssdf-statements.toml", "ssdf-statements.toml", ORGANISATIONAL)
    assert set(found) == {"PW.8.1"}


def test_the_packet_check_refuses_a_manifest_that_is_not_one_and_a_path_that_escapes(tmp_path: Path) -> None:
    from opencode_release.core.errors import VerificationError
    from opencode_release.verify.packet import verify_packet_folder

    manifest = tmp_path / "packet-manifest.json"
    manifest.write_text('{"schema": "other", "files": []}')
    with pytest.raises(VerificationError) as err:
        verify_packet_folder(manifest)
    assert (err.value.check, err.value.reason) == (
        "packet-manifest",
        "not a procurement packet manifest: schema is 'other', not https://opencode.example.org/procurement-packet/v1",
    )
    manifest.write_text(
        '{"schema": "https://opencode.example.org/procurement-packet/v1", '
        '"files": [{"path": "../secret", "sha256": "00"}]}'
    )
    with pytest.raises(VerificationError) as err:
        verify_packet_folder(manifest)
    assert err.value.check == "path"
