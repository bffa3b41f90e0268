"""SLSA provenance and SBOM statements: structure, and one negative test per check."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opencode_release.attest import provenance, statements
from opencode_release.core.errors import VerificationError
from opencode_release.core.ledger import ArtifactKind, Ledger, Source

Doc = dict[str, Any]


def _release(ledger: Ledger) -> Ledger:
    root = ledger.root
    (root / "linux-x86_64-gnu").mkdir(parents=True)
    binary_path = root / "linux-x86_64-gnu" / "opencode"
    binary_path.write_bytes(b"\x7fELF binary")
    binary = ledger.record(
        binary_path,
        ArtifactKind.BINARY,
        target="linux-x86_64-gnu",
        facts={"python_version": "3.11.7", "nuitka_version": "4.3.3"},
    )
    report = root / "linux-x86_64-gnu" / "nuitka-report.xml"
    report.write_text("<nuitka-compilation-report/>")
    ledger.record(report, ArtifactKind.BUILD_REPORT, target="linux-x86_64-gnu", relations={"report_of": [binary.id]})
    archive = root / "opencode-1.4.0-linux-x86_64-gnu.tar.gz"
    archive.write_bytes(b"archive bytes")
    ledger.record(archive, ArtifactKind.ARCHIVE, target="linux-x86_64-gnu")
    (root / "SHA256SUMS").write_text("x  opencode-1.4.0-linux-x86_64-gnu.tar.gz\n")
    ledger.record(root / "SHA256SUMS", ArtifactKind.CHECKSUMS)
    return ledger


def _provenance(ledger: Ledger, snapshot: bool = True) -> Doc:
    run = provenance.current_run(ledger, dt.datetime(2026, 5, 1, tzinfo=dt.UTC), snapshot=snapshot, env={})
    return provenance.make_provenance(
        _release(ledger), targets=("linux-x86_64-gnu",), build_targets=("linux-x86_64-gnu",), snapshot=snapshot, run=run
    )


def test_provenance_subjects_are_the_deliverables_and_it_passes_every_check(ledger: Ledger) -> None:
    doc = _provenance(ledger)
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == "https://slsa.dev/provenance/v1"
    assert {s["name"] for s in doc["subject"]} == {"opencode-1.4.0-linux-x86_64-gnu.tar.gz", "SHA256SUMS"}
    provenance.verify_against_ledger(statements.encode(doc), "provenance.intoto.json", ledger)
    predicate = doc["predicate"]
    assert predicate["buildDefinition"]["externalParameters"]["version"] == "1.4.0"
    source = predicate["buildDefinition"]["resolvedDependencies"][0]
    assert source["digest"] == {"gitCommit": "a" * 40}
    names = [d["name"] for d in predicate["buildDefinition"]["resolvedDependencies"]]
    assert names == ["source", "python", "nuitka", "build-dependencies.lock"]
    assert predicate["runDetails"]["byproducts"][0]["name"] == "linux-x86_64-gnu/nuitka-report.xml"
    meta = predicate["runDetails"]["metadata"]
    assert meta["startedOn"] == meta["finishedOn"] == "2026-01-01T00:00:00Z"


def test_snapshot_provenance_is_reproducible(ledger: Ledger, tmp_path: Path) -> None:
    first = statements.encode(_provenance(ledger))
    run = provenance.current_run(ledger, dt.datetime.now(dt.UTC), snapshot=True, env={})
    again = provenance.make_provenance(
        ledger, targets=("linux-x86_64-gnu",), build_targets=("linux-x86_64-gnu",), snapshot=True, run=run
    )
    assert statements.encode(again) == first


def test_a_local_builder_is_named_after_the_product_s_repository(tmp_path: Path) -> None:
    """Not the sample's host: each product's local builds have their own builder id (its policy pins it)."""
    runs = {}
    for product, repository in (("mytool", "https://github.com/newcomer/mytool"), ("tool2", "")):
        source = Source(repository, "b" * 40, "", 1767225600)
        ledger = Ledger(tmp_path / product, product=product, version="0.3.0", channel="snapshot", source=source)
        for snapshot in (True, False):
            runs[product, snapshot] = provenance.current_run(ledger, dt.datetime.now(dt.UTC), snapshot=snapshot, env={})
    assert (
        runs["mytool", True].builder_id
        == runs["mytool", False].builder_id
        == ("https://github.com/newcomer/mytool/opencode-release/local-snapshot@v1")
    )
    assert runs["tool2", True].builder_id == "urn:opencode-release:tool2/opencode-release/local-snapshot@v1"
    assert not [run for run in runs.values() if "example.org" in run.builder_id]


def test_ci_builder_is_the_workflow_identity(ledger: Ledger) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_WORKFLOW_REF": "o/r/.github/workflows/release.yml@refs/tags/v1.4.0",
        "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_ATTEMPT": "2",
    }
    run = provenance.current_run(ledger, dt.datetime(2026, 5, 1, tzinfo=dt.UTC), snapshot=False, env=env)
    assert run.builder_id == "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.4.0"
    assert run.invocation_id == "https://github.com/o/r/actions/runs/42/attempts/2"
    assert run.started_on == "2026-05-01T00:00:00Z"


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()
P = "predicate"
BD = "predicate.buildDefinition"
RD = "predicate.runDetails"

NEGATIVE = [
    ("unknown statement field", _set("extra", 1), "in-toto-bindings", 'has no field named "extra"'),
    ("unknown predicate field", _set(f"{BD}.colour", "red"), "in-toto-bindings", 'has no field named "colour"'),
    ("wrong type", _set(f"{RD}.builder.id", 7), "in-toto-bindings", "Failed to parse id field"),
    ("no subjects", _set("subject", []), "in-toto-bindings", "At least one subject required"),
    (
        "predicate type",
        _set("predicateType", "https://slsa.dev/provenance/v0.2"),
        "predicate-type",
        "predicateType is 'https://slsa.dev/provenance/v0.2'",
    ),
    ("subject without name", _set("subject.0.name", ""), "subject", "subject[0] has no name"),
    ("subject twice", lambda d: d["subject"].append(copy.deepcopy(d["subject"][0])), "subject", "is listed twice"),
    (
        "subject without sha256",
        _set("subject.0.digest", {"sha512": "ab" * 64}),
        "digest",
        "subject[0].digest has no sha256",
    ),
    (
        "subject digest not hex",
        _set("subject.0.digest.sha256", "XYZ" + "0" * 61),
        "digest",
        "subject[0].digest.sha256: 'XYZ",
    ),
    (
        "build type",
        _set(f"{BD}.buildType", "https://example.org/other"),
        "build-type",
        "buildType is 'https://example.org/other'",
    ),
    (
        "external parameters",
        _set(f"{BD}.externalParameters.channel", _DELETE),
        "external-parameters",
        "externalParameters lacks channel",
    ),
    (
        "no source commit",
        _set(f"{BD}.resolvedDependencies.0.digest", {"sha1": "ab" * 20}),
        "resolved-dependencies",
        "no source commit (a gitCommit digest)",
    ),
    (
        "empty dependency",
        lambda d: d["predicate"]["buildDefinition"]["resolvedDependencies"].append({"name": "x"}),
        "resolved-dependencies",
        "resolvedDependencies[4] has none of uri, digest, content",
    ),
    (
        "short commit",
        _set(f"{BD}.resolvedDependencies.0.digest.gitCommit", "abc123"),
        "digest",
        "resolvedDependencies[0].digest.gitCommit: 'abc123' is not a lowercase hex digest of 40 characters",
    ),
    ("builder id", _set(f"{RD}.builder.id", ""), "builder", "runDetails.builder.id is missing"),
    (
        "invocation id",
        _set(f"{RD}.metadata.invocationId", _DELETE),
        "run-metadata",
        "runDetails.metadata.invocationId is missing",
    ),
    (
        "times reversed",
        _set(f"{RD}.metadata.startedOn", "2027-01-01T00:00:00Z"),
        "run-metadata",
        "startedOn is after finishedOn",
    ),
    (
        "byproduct digest",
        _set(f"{RD}.byproducts.0.digest.sha256", "12"),
        "digest",
        "byproducts[0].digest.sha256: '12' is not a lowercase hex digest",
    ),
]


@pytest.mark.parametrize(("case", "change", "check", "reason"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_each_provenance_check_refuses_its_tamper(
    ledger: Ledger, case: str, change: Callable[[Doc], None], check: str, reason: str
) -> None:
    doc = _provenance(ledger)
    change(doc)
    with pytest.raises(VerificationError) as caught:
        provenance.check_provenance(json.dumps(doc).encode(), "provenance.intoto.json")
    assert caught.value.check == check
    assert reason in caught.value.reason


def test_not_json_is_refused() -> None:
    with pytest.raises(VerificationError) as caught:
        provenance.check_provenance(b"{not json", "p.json")
    assert caught.value.check == "json"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("drop", "missing ['opencode-1.4.0-linux-x86_64-gnu.tar.gz']"),
        ("add", "not in the ledger ['extra.tar.gz']"),
        ("digest", "opencode-1.4.0-linux-x86_64-gnu.tar.gz: sha256 " + "0" * 64 + " differs from the ledger's"),
    ],
)
def test_subjects_must_equal_the_ledger_deliverables(ledger: Ledger, tamper: str, reason: str) -> None:
    doc = _provenance(ledger)
    archive = next(s for s in doc["subject"] if s["name"].endswith(".tar.gz"))
    if tamper == "drop":
        doc["subject"].remove(archive)
    elif tamper == "add":
        doc["subject"].append({"name": "extra.tar.gz", "digest": {"sha256": "1" * 64}})
    else:
        archive["digest"]["sha256"] = "0" * 64
    with pytest.raises(VerificationError) as caught:
        provenance.verify_against_ledger(json.dumps(doc).encode(), "provenance.intoto.json", ledger)
    assert caught.value.check == "subjects"
    assert reason in caught.value.reason


def test_sbom_statement_binds_the_sbom_to_the_subject_digest(ledger: Ledger) -> None:
    _release(ledger)
    (archive,) = ledger.by_kind(ArtifactKind.ARCHIVE)
    sbom = {"bomFormat": "CycloneDX", "specVersion": "1.5"}
    data = statements.encode(statements.sbom_statement(archive, sbom))
    statements.check_sbom_statement(data, "a.sbom.intoto.json", archive, json.dumps(sbom).encode())
    with pytest.raises(VerificationError) as caught:
        statements.check_sbom_statement(data, "a.sbom.intoto.json", archive, b'{"bomFormat": "other"}')
    assert caught.value.check == "predicate"
    other = json.loads(data)
    other["subject"][0]["digest"]["sha256"] = "f" * 64
    with pytest.raises(VerificationError) as caught:
        statements.check_sbom_statement(
            json.dumps(other).encode(), "a.sbom.intoto.json", archive, json.dumps(sbom).encode()
        )
    assert caught.value.check == "subjects"


def test_build_lock_pins_each_installed_distribution_by_version_and_record_digest() -> None:
    import hashlib
    import importlib.metadata

    lines = provenance.build_lock().decode().splitlines()
    assert lines == sorted(set(lines))
    dist = importlib.metadata.distribution("cyclonedx-python-lib")
    record = hashlib.sha256((dist.read_text("RECORD") or "").encode()).hexdigest()
    assert f"cyclonedx-python-lib=={dist.version} record-sha256={record}" in lines
    names = {line.partition("==")[0] for line in lines}
    assert {"sigstore", "nuitka", "opencode-release"} <= names


def test_build_lock_follows_installs_and_removals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import shutil

    monkeypatch.syspath_prepend(str(tmp_path))
    assert not any(line.startswith("fake-dist==") for line in provenance.build_lock().decode().splitlines())
    info = tmp_path / "fake_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-dist\nVersion: 1.0\n")
    (info / "RECORD").write_text("fake_dist-1.0.dist-info/METADATA,,\n")
    record = hashlib.sha256(b"fake_dist-1.0.dist-info/METADATA,,\n").hexdigest()
    assert f"fake-dist==1.0 record-sha256={record}" in provenance.build_lock().decode().splitlines()
    shutil.rmtree(info)
    assert not any(line.startswith("fake-dist==") for line in provenance.build_lock().decode().splitlines())
