"""The local Rekor (v1 API): hashedrekord and dsse 0.0.1 entries in an append-only RFC 6962 log.

Entries of the active shard are kept by `EntryStore` (log_store.py); the log is
sharded like the public one (shards.py), so an answer's `logIndex` is global
while its inclusion proof is for the active tree, at the index inside it. Each
answer carries the signed entry timestamp (SET, over the global index), the
inclusion proof and the active tree's signed checkpoint (`<name> - <tree id>`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ..core.formats import pae
from . import shards
from .keys import InstanceKeys
from .log_store import EntryStore

# The checkpoint signer's name: sigstore-js accepts a signature only when the
# trusted root's baseUrl for the log contains this name.
LOG_NAME = "opencode-release.local/rekor"
LOG_BASE_URL = f"http://{LOG_NAME}"


class EntryError(ValueError):
    """A proposed entry the log refuses (HTTP 400)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _cert_key(pem_b64: str) -> ec.EllipticCurvePublicKey:
    try:
        key = x509.load_pem_x509_certificate(base64.b64decode(pem_b64)).public_key()
    except ValueError as exc:
        raise EntryError(f"verifier is not a PEM certificate: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise EntryError("verifier key is not an EC key")
    return key


def _hashedrekord_body(proposed: dict[str, Any]) -> dict[str, Any]:
    spec = proposed["spec"]
    digest = bytes.fromhex(spec["data"]["hash"]["value"])
    if spec["data"]["hash"]["algorithm"] != "sha256" or len(digest) != 32:
        raise EntryError("hashedrekord: only sha256 digests are accepted")
    key = _cert_key(spec["signature"]["publicKey"]["content"])
    try:
        key.verify(base64.b64decode(spec["signature"]["content"]), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        raise EntryError("hashedrekord: signature does not verify over the digest") from None
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {
                "content": spec["signature"]["content"],
                "publicKey": {"content": spec["signature"]["publicKey"]["content"]},
            },
        },
    }


def _dsse_body(proposed: dict[str, Any]) -> dict[str, Any]:
    content = proposed["spec"]["proposedContent"]
    envelope = json.loads(content["envelope"])
    verifiers = list(content["verifiers"])
    payload = base64.b64decode(envelope["payload"])
    signed = pae(envelope["payloadType"], payload)
    signatures = []
    for sig in envelope["signatures"]:
        raw = base64.b64decode(sig["sig"])
        for verifier in verifiers:
            try:
                _cert_key(verifier).verify(raw, signed, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            signatures.append({"signature": _b64(raw), "verifier": verifier})
            break
        else:
            raise EntryError("dsse: a signature verifies with none of the verifiers")
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(rfc8785.dumps(envelope)).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": signatures,
        },
    }


def canonical_body(proposed: dict[str, Any]) -> bytes:
    """The entry the log stores for a proposed entry, RFC 8785 canonical JSON."""
    try:
        if proposed.get("apiVersion") != "0.0.1":
            raise EntryError(f"unsupported apiVersion {proposed.get('apiVersion')!r}")
        kind = proposed.get("kind")
        if kind == "hashedrekord":
            body = _hashedrekord_body(proposed)
        elif kind == "dsse":
            body = _dsse_body(proposed)
        else:
            raise EntryError(f"unsupported entry kind {kind!r}; expected hashedrekord or dsse")
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, EntryError):
            raise
        raise EntryError(f"malformed proposed entry: {exc!r}") from exc
    return rfc8785.dumps(body)


class TransparencyLog:
    def __init__(self, keys: InstanceKeys, folder: Path, inactive_entries: int | None = None) -> None:
        """The log in `folder`; `inactive_entries` frozen-shard entries precede the active
        tree when the log is new (default shards.DEFAULT_INACTIVE_ENTRIES)."""
        self.keys = keys
        self.folder = folder
        self.store = EntryStore(folder)
        self.log_id = keys.rekor_log_id
        self.shards = shards.load_or_create(folder, self._sign_tree_head, inactive_entries)

    @property
    def path(self) -> Path:
        return self.store.path

    @property
    def size(self) -> int:
        """Entries in the active shard (what its checkpoints count)."""
        return self.store.size

    def append(self, proposed: dict[str, Any]) -> dict[str, Any]:
        """Integrate a proposed entry; the v1 answer `{entry id: entry}`."""
        index = self.store.append(canonical_body(proposed))
        return {self.shards.entry_id(self.store.leaf(index)): self.entry(index, self.store.size)}

    def entry(self, index: int, tree_size: int | None = None) -> dict[str, Any]:
        """The v1 answer for entry `index` of the active shard, proven in its tree of `tree_size`."""
        size = tree_size or self.size
        root, path = self.store.inclusion(index, size)
        payload: dict[str, str | int] = {
            "body": _b64(self.store.body(index)),
            "integratedTime": self.store.integrated_time(index),
            "logID": self.log_id.hex(),
            "logIndex": self.shards.offset + index,
        }
        set_signature = self.keys.rekor.sign(rfc8785.dumps(payload), ec.ECDSA(hashes.SHA256()))
        return {
            **payload,
            "verification": {
                "signedEntryTimestamp": _b64(set_signature),
                "inclusionProof": {
                    "logIndex": index,
                    "treeSize": size,
                    "rootHash": root.hex(),
                    "hashes": [h.hex() for h in path],
                    "checkpoint": self.checkpoint(size),
                },
            },
        }

    def checkpoint(self, size: int | None = None) -> str:
        """The active shard's signed note over its tree of `size` leaves (default: all)."""
        size = self.store.refresh() if size is None else size
        return self._sign_tree_head(self.shards.active_tree_id, size, self.store.root(size))

    def _sign_tree_head(self, tree_id: int, size: int, root: bytes) -> str:
        # The origin names the shard's tree, as public Rekor's do; the signer line names the log.
        note = f"{LOG_NAME} - {tree_id}\n{size}\n{_b64(root)}\n"
        signature = self.keys.rekor.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        return f"{note}\n\u2014 {LOG_NAME} {_b64(self.log_id[:4] + signature)}\n"

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        """Root hash and audit path of entry `index` in the tree of `size` leaves."""
        return self.store.inclusion(index, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[str]:
        return [h.hex() for h in self.store.consistency_proof(old, new or self.store.refresh())]

    def info(self) -> dict[str, Any]:
        size = self.store.refresh()
        return {
            "rootHash": self.store.root(size).hex(),
            "treeSize": size,
            "signedTreeHead": self.checkpoint(size),
            "treeID": str(self.shards.active_tree_id),
            "inactiveShards": [shard.info() for shard in self.shards.inactive],
        }
