"""SBOMs of the real snapshot build: strict validation, report fidelity, determinism."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from defusedxml import ElementTree as ET

from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release import pipeline, session

pytestmark = pytest.mark.integration


def _attest_cli(product: Path) -> dict:  # type: ignore[type-arg]
    script = Path(sys.executable).parent / "opencode-release"
    proc = subprocess.run(
        [str(script), "attest", "--project", str(product), "--snapshot", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_attest_writes_a_strictly_valid_sbom_per_binary_and_archive(release_copy: Path) -> None:
    result = _attest_cli(release_copy)
    assert result["stages"][0]["name"] == "sbom" and result["stages"][0]["status"] == "ran"
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    subjects = {a.id for a in ledger.by_kind(ArtifactKind.BINARY) + ledger.by_kind(ArtifactKind.ARCHIVE)}
    sboms = ledger.by_kind(ArtifactKind.SBOM)
    assert {s.related("sbom_of")[0] for s in sboms} == subjects and len(sboms) == len(subjects)
    validator = JsonStrictValidator(SchemaVersion.V1_5)
    for artifact in sboms:
        assert artifact.name == ledger.get(artifact.related("sbom_of")[0]).name + ".cdx.json"
        text = ledger.file(artifact).read_text()
        assert validator.validate_str(text) is None, artifact.path
        doc = json.loads(text)
        subject = ledger.get(artifact.related("sbom_of")[0])
        assert doc["metadata"]["component"]["hashes"][0] == {"alg": "SHA-256", "content": subject.sha256}


def test_python_components_are_exactly_the_distributions_compiled_in(release_copy: Path) -> None:
    _attest_cli(release_copy)
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    (binary,) = ledger.by_kind(ArtifactKind.BINARY)
    (report,) = ledger.by_kind(ArtifactKind.BUILD_REPORT, target=binary.target)
    root = ET.parse(ledger.file(report)).getroot()
    assert root is not None
    compiled = {(d.get("name"), d.get("version")) for d in root.iterfind("distributions/distribution")}
    assert ("jsonpointer", importlib.metadata.version("jsonpointer")) in compiled
    for sbom in ledger.by_kind(ArtifactKind.SBOM):
        doc = json.loads(ledger.file(sbom).read_text())
        pypi = {(c["name"], c["version"]) for c in doc["components"] if c.get("purl", "").startswith("pkg:pypi/")}
        assert pypi == compiled
        names = {c["name"] for c in doc["components"]}
        # Installed here (a product dependency imported only on Windows, and the
        # build tools themselves), yet not compiled in: not in the SBOM.
        for installed_unused in ("colorama", "nuitka", "rich"):
            importlib.metadata.version(installed_unused)
            assert installed_unused not in names
        by_name = {c["name"]: c for c in doc["components"]}
        assert by_name["jsonpointer"]["licenses"] == [{"license": {"id": "BSD-3-Clause"}}]
        assert by_name["cpython"]["version"] == binary.facts["python_version"]
        floor = {p["name"]: p["value"] for p in by_name["glibc"]["properties"]}
        assert floor["opencode-release:glibc-floor"] == binary.facts["inspection"]["glibc_floor"]
        bundled = {
            p["value"]
            for c in doc["components"]
            for p in c.get("properties", [])
            if p["name"] == "opencode-release:file" and c["bom-ref"] != binary.id
        }
        assert bundled == set(binary.facts["inspection"]["bundled_libraries"])
        assert all(
            c.get("purl", "").startswith("pkg:deb/debian/") for c in doc["components"] if c["name"].startswith("lib")
        )


def test_two_runs_write_the_same_bytes(release_copy: Path) -> None:
    settings = config.load(release_copy / "pyproject.toml")
    stages = pipeline.stages_named(("sbom",))
    request = session.Request(snapshot=True, quiet=True)
    session.run(settings, stages, request)
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    first = {a.path: ledger.file(a).read_bytes() for a in ledger.by_kind(ArtifactKind.SBOM)}
    for path in first:
        (ledger.root / path).unlink()
    _, report = session.run(settings, stages, request)
    assert [r.status for r in report.results] == ["ran"]
    assert {path: (ledger.root / path).read_bytes() for path in first} == first


def test_provenance_covers_exactly_the_ledger_deliverables_and_sbom_statements_bind(release_copy: Path) -> None:
    from opencode_release.attest import provenance, statements
    from opencode_release.core.ledger import UPLOADABLE

    settings = config.load(release_copy / "pyproject.toml")
    session.run(settings, pipeline.stages_named(("deb", "checksum")), session.Request(snapshot=True, quiet=True))
    result = _attest_cli(release_copy)
    assert [s["name"] for s in result["stages"]] == ["sbom", "provenance", "intoto"]
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    (deb,) = ledger.by_kind(ArtifactKind.DEB)
    (deb_sbom,) = [s for s in ledger.by_kind(ArtifactKind.SBOM) if s.related("sbom_of") == (deb.id,)]
    deb_doc = json.loads(ledger.file(deb_sbom).read_text())
    (binary,) = ledger.by_kind(ArtifactKind.BINARY)
    assert {d["ref"]: d.get("dependsOn") for d in deb_doc["dependencies"]}[deb.id] == [binary.id]
    (prov,) = ledger.by_kind(ArtifactKind.PROVENANCE)
    assert prov.path == "provenance.intoto.json"
    doc = provenance.verify_against_ledger(ledger.file(prov).read_bytes(), prov.path, ledger)
    later = {"provenance", "intoto-link", "intoto-layout", "sigstore-bundle", "trust-root"}
    expected = {(a.path, a.sha256) for a in ledger.artifacts if a.kind in UPLOADABLE and a.kind not in later}
    assert {(s["name"], s["digest"]["sha256"]) for s in doc["subject"]} == expected
    assert {a.kind for a in ledger.artifacts if (a.path, a.sha256) in expected} >= {
        "archive",
        "checksums",
        "sbom",
        "attestation",
        "deb",
    }
    assert set(prov.related("provenance_of")) == {a.id for a in ledger.artifacts if (a.path, a.sha256) in expected}
    byproducts = {b["name"]: b["digest"]["sha256"] for b in doc["predicate"]["runDetails"]["byproducts"]}
    assert byproducts == {r.path: r.sha256 for r in ledger.by_kind(ArtifactKind.BUILD_REPORT)}
    attestations = ledger.by_kind(ArtifactKind.ATTESTATION)
    assert len(attestations) == len(ledger.by_kind(ArtifactKind.SBOM))
    for attestation in attestations:
        subject = ledger.get(attestation.related("attests")[0])
        sbom = ledger.get(attestation.related("sbom")[0])
        assert attestation.name == subject.name + ".sbom.intoto.json"
        assert attestation.facts["predicate_type"] == "https://cyclonedx.org/bom"
        statements.check_sbom_statement(
            ledger.file(attestation).read_bytes(), attestation.path, subject, ledger.file(sbom).read_bytes()
        )
