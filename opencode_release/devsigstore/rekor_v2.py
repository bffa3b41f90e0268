"""The local Rekor v2: hashedrekord and dsse 0.0.2 entries, checkpoints signed with Ed25519.

What a client sees is Rekor v2's (rekor-tiles) write API: `POST /api/v2/log/entries`
with a `CreateEntryRequest` (`hashedRekordRequestV002` or `dsseRequestV002`),
answered by the integrated `TransparencyLogEntry` as protobuf JSON: an inclusion
proof with a checkpoint, the canonicalized body, and no SET and no integrated
time (a v2 log promises nothing: time comes from a timestamp authority).
sigstore-python 4.5.1 logs a DSSE envelope as a hashedrekord over its PAE
(rekor-v2-spec 6.1.4); a dsse request is accepted too, as the log's API has it.

The checkpoint is a C2SP signed note: origin line, size, base64 root, then one
Ed25519 signature line whose 4-byte key hint is the first bytes of
sha256(origin | 0x0A | 0x01 | public key), the same 32 bytes that name the log
(`logId.keyId`) in the trusted root. A local witness co-signs every checkpoint
(C2SP tlog-cosignature), so verifiers meet the extra signature lines the
public-good log's witnesses add.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import time
from pathlib import Path
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ..core.formats import pae
from .keys import InstanceKeys, raw_ed25519
from .log_store import EntryStore
from .rekor import EntryError

ORIGIN = "rekor-v2.opencode-release.local"
LOG_BASE_URL = f"http://{ORIGIN}"
WITNESS_NAME = "witness.opencode-release.local"
API_VERSION = "0.0.2"
# Signature types of C2SP signed-note keys: the byte after the name in a key hash.
_ED25519_NOTE, _COSIGNATURE_V1 = b"\x01", b"\x04"
_KEY_DETAILS = "PKIX_ECDSA_P256_SHA_256"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise EntryError(f"{field}: expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise EntryError(f"{field}: not base64: {exc}") from None


def note_key_id(name: str, signature_type: bytes, public_raw: bytes) -> bytes:
    """sha256(name | 0x0A | type | key): the first 4 bytes are a signature line's key hint."""
    return hashlib.sha256(name.encode() + b"\n" + signature_type + public_raw).digest()


