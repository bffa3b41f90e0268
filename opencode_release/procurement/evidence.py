"""What the packet extracts from evidence files: transparency-log entries and key fingerprints."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from ..core.errors import CheckFailed


def _load(path: Path, where: str) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CheckFailed(f"{where}: not readable JSON: {exc}") from None


def log_entries(bundle: Path, where: str) -> list[dict[str, Any]]:
    """Per transparency-log entry of a Sigstore bundle: what rechecking it against the log needs."""
    data = _load(bundle, where)
    material = data.get("verificationMaterial", {}) if isinstance(data, dict) else {}
    entries = material.get("tlogEntries") if isinstance(material, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CheckFailed(f"{where}: the bundle has no transparency-log entry")
    stamps = material.get("timestampVerificationData", {}) or {}
    found = []
    for entry in entries:
        proof = entry.get("inclusionProof") or {}
        found.append(
            {
                "log_id": (entry.get("logId") or {}).get("keyId"),
                "log_index": entry.get("logIndex"),
                "kind": entry.get("kindVersion"),
                "integrated_time": entry.get("integratedTime"),
                "signed_entry_timestamp": (entry.get("inclusionPromise") or {}).get("signedEntryTimestamp"),
                "inclusion_proof": {
                    "log_index": proof.get("logIndex"),
                    "root_hash": proof.get("rootHash"),
                    "tree_size": proof.get("treeSize"),
                    "hashes": proof.get("hashes", []),
                },
                "checkpoint": (proof.get("checkpoint") or {}).get("envelope"),
                "rfc3161_timestamps": len(stamps.get("rfc3161Timestamps", []) or []),
            }
        )
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _key_fingerprint(der_b64: str) -> str:
    return "sha256:" + hashlib.sha256(base64.b64decode(der_b64)).hexdigest()


def sigstore_root_keys(path: Path, where: str) -> list[dict[str, str]]:
    """The logs, CAs and timestamp authorities a Sigstore trusted root names, with key fingerprints."""
    data = _load(path, where)
    keys = []
    for role in ("tlogs", "ctlogs"):
        for log in data.get(role, []) or []:
            raw = (log.get("publicKey") or {}).get("rawBytes", "")
            keys.append(
                {"role": role, "id": (log.get("logId") or {}).get("keyId", ""), "fingerprint": _key_fingerprint(raw)}
            )
    for role in ("certificateAuthorities", "timestampAuthorities"):
        for authority in data.get(role, []) or []:
            chain = (authority.get("certChain") or {}).get("certificates", []) or []
            for cert in chain[:1]:
                keys.append(
                    {"role": role, "id": authority.get("uri", ""), "fingerprint": _key_fingerprint(cert["rawBytes"])}
                )
    return keys


def tuf_root_keys(path: Path, where: str) -> list[dict[str, str]]:
    """Key ids of a TUF root (a key id is the sha256 of the key's canonical form) and the roles they sign."""
    signed = (_load(path, where) or {}).get("signed", {})
    roles = signed.get("roles", {})
    return [
        {
            "role": ",".join(sorted(r for r, v in roles.items() if key in v.get("keyids", []))),
            "id": key,
            "fingerprint": f"keyid:{key}",
        }
        for key in sorted(signed.get("keys", {}))
    ]


def intoto_layout_keys(path: Path, where: str) -> list[dict[str, str]]:
    """The functionary keys an in-toto layout names."""
    data = _load(path, where)
    layout = data.get("signed", data) if isinstance(data, dict) else {}
    if "payload" in data:  # a DSSE envelope
        layout = json.loads(base64.b64decode(data["payload"]))
    return [{"role": "functionary", "id": key, "fingerprint": f"keyid:{key}"} for key in sorted(layout.get("keys", {}))]
