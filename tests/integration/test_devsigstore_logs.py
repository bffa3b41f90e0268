"""The embedded instance's transparency logs and timestamp authority, as two real clients see them.

Bundles are signed with sigstore-python through the instance's own signing
config and verified with sigstore-python's Verifier and with npm
@sigstore/verify: Rekor v1 (SET) and Rekor v2 (no SET, checkpoint signed with
Ed25519 and co-signed by a witness, time from the RFC 3161 timestamp authority).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sigstore import dsse
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig, InvalidBundle
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from opencode_release.devsigstore import LocalSigstore, Session, rekor, rekor_v2, shards
from tests.conftest import REPO

pytestmark = pytest.mark.integration

ISSUER = "http://127.0.0.1/oidc"
IDENTITY = "release@opencode.local"
PAYLOAD = b"opencode 1.4.0\n"
STATEMENT = json.dumps(
    {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "opencode.tar.gz", "digest": {"sha256": "ab" * 32}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
    }
).encode()
EXPECTED = policy.Identity(identity=IDENTITY, issuer=ISSUER)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


def _sign(session: Session) -> tuple[ClientTrustConfig, Bundle, Bundle]:
    config = ClientTrustConfig.from_json(session.trust_config_path.read_text(encoding="utf-8"))
    with SigningContext.from_trust_config(config).signer(IdentityToken(session.identity_token())) as signer:
        return config, signer.sign_artifact(PAYLOAD), signer.sign_dsse(dsse.Statement(STATEMENT))


@pytest.fixture(scope="module", params=[(1, False), (1, True), (2, True)], ids=["rekor-v1", "rekor-v1-tsa", "rekor-v2"])
def signed(request: pytest.FixtureRequest, state: Path) -> Iterator[tuple[int, ClientTrustConfig, Bundle, Bundle]]:
    version, timestamps = request.param
    with LocalSigstore(state, ISSUER, IDENTITY).running(rekor_version=version, timestamps=timestamps) as session:
        config, artifact, statement = _sign(session)
        stamps = _data(artifact)["verificationMaterial"].get("timestampVerificationData", {}).get("rfc3161Timestamps")
        assert bool(stamps) == timestamps
        yield version, config, artifact, statement


def _data(bundle: Bundle) -> dict[str, Any]:
    return json.loads(bundle.to_json())  # type: ignore[no-any-return]


def _entry(bundle: Bundle) -> dict[str, Any]:
    (entry,) = _data(bundle)["verificationMaterial"]["tlogEntries"]
    return entry  # type: ignore[no-any-return]


def test_sigstore_python_verifies_both_logs(signed: tuple[int, ClientTrustConfig, Bundle, Bundle]) -> None:
    version, config, artifact, statement = signed
    verifier = Verifier(trusted_root=config.trusted_root)
    verifier.verify_artifact(PAYLOAD, artifact, EXPECTED)
    assert verifier.verify_dsse(statement, EXPECTED)[1] == STATEMENT
    kinds = [_entry(artifact)["kindVersion"], _entry(statement)["kindVersion"]]
    if version == 1:
        assert kinds == [{"kind": "hashedrekord", "version": "0.0.1"}, {"kind": "dsse", "version": "0.0.1"}]
    else:  # sigstore-python logs DSSE in Rekor v2 as a hashedrekord over its PAE
        assert kinds == [{"kind": "hashedrekord", "version": "0.0.2"}] * 2
    with pytest.raises(VerificationError):
        verifier.verify_artifact(PAYLOAD + b"x", artifact, EXPECTED)


def test_rekor_v2_entries_have_no_set_and_take_time_from_the_tsa(state: Path) -> None:
    with LocalSigstore(state, ISSUER, IDENTITY).running(rekor_version=2) as session:
        config, artifact, statement = _sign(session)
    keys = LocalSigstore(state, ISSUER, IDENTITY).keys()
    for bundle in (artifact, statement):
        entry = _entry(bundle)
        assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
        assert "inclusionPromise" not in entry and not int(entry.get("integratedTime", 0))
        assert entry["logIndex"] == entry["inclusionProof"]["logIndex"]
        (stamp,) = _data(bundle)["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        assert stamp["signedTimestamp"]
        # The checkpoint: the log's Ed25519 signature over the note, then the witness's cosignature.
        note, signatures = entry["inclusionProof"]["checkpoint"]["envelope"].split("\n\n")
        log_line, witness_line = signatures.splitlines()
        assert note.splitlines() == [
            rekor_v2.ORIGIN,
            entry["inclusionProof"]["treeSize"],
            entry["inclusionProof"]["rootHash"],
        ]
        assert log_line.startswith(f"\u2014 {rekor_v2.ORIGIN} ") and witness_line.startswith(
            f"\u2014 {rekor_v2.WITNESS_NAME} "
        )
        raw = base64.b64decode(log_line.rsplit(" ", 1)[1])
        assert raw[:4] == base64.b64decode(entry["logId"]["keyId"])[:4]
        keys.rekor_v2.public_key().verify(raw[4:], (note + "\n").encode())
        cosignature = base64.b64decode(witness_line.rsplit(" ", 1)[1])
        witnessed = int.from_bytes(cosignature[4:12], "big")
        keys.witness.public_key().verify(cosignature[12:], f"cosignature/v1\ntime {witnessed}\n{note}\n".encode())
    verifier = Verifier(trusted_root=config.trusted_root)
    # Without its timestamp a v2 bundle has no signed time at all: refused.
    data = _data(artifact)
    del data["verificationMaterial"]["timestampVerificationData"]
    with pytest.raises((VerificationError, InvalidBundle)):
        verifier.verify_artifact(PAYLOAD, Bundle.from_json(json.dumps(data)), EXPECTED)
    # A checkpoint signed by another Ed25519 key is refused.
    data = _data(artifact)
    proof = data["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    note = proof["checkpoint"]["envelope"].split("\n\n")[0] + "\n"
    forged = ed25519.Ed25519PrivateKey.generate().sign(note.encode())
    hint = base64.b64decode(data["verificationMaterial"]["tlogEntries"][0]["logId"]["keyId"])[:4]
    proof["checkpoint"]["envelope"] = f"{note}\n\u2014 {rekor_v2.ORIGIN} {base64.b64encode(hint + forged).decode()}\n"
    with pytest.raises(VerificationError, match="checkpoint"):
        verifier.verify_artifact(PAYLOAD, Bundle.from_json(json.dumps(data)), EXPECTED)


def _verify_js(root: Path, pairs: list[tuple[Path, Path | None]]) -> list[dict[str, Any]]:
    args = [f"{bundle}={artifact or '-'}" for bundle, artifact in pairs]
    run = subprocess.run(
        ["node", str(REPO / "tests/js/verify_bundles.js"), str(root), IDENTITY, ISSUER, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_sigstore_js_verifies_both_logs_and_refuses_a_v2_bundle_without_time(
    signed: tuple[int, ClientTrustConfig, Bundle, Bundle], tmp_path: Path
) -> None:
    version, config, artifact, statement = signed
    root = tmp_path / "trusted_root.json"
    root.write_text(config.trusted_root._inner.to_json(), encoding="utf-8")
    payload = tmp_path / "payload"
    payload.write_bytes(PAYLOAD)
    paths = {}
    for name, bundle in (("artifact", artifact), ("statement", statement)):
        paths[name] = tmp_path / f"{name}.sigstore.json"
        paths[name].write_text(bundle.to_json(), encoding="utf-8")
    results = _verify_js(root, [(paths["artifact"], payload), (paths["statement"], None)])
    assert [r["ok"] for r in results] == [True, True], results
    if version == 2:
        data = _data(artifact)
        data["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] = []
        untimed = tmp_path / "untimed.sigstore.json"
        untimed.write_text(json.dumps(data), encoding="utf-8")
        (result,) = _verify_js(root, [(untimed, payload)])
        assert not result["ok"] and "timestamp" in result["error"], result


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback only
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_rekor_v2_takes_a_dsse_request_as_its_api_has_it(state: Path, tmp_path: Path) -> None:
    """sigstore-python logs DSSE as a hashedrekord; other clients send dsseRequestV002. sigstore-js
    verifies the dsse 0.0.2 entry the log makes of it; sigstore-python 4.5.1 cannot (it knows
    only hashedrekord 0.0.2 for DSSE in v2) and says so."""
    with LocalSigstore(state, ISSUER, IDENTITY).running(rekor_version=2) as session:
        config, _, statement = _sign(session)
        data = _data(statement)
        certificate = data["verificationMaterial"]["certificate"]["rawBytes"]
        envelope = data["dsseEnvelope"]
        request = {
            "dsseRequestV002": {
                "envelope": {
                    "payload": envelope["payload"],
                    "payloadType": envelope["payloadType"],
                    "signatures": [{"sig": s["sig"], "keyid": ""} for s in envelope["signatures"]],
                },
                "verifiers": [{"x509Certificate": {"rawBytes": certificate}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}],
            }
        }
        status, entry = _post(f"{session.url}/api/v2/log/entries", request)
        assert status == 201
        tampered = json.loads(json.dumps(request))
        tampered["dsseRequestV002"]["envelope"]["payload"] = base64.b64encode(b"{}").decode()
        status, refused = _post(f"{session.url}/api/v2/log/entries", tampered)
        assert status == 400 and "verifies with none" in refused["message"]
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.2"}
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    assert body["spec"]["dsseV002"]["payloadHash"] == {
        "algorithm": "SHA2_256",
        "digest": base64.b64encode(hashlib.sha256(STATEMENT).digest()).decode(),
    }
    data["verificationMaterial"]["tlogEntries"] = [entry]
    bundle_path, root = tmp_path / "dsse-v2.sigstore.json", tmp_path / "trusted_root.json"
    bundle_path.write_text(json.dumps(data), encoding="utf-8")
    root.write_text(config.trusted_root._inner.to_json(), encoding="utf-8")
    (result,) = _verify_js(root, [(bundle_path, None)])
    assert result["ok"], result
    with pytest.raises(VerificationError, match=r"Unsupported DSSE log entry type: dsse/0\.0\.2"):
        Verifier(trusted_root=config.trusted_root).verify_dsse(Bundle.from_json(json.dumps(data)), EXPECTED)


def _relabel(bundle: Bundle, global_index: int | None, proof_index: int | None) -> dict[str, Any]:
    data = _data(bundle)
    (entry,) = data["verificationMaterial"]["tlogEntries"]
    if global_index is not None:
        entry["logIndex"] = str(global_index)
    if proof_index is not None:
        entry["inclusionProof"]["logIndex"] = str(proof_index)
    return data


def _refused_by_both(
    config: ClientTrustConfig, good: Bundle, variants: dict[str, tuple[dict[str, Any], str, str]], tmp_path: Path
) -> None:
    """`good` verifies with sigstore-python and sigstore-js; each variant is refused by both
    with the variant's reasons: a pattern of sigstore-python's, a part of sigstore-js's."""
    verifier = Verifier(trusted_root=config.trusted_root)
    verifier.verify_artifact(PAYLOAD, good, EXPECTED)
    root, payload = tmp_path / "trusted_root.json", tmp_path / "payload"
    root.write_text(config.trusted_root._inner.to_json(), encoding="utf-8")
    payload.write_bytes(PAYLOAD)
    pairs: list[tuple[Path, Path | None]] = [(tmp_path / "good.sigstore.json", payload)]
    pairs[0][0].write_text(good.to_json(), encoding="utf-8")
    for name, (data, reason, _) in variants.items():
        with pytest.raises((VerificationError, InvalidBundle), match=reason):
            verifier.verify_artifact(PAYLOAD, Bundle.from_json(json.dumps(data)), EXPECTED)
        pairs.append((tmp_path / f"{name}.sigstore.json", payload))
        pairs[-1][0].write_text(json.dumps(data), encoding="utf-8")
    results = _verify_js(root, pairs)
    assert results[0]["ok"] and len(results) == 1 + len(variants), results
    for result, (_, _, js_reason) in zip(results[1:], variants.values(), strict=True):
        assert not result["ok"] and js_reason in result["error"], result