def _verifier_key(verifier: Any, field: str) -> tuple[dict[str, Any], ec.EllipticCurvePublicKey]:
    """The verifier as the log stores it, and the EC key it names."""
    if not isinstance(verifier, dict) or verifier.get("keyDetails") != _KEY_DETAILS:
        raise EntryError(f"{field}: expected keyDetails {_KEY_DETAILS}")
    certificate = verifier.get("x509Certificate")
    if not isinstance(certificate, dict):
        raise EntryError(f"{field}.x509Certificate: missing (keyless signing names a certificate)")
    der = _unb64(certificate.get("rawBytes"), f"{field}.x509Certificate.rawBytes")
    try:
        key = x509.load_der_x509_certificate(der).public_key()
    except ValueError as exc:
        raise EntryError(f"{field}.x509Certificate: not a DER certificate: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise EntryError(f"{field}: the certificate's key is not an EC key")
    return {"keyDetails": _KEY_DETAILS, "x509Certificate": {"rawBytes": _b64(der)}}, key


def _hashedrekord(request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or not isinstance(request.get("signature"), dict):
        raise EntryError("hashedRekordRequestV002: expected digest and signature")
    digest = _unb64(request.get("digest"), "hashedRekordRequestV002.digest")
    if len(digest) != 32:
        raise EntryError("hashedRekordRequestV002.digest: only SHA2_256 digests are accepted")
    signature = _unb64(request["signature"].get("content"), "hashedRekordRequestV002.signature.content")
    verifier, key = _verifier_key(request["signature"].get("verifier"), "hashedRekordRequestV002.signature.verifier")
    try:
        key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        raise EntryError("hashedRekordRequestV002: signature does not verify over the digest") from None
    spec = {
        "data": {"algorithm": "SHA2_256", "digest": _b64(digest)},
        "signature": {"content": _b64(signature), "verifier": verifier},
    }
    return {"apiVersion": API_VERSION, "kind": "hashedrekord", "spec": {"hashedRekordV002": spec}}


def _dsse(request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or not isinstance(request.get("envelope"), dict):
        raise EntryError("dsseRequestV002: expected envelope and verifiers")
    envelope, verifiers = request["envelope"], request.get("verifiers")
    payload = _unb64(envelope.get("payload"), "dsseRequestV002.envelope.payload")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str) or not isinstance(verifiers, list) or not verifiers:
        raise EntryError("dsseRequestV002: expected envelope.payloadType and at least one verifier")
    keys = [_verifier_key(v, f"dsseRequestV002.verifiers[{i}]") for i, v in enumerate(verifiers)]
    signed, signatures = pae(payload_type, payload), []
    for i, entry in enumerate(envelope.get("signatures") or []):
        raw = _unb64(entry.get("sig") if isinstance(entry, dict) else None, f"dsseRequestV002.signatures[{i}].sig")
        for stored, key in keys:
            try:
                key.verify(raw, signed, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            signatures.append({"content": _b64(raw), "verifier": stored})
            break
        else:
            raise EntryError(f"dsseRequestV002.signatures[{i}]: verifies with none of the verifiers")
    if not signatures:
        raise EntryError("dsseRequestV002.envelope: no signatures")
    spec = {
        "payloadHash": {"algorithm": "SHA2_256", "digest": _b64(hashlib.sha256(payload).digest())},
        "signatures": signatures,
    }
    return {"apiVersion": API_VERSION, "kind": "dsse", "spec": {"dsseV002": spec}}


def canonical_body(request: dict[str, Any]) -> tuple[str, bytes]:
    """The entry kind and the RFC 8785 body the log stores for a CreateEntryRequest."""
    kinds = [k for k in ("hashedRekordRequestV002", "dsseRequestV002") if k in request]
    if len(kinds) != 1:
        raise EntryError("expected exactly one of hashedRekordRequestV002 or dsseRequestV002")
    body = _hashedrekord(request[kinds[0]]) if kinds[0] == "hashedRekordRequestV002" else _dsse(request[kinds[0]])
    return str(body["kind"]), rfc8785.dumps(body)


class TransparencyLogV2:
    def __init__(self, keys: InstanceKeys, folder: Path) -> None:
        self.keys = keys
        self.store = EntryStore(folder)
        self.log_id = note_key_id(ORIGIN, _ED25519_NOTE, raw_ed25519(keys.rekor_v2.public_key()))
        self._witness_hint = note_key_id(WITNESS_NAME, _COSIGNATURE_V1, raw_ed25519(keys.witness.public_key()))[:4]

    @property
    def size(self) -> int:
        return self.store.size

    def append(self, request: dict[str, Any]) -> dict[str, Any]:
        """Integrate a CreateEntryRequest; the TransparencyLogEntry (protobuf JSON)."""
        kind, body = canonical_body(request)
        index = self.store.append(body)
        return self.entry(index, kind, self.store.size)

    def entry(self, index: int, kind: str, tree_size: int) -> dict[str, Any]:
        return {
            "logIndex": str(index),
            "logId": {"keyId": _b64(self.log_id)},
            "kindVersion": {"kind": kind, "version": API_VERSION},
            "inclusionProof": self.inclusion_proof(index, tree_size),
            "canonicalizedBody": _b64(self.store.body(index)),
        }

    def inclusion_proof(self, index: int, tree_size: int, checkpoint: str | None = None) -> dict[str, Any]:
        """Entry `index` proven in the tree of `tree_size` leaves (with that tree's `checkpoint`, if made)."""
        root, path = self.store.inclusion(index, tree_size)
        return {
            "logIndex": str(index),
            "rootHash": _b64(root),
            "treeSize": str(tree_size),
            "hashes": [_b64(h) for h in path],
            "checkpoint": {"envelope": checkpoint or self.checkpoint(tree_size)},
        }

    def checkpoint(self, size: int | None = None, now: int | None = None) -> str:
        """The signed note over the tree of `size` leaves, with the log's and the witness's signatures."""
        size = self.store.refresh() if size is None else size
        note = f"{ORIGIN}\n{size}\n{_b64(self.store.root(size))}\n"
        log_signature = self.keys.rekor_v2.sign(note.encode())
        witnessed = int(time.time()) if now is None else now
        cosigned = f"cosignature/v1\ntime {witnessed}\n{note}".encode()
        cosignature = struct.pack(">Q", witnessed) + self.keys.witness.sign(cosigned)
        return (
            f"{note}\n"
            f"\u2014 {ORIGIN} {_b64(self.log_id[:4] + log_signature)}\n"
            f"\u2014 {WITNESS_NAME} {_b64(self._witness_hint + cosignature)}\n"
        )
