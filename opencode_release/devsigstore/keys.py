"""The local instance's keys: created once in the state folder, then reused.

P-256 keys for the OIDC issuer, the Fulcio CA, the CT log, the Rekor v1 log and
the timestamp authority (a root and its signing certificate); Ed25519 keys for
the Rekor v2 log and the witness that co-signs its checkpoints, as Rekor v2
signs notes with Ed25519. They outlive any one release: the trusted root a
release publishes stays valid for every later release of the same machine. A
state folder made before a role existed gets that role's key on first use;
the keys it already has are kept.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..core.fsio import write_atomic

EC_ROLES = ("oidc", "ca", "ctlog", "rekor", "tsa_root", "tsa")
ED25519_ROLES = ("rekor_v2", "witness")
CA_YEARS = 10
ORGANIZATION = "opencode-release local"

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def spki_der(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: PublicKey) -> bytes:
    """sha256 of the SubjectPublicKeyInfo: the log id of a CT or Rekor v1 log."""
    return hashlib.sha256(spki_der(key)).digest()


def raw_ed25519(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_usage(*, sign: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _root_certificate(key: ec.EllipticCurvePrivateKey, common_name: str, now: dt.datetime) -> x509.Certificate:
    name, public = _name(common_name), key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _tsa_certificate(
    key: ec.EllipticCurvePrivateKey, root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> x509.Certificate:
    """The signing certificate RFC 3161 asks of a TSA (2.3): the one critical EKU timeStamping."""
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name("opencode-release local tsa"))
        .issuer_name(root.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class InstanceKeys:
    folder: Path
    oidc: ec.EllipticCurvePrivateKey
    ca: ec.EllipticCurvePrivateKey
    ctlog: ec.EllipticCurvePrivateKey
    rekor: ec.EllipticCurvePrivateKey
    tsa_root: ec.EllipticCurvePrivateKey
    tsa: ec.EllipticCurvePrivateKey
    rekor_v2: ed25519.Ed25519PrivateKey
    witness: ed25519.Ed25519PrivateKey
    ca_cert: x509.Certificate
    tsa_root_cert: x509.Certificate
    tsa_cert: x509.Certificate
    created: dt.datetime

    @property
    def rekor_log_id(self) -> bytes:
        return key_id(self.rekor.public_key())

    @property
    def ctlog_id(self) -> bytes:
        return key_id(self.ctlog.public_key())


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"{path}: not an EC or Ed25519 private key")
    return key


def _ensure_key(path: Path, make: Callable[[], ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey]) -> None:
    if not path.is_file():
        pem = make().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_atomic(path, pem, mode=0o600)


def _ensure_certificate(path: Path, make: Callable[[], x509.Certificate]) -> None:
    if not path.is_file():
        write_atomic(path, make().public_bytes(serialization.Encoding.PEM))


def _ec(folder: Path, role: str) -> ec.EllipticCurvePrivateKey:
    key = _load_private(folder / f"{role}.key")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{folder / role}.key: not an EC private key")
    return key


def _ed25519(folder: Path, role: str) -> ed25519.Ed25519PrivateKey:
    key = _load_private(folder / f"{role}.key")
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{folder / role}.key: not an Ed25519 private key")
    return key


def _create_missing(folder: Path) -> None:
    meta = folder / "instance.json"
    if not meta.is_file():
        write_atomic(meta, json.dumps({"created": _a_minute_ago().isoformat()}).encode())
    for role in EC_ROLES:
        _ensure_key(folder / f"{role}.key", lambda: ec.generate_private_key(ec.SECP256R1()))
    for role in ED25519_ROLES:
        _ensure_key(folder / f"{role}.key", ed25519.Ed25519PrivateKey.generate)
    now = _a_minute_ago()
    _ensure_certificate(
        folder / "ca.crt", lambda: _root_certificate(_ec(folder, "ca"), "opencode-release local fulcio", now)
    )
    _ensure_certificate(
        folder / "tsa_root.crt",
        lambda: _root_certificate(_ec(folder, "tsa_root"), "opencode-release local tsa root", now),
    )
    root = x509.load_pem_x509_certificate((folder / "tsa_root.crt").read_bytes())
    _ensure_certificate(
        folder / "tsa.crt", lambda: _tsa_certificate(_ec(folder, "tsa"), root, _ec(folder, "tsa_root"), now)
    )


def _a_minute_ago() -> dt.datetime:
    # Certificates start in the past, so a clock a little behind still finds them valid.
    return dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)


def load_or_create(folder: Path) -> InstanceKeys:
    """The keys in `folder`, made on first use (under a lock: parallel releases share them)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _create_missing(folder)
    certificate = {
        name: x509.load_pem_x509_certificate((folder / f"{name}.crt").read_bytes())
        for name in ("ca", "tsa_root", "tsa")
    }
    created = dt.datetime.fromisoformat(json.loads((folder / "instance.json").read_text())["created"])
    return InstanceKeys(
        folder=folder,
        created=created,
        ca_cert=certificate["ca"],
        tsa_root_cert=certificate["tsa_root"],
        tsa_cert=certificate["tsa"],
        oidc=_ec(folder, "oidc"),
        ca=_ec(folder, "ca"),
        ctlog=_ec(folder, "ctlog"),
        rekor=_ec(folder, "rekor"),
        tsa_root=_ec(folder, "tsa_root"),
        tsa=_ec(folder, "tsa"),
        rekor_v2=_ed25519(folder, "rekor_v2"),
        witness=_ed25519(folder, "witness"),
    )
