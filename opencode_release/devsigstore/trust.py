"""The trusted root and the client trust config that describe the local instance.

The trusted root names no port: it is what verifiers keep, and it stays the
same for every release signed with these keys. The signing config points at
the running server's ephemeral port, so it is written for each session.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from ..core.fsio import write_atomic
from .keys import InstanceKeys, spki_der
from .rekor import LOG_BASE_URL

TRUSTED_ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
TRUST_CONFIG_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
OPERATOR = "opencode-release.local"
CA_URI = "http://opencode-release.local/fulcio"
CTLOG_URL = "http://opencode-release.local/ctlog"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _time(keys: InstanceKeys) -> str:
    return keys.created.strftime("%Y-%m-%dT%H:%M:%SZ")


def trusted_root(keys: InstanceKeys) -> dict[str, Any]:
    valid = {"start": _time(keys)}

    def public(key: Any) -> dict[str, Any]:
        return {"rawBytes": _b64(spki_der(key)), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid}

    ca_der = keys.ca_cert.public_bytes(serialization.Encoding.DER)
    return {
        "mediaType": TRUSTED_ROOT_TYPE,
        "tlogs": [
            {
                "baseUrl": LOG_BASE_URL,
                "hashAlgorithm": "SHA2_256",
                "publicKey": public(keys.rekor.public_key()),
                "logId": {"keyId": _b64(keys.rekor_log_id)},
            }
        ],
        "certificateAuthorities": [
            {
                "subject": {"organization": "opencode-release local", "commonName": "opencode-release local fulcio"},
                "uri": CA_URI,
                "certChain": {"certificates": [{"rawBytes": _b64(ca_der)}]},
                "validFor": valid,
            }
        ],
        "ctlogs": [
            {
                "baseUrl": CTLOG_URL,
                "hashAlgorithm": "SHA2_256",
                "publicKey": public(keys.ctlog.public_key()),
                "logId": {"keyId": _b64(keys.ctlog_id)},
            }
        ],
        "timestampAuthorities": [],
    }


def signing_config(keys: InstanceKeys, base_url: str) -> dict[str, Any]:
    def service(url: str) -> dict[str, Any]:
        return {"url": url, "majorApiVersion": 1, "validFor": {"start": _time(keys)}, "operator": OPERATOR}

    return {
        "mediaType": SIGNING_CONFIG_TYPE,
        "caUrls": [service(base_url)],
        "oidcUrls": [service(f"{base_url}/oidc")],
        "rekorTlogUrls": [service(base_url)],
        "tsaUrls": [],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }


def client_trust_config(keys: InstanceKeys, base_url: str) -> dict[str, Any]:
    return {
        "mediaType": TRUST_CONFIG_TYPE,
        "trustedRoot": trusted_root(keys),
        "signingConfig": signing_config(keys, base_url),
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return path
