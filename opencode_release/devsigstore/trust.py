"""The trusted root and the client trust config that describe the local instance.

The trusted root names no port: it is what verifiers keep, and it stays the
same for every release signed with these keys. It lists everything the
instance has ever signed with: the Fulcio CA, the CT log, both transparency
logs (Rekor v1, ECDSA P-256; Rekor v2, Ed25519, named by its note key id) and
the timestamp authority's chain. The signing config points at the running
server's ephemeral port, so it is written for each session, and it is what
chooses where a session signs: it lists only the chosen Rekor (a client takes
the highest API version an operator offers, so listing both would always mean
v2) and the TSA when timestamps are wanted.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..core.fsio import write_atomic
from . import rekor, rekor_v2
from .keys import InstanceKeys, raw_ed25519, spki_der
from .server import TIMESTAMP_PATH

TRUSTED_ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
TRUST_CONFIG_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
OPERATOR = "opencode-release.local"
CA_URI = "http://opencode-release.local/fulcio"
CTLOG_URL = "http://opencode-release.local/ctlog"
TSA_URI = "http://opencode-release.local/tsa"
REKOR_VERSIONS = (1, 2)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _time(keys: InstanceKeys) -> str:
    return keys.created.strftime("%Y-%m-%dT%H:%M:%SZ")


def _subject(certificate: x509.Certificate) -> dict[str, str]:
    def first(oid: x509.ObjectIdentifier) -> str:
        return str(certificate.subject.get_attributes_for_oid(oid)[0].value)

    return {"organization": first(x509.NameOID.ORGANIZATION_NAME), "commonName": first(x509.NameOID.COMMON_NAME)}


def _chain(*certificates: x509.Certificate) -> dict[str, Any]:
    return {"certificates": [{"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))} for c in certificates]}


def trusted_root(keys: InstanceKeys) -> dict[str, Any]:
    valid = {"start": _time(keys)}

    def public(der: bytes, details: str = "PKIX_ECDSA_P256_SHA_256") -> dict[str, Any]:
        return {"rawBytes": _b64(der), "keyDetails": details, "validFor": valid}

    v2_key = keys.rekor_v2.public_key()
    v2_log_id = rekor_v2.note_key_id(rekor_v2.ORIGIN, b"\x01", raw_ed25519(v2_key))
    return {
        "mediaType": TRUSTED_ROOT_TYPE,
        "tlogs": [
            {
                "baseUrl": rekor.LOG_BASE_URL,
                "hashAlgorithm": "SHA2_256",
                "publicKey": public(spki_der(keys.rekor.public_key())),
                "logId": {"keyId": _b64(keys.rekor_log_id)},
            },
            {
                "baseUrl": rekor_v2.LOG_BASE_URL,
                "hashAlgorithm": "SHA2_256",
                "publicKey": public(spki_der(v2_key), "PKIX_ED25519"),
                "logId": {"keyId": _b64(v2_log_id)},
            },
        ],
        "certificateAuthorities": [
            {
                "subject": _subject(keys.ca_cert),
                "uri": CA_URI,
                "certChain": _chain(keys.ca_cert),
                "validFor": valid,
            }
        ],
        "ctlogs": [
            {
                "baseUrl": CTLOG_URL,
                "hashAlgorithm": "SHA2_256",
                "publicKey": public(spki_der(keys.ctlog.public_key())),
                "logId": {"keyId": _b64(keys.ctlog_id)},
            }
        ],
        "timestampAuthorities": [
            {
                "subject": _subject(keys.tsa_root_cert),
                "uri": TSA_URI,
                # Signing certificate first, root last: how clients read a TSA chain.
                "certChain": _chain(keys.tsa_cert, keys.tsa_root_cert),
                "validFor": valid,
            }
        ],
    }


def signing_config(keys: InstanceKeys, base_url: str, rekor_version: int, timestamps: bool) -> dict[str, Any]:
    if rekor_version not in REKOR_VERSIONS:
        raise ValueError(f"rekor version {rekor_version!r}: expected 1 or 2")

    def service(url: str, version: int = 1) -> dict[str, Any]:
        return {"url": url, "majorApiVersion": version, "validFor": {"start": _time(keys)}, "operator": OPERATOR}

    return {
        "mediaType": SIGNING_CONFIG_TYPE,
        "caUrls": [service(base_url)],
        "oidcUrls": [service(f"{base_url}/oidc")],
        "rekorTlogUrls": [service(base_url, rekor_version)],
        "tsaUrls": [service(base_url + TIMESTAMP_PATH)] if timestamps else [],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }


def client_trust_config(keys: InstanceKeys, base_url: str, rekor_version: int, timestamps: bool) -> dict[str, Any]:
    return {
        "mediaType": TRUST_CONFIG_TYPE,
        "trustedRoot": trusted_root(keys),
        "signingConfig": signing_config(keys, base_url, rekor_version, timestamps),
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return path
