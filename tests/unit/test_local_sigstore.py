"""The embedded Sigstore instance's parts: Merkle proofs, certificates, tokens, the log."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore._internal.sct import verify_sct
from sigstore.models import TrustedRoot

from opencode_release.devsigstore import LocalSigstore, fulcio, merkle, oidc, rekor, shards
from opencode_release.devsigstore.rekor import EntryError, TransparencyLog

ISSUER = "http://127.0.0.1/oidc"
IDENTITY = "release@opencode.local"


def _brute_root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_brute_root(leaves[:k]), _brute_root(leaves[k:]))


def test_merkle_roots_inclusion_and_consistency_match_rfc6962() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(21)]
    tree = merkle.TreeHasher(leaves)
    for size in range(1, 22):
        assert tree.root(size) == _brute_root(leaves[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert merkle.root_from_inclusion(index, size, leaves[index], proof) == tree.root(size)
        for old in range(1, size + 1):
            merkle.verify_consistency(old, size, tree.root(old), tree.root(size), tree.consistency_proof(old, size))


def test_merkle_rejects_altered_proofs() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(13)]
    tree = merkle.TreeHasher(leaves)
    proof = tree.inclusion_proof(5, 13)
    proof[1] = bytes(32)
    assert merkle.root_from_inclusion(5, 13, leaves[5], proof) != tree.root(13)
    with pytest.raises(merkle.ProofError, match="shorter"):
        merkle.root_from_inclusion(5, 13, leaves[5], tree.inclusion_proof(5, 13)[:-1])
    consistency = tree.consistency_proof(6, 13)
    with pytest.raises(merkle.ProofError, match="new root"):
        merkle.verify_consistency(6, 13, tree.root(6), tree.root(12), consistency)
    with pytest.raises(merkle.ProofError, match="old root"):
        merkle.verify_consistency(6, 13, tree.root(5), tree.root(13), consistency)


def _csr() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def test_certificate_profile_and_embedded_sct_pass_sigstore_checks(tmp_path: Path) -> None:
    local = LocalSigstore(tmp_path, ISSUER, IDENTITY)
    keys = local.keys()
    cert = fulcio.issue(keys, _csr(), fulcio.plain_principal(IDENTITY, ISSUER, IDENTITY))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.RFC822Name) == [IDENTITY]
    assert cert.subject == x509.Name([])
    issuer_ext = cert.extensions.get_extension_for_oid(fulcio.ISSUER_V1_OID).value
    assert isinstance(issuer_ext, x509.UnrecognizedExtension) and issuer_ext.value == ISSUER.encode()
    root = TrustedRoot.from_file(str(local.write_trusted_root()))
    from sigstore._internal.trust import KeyringPurpose

    verify_sct(cert, [keys.ca_cert], root.ct_keyring(KeyringPurpose.VERIFY))  # raises if the SCT is wrong
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc) == fulcio.CERT_LIFETIME
    # Keys are made once and reused: the trusted root stays the same.
    assert LocalSigstore(tmp_path, ISSUER, IDENTITY).trusted_root() == local.trusted_root()


def test_tokens_from_another_key_or_issuer_are_refused(tmp_path: Path) -> None:
    keys = LocalSigstore(tmp_path, ISSUER, IDENTITY).keys()
    good = oidc.mint(keys.oidc, ISSUER, IDENTITY)
    checked = oidc.check(good, keys.oidc.public_key(), (ISSUER,))
    assert (checked.issuer, checked.identity) == (ISSUER, IDENTITY)
    foreign = oidc.mint(ec.generate_private_key(ec.SECP256R1()), ISSUER, IDENTITY)
    with pytest.raises(oidc.TokenError, match="Signature verification failed"):
        oidc.check(foreign, keys.oidc.public_key(), (ISSUER,))
    with pytest.raises(oidc.TokenError, match="issuer"):
        oidc.check(oidc.mint(keys.oidc, "https://evil.example", IDENTITY), keys.oidc.public_key(), (ISSUER,))


def _hashedrekord(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, digest: bytes) -> dict[str, object]:
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    pem = base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": base64.b64encode(signature).decode(), "publicKey": {"content": pem}},
        },
    }


def test_log_is_append_only_on_disk_and_checkpoints_stay_consistent(tmp_path: Path) -> None:
    local = LocalSigstore(tmp_path, ISSUER, IDENTITY)
    keys = local.keys()
    signer = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(signer, hashes.SHA256())
    principal = fulcio.plain_principal(IDENTITY, ISSUER, IDENTITY)
    cert = fulcio.issue(keys, csr.public_bytes(serialization.Encoding.PEM), principal)
    log = local.log()
    for i in range(3):
        log.append(_hashedrekord(signer, cert, bytes([i]) * 32))
    first = log.info()
    # A second release, a new process: the log reopens from disk and keeps growing.
    later = local.log()
    assert later.size == 3
    (answer,) = later.append(_hashedrekord(signer, cert, b"\x09" * 32)).values()
    # Index 3 of the active shard, after the frozen shard's entries.
    assert answer["logIndex"] == shards.DEFAULT_INACTIVE_ENTRIES + 3
    assert answer["verification"]["inclusionProof"]["logIndex"] == 3
    second = later.info()
    proof = [bytes.fromhex(h) for h in later.consistency_proof(3, 4)]
    merkle.verify_consistency(3, 4, bytes.fromhex(first["rootHash"]), bytes.fromhex(second["rootHash"]), proof)
    lines = (tmp_path / "sigstore" / "log" / "entries.jsonl").read_text().splitlines()
    assert [json.loads(line)["logIndex"] for line in lines] == [0, 1, 2, 3]
    with pytest.raises(EntryError, match="signature does not verify"):
        bad = _hashedrekord(signer, cert, b"\x01" * 32)
        bad["spec"]["data"]["hash"]["value"] = (b"\x02" * 32).hex()  # type: ignore[index]
        later.append(bad)
    assert TransparencyLog(keys, tmp_path / "sigstore" / "log").size == 4


def test_log_is_sharded_like_public_rekor_and_keeps_its_layout(tmp_path: Path) -> None:
    local = LocalSigstore(tmp_path, ISSUER, IDENTITY, inactive_shard_entries=5)
    keys = local.keys()
    signer = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(signer, hashes.SHA256())
    cert = fulcio.issue(
        keys, csr.public_bytes(serialization.Encoding.PEM), fulcio.plain_principal(IDENTITY, ISSUER, IDENTITY)
    )
    log = local.log()
    ((entry_id, answer),) = log.append(_hashedrekord(signer, cert, b"\x07" * 32)).items()
    info = log.info()
    (frozen,) = info["inactiveShards"]
    active = int(info["treeID"])
    # The global index counts the frozen shard; the proof is for the active tree alone.
    assert (answer["logIndex"], answer["verification"]["inclusionProof"]["logIndex"]) == (5, 0)
    assert entry_id == f"{active:016x}{merkle.leaf_hash(base64.b64decode(answer['body'])).hex()}"
    assert (
        answer["logID"]
        == hashlib.sha256(
            keys.rekor.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).hexdigest()
    )
    # Each shard's tree head names its tree and is signed by the one log key.
    for tree, size, root, note in (
        (active, 1, info["rootHash"], answer["verification"]["inclusionProof"]["checkpoint"]),
        (int(frozen["treeID"]), 5, frozen["rootHash"], frozen["signedTreeHead"]),
    ):
        body, signature_line = note.split("\n\n")
        assert body.splitlines() == [
            f"{rekor.LOG_NAME} - {tree}",
            str(size),
            base64.b64encode(bytes.fromhex(root)).decode(),
        ]
        raw = base64.b64decode(signature_line.split(" ")[2])
        assert raw[:4] == keys.rekor_log_id[:4]
        keys.rekor.public_key().verify(raw[4:], (body + "\n").encode(), ec.ECDSA(hashes.SHA256()))
    assert tree != active and info["treeSize"] == 1
    # The trusted root keeps one v1 log: the shards share its key.
    v1 = [t for t in local.trusted_root()["tlogs"] if t["baseUrl"] == rekor.LOG_BASE_URL]
    assert [base64.b64decode(t["logId"]["keyId"]) for t in v1] == [keys.rekor_log_id]
    # Reopened, the log keeps its layout; asking for another is an error, not a reshard.
    assert LocalSigstore(tmp_path, ISSUER, IDENTITY).log().info()["inactiveShards"] == [frozen]
    with pytest.raises(shards.ShardLayoutError, match="already has 5 inactive-shard entries, not 7"):
        LocalSigstore(tmp_path, ISSUER, IDENTITY, inactive_shard_entries=7).log()


def test_instance_serves_while_running_and_closes_its_port_when_the_block_ends(tmp_path: Path) -> None:
    import http.client
    import socket
    import threading
    from urllib.parse import urlsplit

    with LocalSigstore(tmp_path, ISSUER, IDENTITY).running() as session:
        url = urlsplit(session.url)
        assert url.hostname and url.port
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        connection.request("GET", "/api/v1/log")
        assert json.load(connection.getresponse())["treeSize"] == 0
        connection.close()
    assert not any(t.name == "local-sigstore" for t in threading.enumerate())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((url.hostname, url.port), timeout=5)
