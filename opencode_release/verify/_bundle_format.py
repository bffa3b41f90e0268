"""A Sigstore bundle (v0.1-v0.3, Rekor v1 entry) read into plain fields, or a one-line reason why not."""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass
from typing import Any

from ..core.errors import VerificationError

BUNDLE_TYPES = (
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
)
CHECK = "bundle-format"


@dataclass(frozen=True, slots=True)
class InclusionProof:
    log_index: int
    tree_size: int
    root_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    leaf_der: bytes
    log_index: int
    log_id: bytes
    kind: str
    kind_version: str
    integrated_time: int
    signed_entry_timestamp: bytes | None
    proof: InclusionProof | None
    body: bytes  # canonicalized Rekor entry
    body_b64: str
    message_digest: bytes | None
    message_signature: bytes | None
    envelope: Envelope | None


def _b64(value: Any, field: str) -> bytes:
    # binascii directly: a bundle holds ~20 base64 fields and base64.b64decode's checks cost more than the decoding.
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise ValueError(f"{field} is not valid base64") from exc


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{field} is not an integer")
    return int(value)


def parse_bundle(raw: bytes, artifact: str) -> ParsedBundle:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reason = f"bundle is not valid JSON ({exc}); it may be truncated: fetch it again"
        raise VerificationError(artifact, CHECK, reason) from None
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise VerificationError(artifact, CHECK, f"not a Sigstore bundle: {what}") from None


def _parse(data: Any) -> ParsedBundle:
    if not isinstance(data, dict):
        raise ValueError("the bundle is not a JSON object")
    if data.get("mediaType") not in BUNDLE_TYPES:
        raise ValueError(f"unsupported mediaType {data.get('mediaType')!r}")
    material = data["verificationMaterial"]
    if "certificate" in material:
        leaf = _b64(material["certificate"]["rawBytes"], "certificate")
    else:
        leaf = _b64(material["x509CertificateChain"]["certificates"][0]["rawBytes"], "certificate")
    entries = material["tlogEntries"]
    if not isinstance(entries, list) or len(entries) != 1:
        raise ValueError("expected exactly one transparency log entry")
    entry = entries[0]
    promise = entry.get("inclusionPromise")
    raw_proof = entry.get("inclusionProof")
    proof = None
    if raw_proof is not None:
        proof = InclusionProof(
            _int(raw_proof["logIndex"], "inclusionProof.logIndex"),
            _int(raw_proof["treeSize"], "treeSize"),
            _b64(raw_proof["rootHash"], "rootHash"),
            tuple(_b64(h, "inclusionProof.hashes") for h in raw_proof["hashes"]),
            str(raw_proof["checkpoint"]["envelope"]),
        )
    envelope = None
    digest = signature = None
    if "dsseEnvelope" in data:
        env = data["dsseEnvelope"]
        envelope = Envelope(
            str(env["payloadType"]),
            _b64(env["payload"], "payload"),
            tuple(_b64(s["sig"], "dsse signature") for s in env["signatures"]),
        )
        if not envelope.signatures:
            raise ValueError("DSSE envelope has no signature")
    else:
        message = data["messageSignature"]
        if message["messageDigest"]["algorithm"] != "SHA2_256":
            raise ValueError("message digest is not SHA2_256")
        digest = _b64(message["messageDigest"]["digest"], "messageDigest")
        signature = _b64(message["signature"], "signature")
    body_b64 = entry["canonicalizedBody"]
    return ParsedBundle(
        leaf_der=leaf,
        log_index=_int(entry["logIndex"], "logIndex"),
        log_id=_b64(entry["logId"]["keyId"], "logId"),
        kind=str(entry["kindVersion"]["kind"]),
        kind_version=str(entry["kindVersion"]["version"]),
        integrated_time=_int(entry["integratedTime"], "integratedTime"),
        signed_entry_timestamp=None if promise is None else _b64(promise["signedEntryTimestamp"], "SET"),
        proof=proof,
        body=_b64(body_b64, "canonicalizedBody"),
        body_b64=body_b64,
        message_digest=digest,
        message_signature=signature,
        envelope=envelope,
    )
