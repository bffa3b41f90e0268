"""Sigstore bundles, checked by sigstore-python's own Verifier and nothing else.

Every Sigstore check (certificate chain, SCT, the policy over the certificate,
transparency log entry, inclusion proof, checkpoint, SET or RFC 3161 timestamp,
signature, DSSE) is the library's. A failure is reported under one of three
check names: `bundle-format` (the library cannot read the bundle),
the policy rule that refused the certificate (see identity_policy.py), or
`sigstore` with the library's own reason.

sigstore-python 4.5.1 cannot read a bundle signed with a managed key (its
Bundle requires a certificate). For those, `verify_with_key` runs the
library's log-entry and timestamp verification (private API, pinned exactly
and named in tests/unit/test_sigstore_private_api.py) and adds only what has no
library call: the signature under the given key and the log entry's binding to
that key, signature and digest.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import rekor_types
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import Error as SigstoreError
from sigstore.hashes import Hashed
from sigstore.models import Bundle, TimestampVerificationData, TransparencyLogEntry, TrustedRoot
from sigstore.verify import Verifier
from sigstore.verify.policy import VerificationPolicy
from sigstore_models.bundle.v1 import Bundle as BundleMessage
from sigstore_models.common.v1 import HashAlgorithm

from ..core.errors import UsageError, VerificationError
from ._remembered import RememberingVerifier
from .identity_policy import PolicyRefusal

MAX_BUNDLE_BYTES = 16 << 20  # a real bundle is a few KiB; bigger is refused unread
FORMAT = "bundle-format"
SIGSTORE = "sigstore"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def _reason(exc: BaseException) -> str:
    # Library messages can span lines (pydantic): the report prints one line per failure.
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def sha256_hashed(digest: bytes) -> Hashed:
    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)


@dataclass(frozen=True, slots=True)
class DssePayload:
    payload_type: str
    payload: bytes


class BundleVerifier:
    """One trusted root and one certificate policy; `name` only labels the failures."""

    def __init__(self, root: TrustedRoot, policy: VerificationPolicy) -> None:
        self.root = root
        self.policy = policy
        self.verifier = RememberingVerifier(trusted_root=root)

    # -- reading ------------------------------------------------------------------
    @staticmethod
    def parse(name: str, raw: bytes) -> Bundle:
        if len(raw) > MAX_BUNDLE_BYTES:
            raise VerificationError(name, FORMAT, f"bundle is {len(raw)} bytes, more than any Sigstore bundle")
        try:
            return Bundle.from_json(raw)
        except Exception as exc:  # the library's parser meets hostile bytes: any failure is a refusal
            raise VerificationError(name, FORMAT, _reason(exc)) from None

    # -- keyless (certificate) bundles ----------------------------------------------
    def verify_artifact(self, name: str, bundle: Bundle, sha256: bytes) -> None:
        """A message-signature bundle over a file whose sha256 is `sha256`."""
        if bundle._dsse_envelope is not None:
            raise VerificationError(name, FORMAT, "the bundle holds a DSSE envelope, not a signature over this file")
        try:
            self.verifier.verify_artifact(sha256_hashed(sha256), bundle, self.policy)
        except PolicyRefusal as exc:
            raise VerificationError(name, exc.check, exc.reason) from None
        except Exception as exc:  # the library's VerificationError, or its parsers failing on hostile content
            raise VerificationError(name, SIGSTORE, _reason(exc)) from None

    def verify_dsse(self, name: str, bundle: Bundle) -> DssePayload:
        if bundle._dsse_envelope is None:
            raise VerificationError(name, FORMAT, "the bundle holds no DSSE envelope; a statement must be one")
        try:
            payload_type, payload = self.verifier.verify_dsse(bundle, self.policy)
        except PolicyRefusal as exc:
            raise VerificationError(name, exc.check, exc.reason) from None
        except Exception as exc:
            raise VerificationError(name, SIGSTORE, _reason(exc)) from None
        return DssePayload(payload_type, payload)


# -- managed keys ------------------------------------------------------------------------


def load_public_key(name: str, pem: bytes) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{name}: not a PEM public key: {_reason(exc)}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise UsageError(f"{name}: a {type(key).__name__} cannot verify Sigstore signatures")
    return key


def _spki(key: object) -> bytes:
    assert isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_signature(key: PublicKey, signature: bytes, sha256: bytes) -> None:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, sha256, ec.ECDSA(Prehashed(hashes.SHA256())))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, sha256, PKCS1v15(), Prehashed(hashes.SHA256()))
        else:
            raise SigstoreError("an Ed25519 key signs messages, not sha256 digests: unsupported here")
    except InvalidSignature:
        raise SigstoreError("signature does not verify with the given key") from None


def _check_logged_hashedrekord(entry: TransparencyLogEntry, key: PublicKey, signature: bytes, sha256: bytes) -> None:
    kind = entry._inner.kind_version
    if (kind.kind, kind.version) != ("hashedrekord", "0.0.1"):
        raise SigstoreError(f"log entry {kind.kind}/{kind.version} is not supported for a managed key")
    body = rekor_types.Hashedrekord.model_validate_json(entry._inner.canonicalized_body).spec.root
    logged, data = body.signature, body.data.hash
    if logged.public_key is None or logged.public_key.content is None or logged.content is None or data is None:
        raise SigstoreError("the log entry lacks the key, signature or digest it must record")
    logged_key = serialization.load_pem_public_key(base64.b64decode(logged.public_key.content))
    same = (
        _spki(logged_key) == _spki(key)
        and base64.b64decode(logged.content) == signature
        and data.algorithm == rekor_types.hashedrekord.Algorithm.SHA256
        and data.value == sha256.hex()
    )
    if not same:
        raise SigstoreError("transparency log entry is inconsistent with the key, signature or artifact")


def verify_with_key(name: str, root: TrustedRoot, raw: bytes, sha256: bytes, key: PublicKey) -> None:
    """A bundle signed with a managed key: log entry, time, signature, and the entry's binding."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise VerificationError(name, FORMAT, f"bundle is {len(raw)} bytes, more than any Sigstore bundle")
    try:
        message = BundleMessage.from_json(raw)
    except Exception as exc:
        raise VerificationError(name, FORMAT, _reason(exc)) from None
    material = message.verification_material
    if material.public_key is None or message.message_signature is None:
        raise VerificationError(name, FORMAT, "not a message signature made with a managed key")
    if len(material.tlog_entries) != 1:
        raise VerificationError(name, FORMAT, "expected exactly one transparency log entry")
    signature = message.message_signature.signature
    try:
        entry = TransparencyLogEntry(material.tlog_entries[0])
        digest = message.message_signature.message_digest
        if digest is not None and digest.digest != sha256:
            raise SigstoreError("bundle message digest mismatch")
        times = 0
        stamps = material.timestamp_verification_data
        if stamps is not None and stamps.rfc3161_timestamps:
            for response in TimestampVerificationData(stamps).rfc3161_timestamps:
                times += Verifier(trusted_root=root)._verify_signed_timestamp(response, signature) is not None
        entry._verify(root.rekor_keyring(KeyringPurpose.VERIFY))  # inclusion proof, checkpoint, SET
        times += bool(entry._inner.integrated_time and entry._inner.inclusion_promise)
        if not times:
            raise SigstoreError("not enough sources of verified time")
        _check_signature(key, signature, sha256)
        _check_logged_hashedrekord(entry, key, signature, sha256)
    except Exception as exc:
        raise VerificationError(name, SIGSTORE, _reason(exc)) from None


def file_sha256(path: str) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:  # noqa: PTH123
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()
