"""`signing.rekor-version` chooses the embedded instance's log a snapshot signs into; two clients verify."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy

from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.core.names import TRUST_ROOT_NAME
from tests.conftest import REPO
from tests.integration import signed_release

pytestmark = pytest.mark.integration

IDENTITY, ISSUER = "release@opencode.local", "http://127.0.0.1/oidc"


def _set_rekor_version(product: Path, version: int) -> None:
    pyproject = product / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    table = "[tool.opencode-release.signing]\n"
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("rekor-version")]
    pyproject.write_text("".join(lines).replace(table, f"{table}rekor-version = {version}\n"), encoding="utf-8")
    assert config.load(pyproject).signing.rekor_version == version


def _bundles(ledger: Ledger) -> list[tuple[Path, Path | None, Bundle]]:
    """(bundle file, the artifact it signs or None for a DSSE statement, the bundle)."""
    found = []
    for artifact in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE):
        subject = ledger.get(artifact.related("signature_of")[0])
        dsse = artifact.facts["content"] == "dsse"
        path = ledger.file(artifact)
        found.append((path, None if dsse else ledger.file(subject), Bundle.from_json(path.read_bytes())))
    return found


def test_rekor_version_2_signs_into_the_v2_log_with_timestamps_and_back(release_copy: Path) -> None:
    _set_rekor_version(release_copy, 2)
    ledger = signed_release.sign(release_copy)
    root_file = ledger.root / TRUST_ROOT_NAME
    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(root_file)))
    expected = policy.Identity(identity=IDENTITY, issuer=ISSUER)
    signed = _bundles(ledger)
    assert len(signed) >= 6
    checkpoints = set()
    for path, artifact, bundle in signed:
        data = json.loads(bundle.to_json())
        (entry,) = data["verificationMaterial"]["tlogEntries"]
        assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}, path
        assert "inclusionPromise" not in entry and data["verificationMaterial"]["timestampVerificationData"]
        checkpoints.add(entry["inclusionProof"]["checkpoint"]["envelope"])
        if artifact is None:
            verifier.verify_dsse(bundle, expected)
        else:
            verifier.verify_artifact(artifact.read_bytes(), bundle, expected)
    assert len(checkpoints) == 1  # proven against one checkpoint, as with Rekor v1
    facts = [a.facts for a in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE)]
    assert all(f["integrated_time"] == 0 for f in facts)
    run = subprocess.run(
        [
            "node",
            str(REPO / "tests/js/verify_bundles.js"),
            str(root_file),
            IDENTITY,
            ISSUER,
            *(f"{path}={artifact or '-'}" for path, artifact, _ in signed),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(signed) and all(r["ok"] for r in results), run.stdout + run.stderr
    # Back to Rekor v1: the changed setting alone makes the stage sign again, into v1 with SETs.
    _set_rekor_version(release_copy, 1)
    again = signed_release.sign(release_copy)
    for path, _, bundle in _bundles(again):
        (entry,) = json.loads(bundle.to_json())["verificationMaterial"]["tlogEntries"]
        assert entry["kindVersion"]["version"] == "0.0.1" and "inclusionPromise" in entry, path
