"""Signing a real snapshot release with the embedded local Sigstore instance."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from sigstore.models import Bundle

from opencode_release.attest.stages import SignStage
from opencode_release.core import config
from opencode_release.core.errors import StageError
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.devsigstore import LocalSigstore, merkle, oidc, rekor
from opencode_release.release import session
from tests.integration import signed_release

pytestmark = pytest.mark.integration


def test_every_uploadable_artifact_gets_a_verified_bundle(release_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens: list[str] = []
    real_mint = oidc.mint

    def spy(*args: Any, **kwargs: Any) -> str:
        tokens.append(real_mint(*args, **kwargs))
        return tokens[-1]

    monkeypatch.setattr(oidc, "mint", spy)
    ledger = signed_release.sign(release_copy)
    signed = {a.related("signature_of")[0]: a for a in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE)}
    expected = {
        a.id for a in ledger.uploadable() if a.kind not in (ArtifactKind.SIGSTORE_BUNDLE, ArtifactKind.TRUST_ROOT)
    }
    assert set(signed) == expected and len(expected) >= 6
    for subject_id, bundle_artifact in signed.items():
        subject = ledger.get(subject_id)
        assert bundle_artifact.path == subject.path + ".sigstore.json"
        bundle = Bundle.from_json(ledger.file(bundle_artifact).read_bytes())
        dsse = subject.kind in (ArtifactKind.PROVENANCE, ArtifactKind.ATTESTATION, ArtifactKind.RELEASE_STATEMENT)
        assert (bundle._dsse_envelope is not None) == dsse
        assert bundle_artifact.facts["content"] == ("dsse" if dsse else "message_signature")
        assert bundle_artifact.facts["identity"] == "release@opencode.local"
    (root,) = ledger.by_kind(ArtifactKind.TRUST_ROOT)
    state = release_copy.parent / ".opencode-release" / "sigstore"
    assert json.loads(ledger.file(root).read_text()) == json.loads((state / "trusted_root.json").read_text())
    # The token never lands anywhere: not in the release, the ledger, or the state folder.
    assert tokens
    files = [p for p in release_copy.parent.rglob("*") if p.is_file() and p.stat().st_size < 1 << 20]
    for token in tokens:
        signature = token.rsplit(".", 1)[1].encode()
        assert not [p for p in files if signature in p.read_bytes()]


def test_log_keeps_growing_across_releases_and_checkpoints_are_consistent(release_copy: Path) -> None:
    ledger = signed_release.sign(release_copy)
    first_size = len(ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE))
    local = LocalSigstore(release_copy.parent / ".opencode-release", "http://127.0.0.1/oidc", "release@opencode.local")
    first = local.log().info()
    assert first["treeSize"] == first_size
    # The next release (here: the same one signed again) appends to the same log.
    (ledger.root / "SHA256SUMS.sigstore.json").unlink()  # an output gone: the stage runs again
    settings = config.load(release_copy / "pyproject.toml")
    session.run(settings, [SignStage()], session.Request(snapshot=True, quiet=True))
    log = local.log()
    second = log.info()
    assert second["treeSize"] == 2 * first_size
    proof = [bytes.fromhex(h) for h in log.consistency_proof(first_size)]
    merkle.verify_consistency(
        first_size, second["treeSize"], bytes.fromhex(first["rootHash"]), bytes.fromhex(second["rootHash"]), proof
    )
    later = Ledger.load(signed_release.release_root(release_copy))
    # Global indexes (the log is sharded): after the frozen shard's entries and the first release's.
    offset = log.shards.offset
    indexes = sorted(a.facts["log_index"] for a in later.by_kind(ArtifactKind.SIGSTORE_BUNDLE))
    assert offset > 0 and indexes == list(range(offset + first_size, offset + 2 * first_size))


def test_a_statement_that_is_not_in_toto_stops_signing_and_leaves_no_bundle(release_copy: Path) -> None:
    root = signed_release.release_root(release_copy)
    ledger = Ledger.load(root)
    bogus = root / "provenance.intoto.json"
    bogus.write_text('{"not": "a statement"}')
    ledger.record(bogus, ArtifactKind.PROVENANCE)
    ledger.save()
    settings = config.load(release_copy / "pyproject.toml")
    with pytest.raises(StageError, match=r"provenance.intoto.json: not an in-toto statement"):
        session.run(settings, [SignStage()], session.Request(snapshot=True, quiet=True))
    assert not list(root.rglob("*.sigstore.json"))
    assert not (root / "sigstore-trusted-root.json").exists()


def test_a_log_answer_that_does_not_verify_stops_signing_before_anything_is_kept(
    release_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client checks only the certificate's SCT when it signs; a bad SET from the log
    # must be caught by the verification right after signing.
    real_entry = rekor.TransparencyLog.entry

    def bad_set(self: rekor.TransparencyLog, index: int, tree_size: int | None = None) -> dict[str, Any]:
        answer = real_entry(self, index, tree_size)
        signature = bytearray(base64.b64decode(answer["verification"]["signedEntryTimestamp"]))
        signature[-1] ^= 1
        answer["verification"]["signedEntryTimestamp"] = base64.b64encode(bytes(signature)).decode()
        return answer

    monkeypatch.setattr(rekor.TransparencyLog, "entry", bad_set)
    root = signed_release.release_root(release_copy)
    settings = config.load(release_copy / "pyproject.toml")
    with pytest.raises(StageError, match=r"bundle failed verification right after signing: .*SET"):
        session.run(settings, [SignStage()], session.Request(snapshot=True, quiet=True))
    assert not list(root.rglob("*.sigstore.json")) and not (root / "sigstore-trusted-root.json").exists()
    assert not Ledger.load(root).by_kind(ArtifactKind.SIGSTORE_BUNDLE)
