"""The image's evidence: each manifest and the index signed, with an SBOM statement, in provenance and statement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sigstore.models import Bundle

from opencode_release.core import oci
from opencode_release.core.ledger import ArtifactKind, Ledger


def test_every_image_subject_is_signed_attested_and_listed(signed_image_product: Path, tmp_path: Path) -> None:
    root = signed_image_product.parent / "dist" / "1.4.0"
    ledger = Ledger.load(root)
    subjects = [*ledger.by_kind(ArtifactKind.IMAGE_INDEX), *ledger.by_kind(ArtifactKind.IMAGE_MANIFEST)]
    assert len(subjects) == 2
    bundles = {b.related("signature_of")[0]: b for b in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE)}
    provenance = json.loads(ledger.file(ledger.by_kind(ArtifactKind.PROVENANCE)[0]).read_bytes())
    statement = json.loads(ledger.file(ledger.by_kind(ArtifactKind.RELEASE_STATEMENT)[0]).read_bytes())
    for subject in subjects:
        digest = str(subject.facts["digest"])
        assert digest == oci.sha256_digest(ledger.file(subject).read_bytes())
        # the signature is over the manifest's bytes: its message digest is the image digest
        bundle = Bundle.from_json(ledger.file(bundles[subject.id]).read_bytes())
        signed = bundle._inner.message_signature
        assert signed is not None and signed.message_digest is not None
        assert signed.message_digest.digest.hex() == digest.split(":")[1]
        (attestation,) = [a for a in ledger.by_kind(ArtifactKind.ATTESTATION) if subject.id in a.related("attests")]
        sbom_statement = json.loads(ledger.file(attestation).read_bytes())
        assert sbom_statement["predicateType"] == "https://cyclonedx.org/bom"
        assert sbom_statement["subject"][0]["digest"]["sha256"] == digest.split(":")[1]
        assert bundles[attestation.id].facts["content"] == "dsse"
        assert digest.split(":")[1] in {s["digest"]["sha256"] for s in provenance["subject"]}
        assert subject.path in {f["path"] for f in statement["predicate"]["files"]}
        components = {c["name"]: c for c in sbom_statement["predicate"]["components"]}
        libc = components["libc6"]
        assert libc["purl"].startswith("pkg:deb/debian/libc6@") and "arch=amd64" in libc["purl"]

    # A distributor with only the folder and the trusted root: verify-release covers the image files too.
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "opencode-release"),
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
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {r["artifact"]: r for r in json.loads(done.stdout)["artifacts"]}
    for subject in subjects:
        assert "sigstore" in rows[subject.path]["passed"]