def test_rekor_v1_is_sharded_like_the_public_log_and_a_swapped_index_is_refused(state: Path, tmp_path: Path) -> None:
    """Public Rekor v1's bundles carry a global logIndex (all shards) and an inclusion proof for the
    active shard's tree at the index inside it; both verifiers accept that, and refuse the two swapped."""
    with LocalSigstore(state, ISSUER, IDENTITY).running(rekor_version=1) as session:
        _, artifact, statement = _sign(session)
        shards_ = session.log.shards
        config = ClientTrustConfig.from_json(session.trust_config_json)
    assert shards_.offset == shards.DEFAULT_INACTIVE_ENTRIES > 0
    (v1_log,) = [t for t in json.loads(session.trusted_root_json)["tlogs"] if t["baseUrl"] == rekor.LOG_BASE_URL]
    for bundle in (artifact, statement):
        entry = _entry(bundle)
        assert int(entry["logIndex"]) == shards_.offset + int(entry["inclusionProof"]["logIndex"])
        origin = entry["inclusionProof"]["checkpoint"]["envelope"].splitlines()[0]
        assert origin == f"{rekor.LOG_NAME} - {shards_.active_tree_id}"
        assert entry["logId"]["keyId"] == v1_log["logId"]["keyId"]
    entry = _entry(artifact)
    global_index, proof_index = int(entry["logIndex"]), int(entry["inclusionProof"]["logIndex"])
    variants = {
        # The global index is past the active tree: no proof can be for it.
        "swapped": (
            _relabel(artifact, proof_index, global_index),
            "must be less than treeSize",
            "TLOG_INCLUSION_PROMISE_ERROR",
        ),
        # The SET covers the global index.
        "global-index-only": (_relabel(artifact, proof_index, None), "SET", "TLOG_INCLUSION_PROMISE_ERROR"),
    }
    _refused_by_both(config, artifact, variants, tmp_path)


