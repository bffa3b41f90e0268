"""The release's own attestation, signing and verify stages, end to end, on a real snapshot build."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release import pipeline, session

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_attested_signed_release_passes_verify_stage_cli_and_npm(release_copy: Path, tmp_path: Path) -> None:
    settings = config.load(release_copy / "pyproject.toml")
    # Every kind of deliverable a snapshot release has: archive, .deb, wheel and sdist.
    names = ("deb", "python-dists", "checksum", "sbom", "provenance", "release-statement", "sign", "verify")
    _, report = session.run(settings, pipeline.stages_named(names), session.Request(snapshot=True, quiet=True))
    assert {r.name: r.status for r in report.results} == dict.fromkeys(names, "ran")
    root = release_copy.parent / "dist" / "1.4.0"
    ledger = Ledger.load(root)
    assert ledger.by_kind(ArtifactKind.PROVENANCE) and ledger.by_kind(ArtifactKind.ATTESTATION)
    assert (
        ledger.by_kind(ArtifactKind.DEB) and ledger.by_kind(ArtifactKind.WHEEL) and ledger.by_kind(ArtifactKind.SDIST)
    )

    # A distributor, elsewhere, with only the release and the trusted root it was given.
    script = Path(sys.executable).parent / "opencode-release"
    proc = subprocess.run(
        [
            str(script),
            "verify-release",
            str(root),
            "--instance",
            "local",
            "--trusted-root",
            str(root / "sigstore-trusted-root.json"),
            "--json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(proc.stdout)["artifacts"]
    archive = next(r for r in rows if r["kind"] == ArtifactKind.ARCHIVE)
    assert {"digest", "sha256sums", "sigstore", "provenance-subject", "sbom-statement"} <= set(archive["passed"])
    statement = next(r for r in rows if r["kind"] == ArtifactKind.RELEASE_STATEMENT)
    assert {"release-statement", "ledger", "version", "not-covered", "path"} <= set(statement["passed"])
    provenance = next(r for r in rows if r["kind"] == ArtifactKind.PROVENANCE)
    assert {"provenance-type", "provenance-builder", "provenance-source"} <= set(provenance["passed"])

    # The second, independent verifier accepts every bundle the stage wrote.
    pairs = []
    for bundle in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE):
        subject = ledger.get(bundle.related("signature_of")[0])
        pairs.append(f"{ledger.file(bundle)}={'-' if bundle.facts['content'] == 'dsse' else ledger.file(subject)}")
    node = subprocess.run(
        [
            "node",
            str(REPO / "tests/js/verify_bundles.js"),
            str(root / "sigstore-trusted-root.json"),
            settings.signing.identity,
            settings.signing.issuer,
            *pairs,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert node.returncode == 0, node.stdout + node.stderr
    assert len(node.stdout.splitlines()) == len(pairs) >= 8
