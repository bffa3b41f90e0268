"""The quarterly packet of a full snapshot release: the shared Nuitka build (tests/conftest.py), with its
.deb, signed apt repository, wheel and sdist, SBOMs, provenance, in-toto layout and links, the release
statement and every bundle, published to stable and lts/1.4. The trust paths a small fake release cannot
reach (the apt key, the in-toto layout) and the compiler's report as build evidence are checked here."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from opencode_release.channels import repository
from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release import pipeline, procurement, session

pytestmark = pytest.mark.integration
TODAY = dt.datetime.now(dt.UTC).date()
QUARTER = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"
STAGES = (
    "deb",
    "apt-repo",
    "python-dists",
    "checksum",
    "sbom",
    "provenance",
    "intoto",
    "release-statement",
    "sign",
    "verify",
)


def _read(packet: Path, name: str) -> Any:
    return json.loads((packet / name).read_text(encoding="utf-8"))


def test_the_packet_of_a_full_release_has_every_trust_file_and_the_build_evidence(release_copy: Path) -> None:
    settings = config.load(release_copy / "pyproject.toml")
    request = session.Request(snapshot=True, quiet=True)
    ctx, report = session.run(settings, pipeline.stages_named(STAGES), request)
    assert {r.name: r.status for r in report.results} == dict.fromkeys(STAGES, "ran")
    ledger = Ledger.load(ctx.ledger.root)
    repository.repository(settings, snapshot=True).publish(ledger, ["stable", "lts/1.4"])

    summary = procurement.build(settings, QUARTER, TODAY, reproduce_first=True)
    packet = Path(summary["packet"])
    assert summary["releases"] == ["1.4.0"] and summary["verified"] is True, summary
    assert summary["trust_missing"] == []
    trust = {t["name"]: t for t in _read(packet, "trust/fingerprints.json")}
    (key,) = [t for t in trust.values() if t["name"].startswith("apt-")]
    apt = {
        a.facts["fingerprint"] for a in ledger.by_kind(ArtifactKind.APT_INDEX) if a.facts.get("role") == "public-key"
    }
    assert len(apt) == 1 and key["keys"][0]["fingerprint"] == f"openpgp:{apt.pop()}"
    # the layout's functionary keys, and its owner's key (recorded with the same kind) apart from it
    assert trust["intoto-layout.json"]["keys"], trust["intoto-layout.json"]
    (owner,) = [a for a in ledger.by_kind(ArtifactKind.INTOTO_LAYOUT) if a.facts.get("role")]
    owner_key = trust["intoto-layout-owner.pub"]
    assert owner_key["keys"][0]["fingerprint"] == f"keyid:{owner.facts['keyid']}"
    assert (packet / owner_key["path"]).read_bytes() == ledger.file(owner).read_bytes()

    rows = {r["id"]: r for r in _read(packet, "ssdf/mapping.json")["tasks"]}
    build_evidence = [e["path"] for e in rows["PO.3.1"]["evidence"]]
    assert any(p.endswith("nuitka-report.xml") for p in build_evidence), build_evidence
    assert rows["PO.3.1"]["status"] == "met" and rows["PS.2.1"]["status"] == "met"
    assert rows["PS.3.2"]["status"] == "met"
    links = list((packet / "releases" / "1.4.0").rglob("*.link"))
    assert links, "the in-toto links are evidence in the packet"
    # The shared build was made outside git (no commit recorded): `reproduce` refuses it, the packet says why.
    (reproduced,) = _read(packet, "reproducibility/summary.json")["releases"]
    assert reproduced["reproduced"] is False and "is not a recorded git commit" in reproduced["note"]
    assert rows["PO.3.2"]["status"] == "not met"
    # dozens of SBOMs and bundles per task: the report's rows name a few and say where the rest are
    assert len(rows["PS.3.2"]["evidence"]) > 6
    assert "more (ssdf/mapping.json lists every one)" in (packet / "report" / "report.html").read_text()
    assert (packet / "report" / "report.pdf").stat().st_size > 10_000