def test_a_swapped_index_inside_the_active_tree_fails_the_inclusion_proof(tmp_path: Path) -> None:
    """With one frozen entry and a grown active tree, the swapped proof index lies inside the tree:
    sigstore-python's Merkle check refuses it (sigstore-js checks the SET first), and a proof index
    changed alone fails the Merkle check of both."""
    with LocalSigstore(tmp_path / "state", ISSUER, IDENTITY, inactive_shard_entries=1).running() as session:
        config, artifact, _ = _sign(session)
        _sign(session)  # the active tree grows past the artifact's entry
        (reproved,) = session.finish([artifact.to_json()])
    good = Bundle.from_json(reproved)
    entry = _entry(good)
    global_index, proof_index = int(entry["logIndex"]), int(entry["inclusionProof"]["logIndex"])
    assert (global_index, proof_index) == (1, 0) and int(entry["inclusionProof"]["treeSize"]) == 4
    variants = {
        "swapped": (_relabel(good, proof_index, global_index), "inclusion proof", "TLOG_INCLUSION_PROMISE_ERROR"),
        "proof-index-only": (_relabel(good, None, global_index), "inclusion proof", "TLOG_INCLUSION_PROOF_ERROR"),
    }
    _refused_by_both(config, good, variants, tmp_path)
