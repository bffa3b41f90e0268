"""The local instance's keys: created once in the state folder, then reused.

Four P-256 keys (OIDC issuer, Fulcio CA, CT log, Rekor log) and the CA's
self-signed certificate. They outlive any one release: the trusted root a
release publishes stays valid for every later release of the same machine.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..core.fsio import write_atomic

ROLES = ("oidc", "ca", "ctlog", "rekor")
CA_YEARS = 10


def spki_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """sha256 of the SubjectPublicKeyInfo: the log id of a CT or Rekor log."""
    return hashlib.sha256(spki_der(key)).digest()


@dataclass(frozen=True)
class InstanceKeys:
    folder: Path
    oidc: ec.EllipticCurvePrivateKey
    ca: ec.EllipticCurvePrivateKey
    ctlog: ec.EllipticCurvePrivateKey
    rekor: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate
    created: dt.datetime

    @property
    def rekor_log_id(self) -> bytes:
        return key_id(self.rekor.public_key())

    @property
    def ctlog_id(self) -> bytes:
        return key_id(self.ctlog.public_key())


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_atomic(path, pem, mode=0o600)


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "opencode-release local"),
            x509.NameAttribute(NameOID.COMMON_NAME, "opencode-release local fulcio"),
        ]
    )
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def load_or_create(folder: Path) -> InstanceKeys:
    """The keys in `folder`, made on first use (under a lock: parallel releases share them)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        meta = folder / "instance.json"
        if not meta.is_file():
            now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
            for role in ROLES:
                _write_private(folder / f"{role}.key", ec.generate_private_key(ec.SECP256R1()))
            ca = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
            assert isinstance(ca, ec.EllipticCurvePrivateKey)
            write_atomic(folder / "ca.crt", _ca_certificate(ca, now).public_bytes(serialization.Encoding.PEM))
            write_atomic(meta, json.dumps({"created": now.isoformat()}).encode())
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    for role in ROLES:
        key = serialization.load_pem_private_key((folder / f"{role}.key").read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{folder / role}.key: not an EC private key")
        keys[role] = key
    created = dt.datetime.fromisoformat(json.loads(meta.read_text())["created"])
    cert = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    return InstanceKeys(folder=folder, ca_cert=cert, created=created, **keys)
