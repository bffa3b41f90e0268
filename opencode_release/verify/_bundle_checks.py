"""The Sigstore checks on one bundle, each a small step that raises with its own reason.

Work that depends only on the signing certificate (chain, SCT, identity,
issuer) or on a checkpoint's text is done once and remembered: a release
signed in one session has one certificate and, from the local instance, one
checkpoint. What differs per bundle (signature, SET, inclusion proof, log
entry contents, signing time) is checked for every bundle.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import ExtendedKeyUsage, PrecertificateSignedCertificateTimestamps
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store

from ..core import merkle
from ..core.errors import VerificationError
from ..core.formats import pae
from ._bundle_format import ParsedBundle
from .identity_policy import Policy, PublicKey, TrustedRoot, Window, matches

ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


@dataclass(frozen=True)
class Certificate:
    """A signing certificate after the checks that depend on it alone."""

    cert: x509.Certificate
    key: ec.EllipticCurvePublicKey
    pem_b64: str  # as Rekor entries carry it
    validity: Window  # intersection of the chain's validity periods
    identity: str
    issuer: str


def _utc(when: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(when, dt.UTC)


def _verify_sig(key: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _der_string(raw: bytes) -> str:
    # DER UTF8String with a short or long length (issuer URLs are short).
    if len(raw) < 2 or raw[0] != 0x0C:
        raise ValueError("issuer extension is not a UTF8String")
    length, offset = raw[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    return raw[offset : offset + length].decode()


class BundleChecker:
    def __init__(self, root: TrustedRoot, policy: Policy) -> None:
        self.root = root
        self.policy = policy
        self._certs: dict[bytes, Certificate | VerificationError] = {}
        self._checkpoints: dict[tuple[str, bytes], tuple[int, bytes] | str] = {}
        self._store = Store(list(root.ca_certs)) if root.ca_certs else None

    # -- certificate: once per certificate -----------------------------------
    def verify_certificate(self, name: str, bundle: ParsedBundle) -> Certificate:
        cached = self._certs.get(bundle.leaf_der)
        if cached is None:
            try:
                cached = self._certificate(name, bundle)
            except VerificationError as exc:
                cached = exc
            self._certs[bundle.leaf_der] = cached
        if isinstance(cached, VerificationError):
            raise VerificationError(name, cached.check, cached.reason)
        return cached

    def _certificate(self, name: str, bundle: ParsedBundle) -> Certificate:
        try:
            cert = x509.load_der_x509_certificate(bundle.leaf_der)
        except ValueError as exc:
            raise VerificationError(name, "certificate-chain", f"signing certificate is not DER: {exc}") from None
        # Chained once, at the certificate's start; each bundle's log time is then checked
        # against the chain's common validity (verify_tlog), so the cache holds for every bundle.
        chain, validity = self.verify_certificate_chain(name, cert, cert.not_valid_before_utc)
        self.verify_sct(name, cert, chain[1] if len(chain) > 1 else chain[0])
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise VerificationError(name, "certificate-chain", "signing key is not an EC key")
        identity = self.verify_identity(name, cert)
        issuer = self.verify_issuer(name, cert)
        pem = base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()
        return Certificate(cert, key, pem, validity, identity, issuer)

    def verify_certificate_chain(
        self, name: str, cert: x509.Certificate, when: dt.datetime
    ) -> tuple[list[x509.Certificate], Window]:
        """The chain up to a CA of the trusted root, valid when the log integrated the entry."""
        if self._store is None:
            raise VerificationError(name, "certificate-chain", f"{self.root.source} lists no certificate authority")
        ee = ExtensionPolicy.webpki_defaults_ee().may_be_present(ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
        ca = ExtensionPolicy.webpki_defaults_ca().may_be_present(ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(when)
            .extension_policies(ca_policy=ca, ee_policy=ee)
            .build_client_verifier()
        )
        try:
            chain = verifier.verify(cert, []).chain
        except (x509.verification.VerificationError, x509.UnsupportedGeneralNameType) as exc:
            raise VerificationError(
                name, "certificate-chain", f"certificate does not chain to a CA of {self.root.source}: {exc}"
            ) from None
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        eku = cert.extensions.get_extension_for_class(ExtendedKeyUsage).value
        if not usage.digital_signature or ExtendedKeyUsageOID.CODE_SIGNING not in eku:
            raise VerificationError(name, "certificate-chain", "certificate is not for code signing")
        start = max(c.not_valid_before_utc for c in chain)
        end = min(c.not_valid_after_utc for c in chain)
        for ca_cert, window in self.root.ca_windows:
            if ca_cert in chain[1:] and window.end is not None:
                end = min(end, window.end)
        return chain, Window(start, end)

    def verify_sct(self, name: str, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        """The embedded SCT: a trusted CT log saw this certificate (RFC 6962 precertificate entry)."""
        try:
            scts = cert.extensions.get_extension_for_class(PrecertificateSignedCertificateTimestamps).value
        except x509.ExtensionNotFound:
            raise VerificationError(name, "sct", "certificate has no embedded SCT") from None
        for sct in scts:
            log = self.root.ctlogs.get(sct.log_id)
            if log is None or not log.window.contains(sct.timestamp.replace(tzinfo=dt.UTC)):
                continue
            issuer_spki = issuer.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            tbs = cert.tbs_precertificate_bytes
            millis = int(sct.timestamp.replace(tzinfo=dt.UTC).timestamp() * 1000)
            ext = sct.extension_bytes
            signed = (
                b"\x00\x00"
                + struct.pack(">Q", millis)
                + b"\x00\x01"
                + hashlib.sha256(issuer_spki).digest()
                + len(tbs).to_bytes(3, "big")
                + tbs
                + struct.pack(">H", len(ext))
                + ext
            )
            if _verify_sig(log.key, sct.signature, signed):
                return
            raise VerificationError(name, "sct", f"SCT signature from CT log {sct.log_id.hex()[:16]} does not verify")
        raise VerificationError(name, "sct", f"no SCT from a CT log of {self.root.source}")

    def verify_identity(self, name: str, cert: x509.Certificate) -> str:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.RFC822Name)]
        names += [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
        for value in names:
            if matches(self.policy.identity, value):
                return value
        raise VerificationError(
            name, "identity", f"signed by {', '.join(names) or 'no identity'}, expected {self.policy.identity}"
        )

    def verify_issuer(self, name: str, cert: x509.Certificate) -> str:
        exts = {e.oid: e.value for e in cert.extensions}
        issuer = ""
        if isinstance(exts.get(ISSUER_V2), x509.UnrecognizedExtension):
            issuer = _der_string(exts[ISSUER_V2].value)
        elif isinstance(exts.get(ISSUER_V1), x509.UnrecognizedExtension):
            issuer = exts[ISSUER_V1].value.decode()
        if not matches(self.policy.issuer, issuer):
            raise VerificationError(
                name, "issuer", f"identity issued by {issuer or 'no issuer'}, expected {self.policy.issuer}"
            )
        return issuer

    # -- transparency log: per bundle ------------------------------------------
    def verify_tlog(self, name: str, bundle: ParsedBundle, cert: Certificate) -> None:
        log = self.root.tlogs.get(bundle.log_id)
        when = _utc(bundle.integrated_time)
        if log is None:
            raise VerificationError(
                name, "tlog-key", f"log {bundle.log_id.hex()[:16]}… is not a transparency log of {self.root.source}"
            )
        if not log.window.contains(when):
            raise VerificationError(name, "tlog-key", f"log key was not valid at {when:%Y-%m-%dT%H:%M:%SZ}")
        self.verify_set(name, bundle, log.key)
        self.verify_inclusion_proof(name, bundle)
        self.verify_checkpoint(name, bundle, log.key)
        if not cert.validity.contains(when):
            raise VerificationError(
                name,
                "certificate-chain",
                f"logged at {when:%Y-%m-%dT%H:%M:%SZ}, outside the signing certificate's validity",
            )

    def verify_set(self, name: str, bundle: ParsedBundle, key: PublicKey) -> None:
        if bundle.signed_entry_timestamp is None:
            raise VerificationError(name, "set", "log entry has no signed entry timestamp")
        # RFC 8785 of {body, integratedTime, logID, logIndex}: sorted keys, no escapes needed in these values.
        signed = (
            f'{{"body":"{bundle.body_b64}","integratedTime":{bundle.integrated_time},'
            f'"logID":"{bundle.log_id.hex()}","logIndex":{bundle.log_index}}}'
        ).encode()
        if not _verify_sig(key, bundle.signed_entry_timestamp, signed):
            raise VerificationError(name, "set", "signed entry timestamp does not verify with the log's key")

    def verify_inclusion_proof(self, name: str, bundle: ParsedBundle) -> None:
        proof = bundle.proof
        if proof is None:
            raise VerificationError(name, "inclusion-proof", "log entry has no inclusion proof")
        if proof.log_index != bundle.log_index:
            raise VerificationError(name, "inclusion-proof", "inclusion proof is for another log index")
        try:
            root = merkle.root_from_inclusion(
                proof.log_index, proof.tree_size, merkle.leaf_hash(bundle.body), proof.hashes
            )
        except merkle.ProofError as exc:
            raise VerificationError(name, "inclusion-proof", str(exc)) from None
        if root != proof.root_hash:
            raise VerificationError(name, "inclusion-proof", "inclusion proof does not lead to its root hash")

    def verify_checkpoint(self, name: str, bundle: ParsedBundle, key: PublicKey) -> None:
        assert bundle.proof is not None
        text = bundle.proof.checkpoint
        cached = self._checkpoints.get((text, bundle.log_id))
        if cached is None:
            cached = self._checkpoint(text, bundle.log_id, key)
            self._checkpoints[(text, bundle.log_id)] = cached
        if isinstance(cached, str):
            raise VerificationError(name, "checkpoint", cached)
        if cached != (bundle.proof.tree_size, bundle.proof.root_hash):
            raise VerificationError(name, "checkpoint", "checkpoint's tree size and root differ from the proof's")

    @staticmethod
    def _checkpoint(text: str, log_id: bytes, key: PublicKey) -> tuple[int, bytes] | str:
        note, sep, signatures = text.partition("\n\n")
        if not sep:
            return "checkpoint is not a signed note"
        lines = note.split("\n")
        try:
            size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
        except (IndexError, ValueError):
            return "checkpoint note is malformed"
        for line in signatures.splitlines():
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != "\u2014":
                continue
            try:
                raw = base64.b64decode(parts[2], validate=True)
            except ValueError:
                continue
            if raw[:4] == log_id[:4]:
                if _verify_sig(key, raw[4:], (note + "\n").encode()):
                    return size, root
                return "checkpoint signature does not verify with the log's key"
        return "checkpoint carries no signature by the log"

    def verify_tlog_entry(self, name: str, bundle: ParsedBundle, cert: Certificate, digest: bytes) -> None:
        """The logged entry is this bundle's: same digest or payload, signature and certificate."""
        try:
            body = json.loads(bundle.body)
            spec = body["spec"]
            if bundle.envelope is None:
                same = (
                    body["kind"] == "hashedrekord"
                    and spec["data"]["hash"]["value"] == digest.hex()
                    and base64.b64decode(spec["signature"]["content"]) == bundle.message_signature
                    and spec["signature"]["publicKey"]["content"] == cert.pem_b64
                )
            else:
                same = (
                    body["kind"] == "dsse"
                    and spec["payloadHash"]["value"] == hashlib.sha256(bundle.envelope.payload).hexdigest()
                    and [(base64.b64decode(s["signature"]), s["verifier"]) for s in spec["signatures"]]
                    == [(sig, cert.pem_b64) for sig in bundle.envelope.signatures]
                )
        except (KeyError, TypeError, ValueError):
            same = False
        if not same:
            raise VerificationError(name, "tlog-entry", "log entry does not match the bundle's signature or content")

    # -- signature ---------------------------------------------------------------
    def verify_signature(self, name: str, bundle: ParsedBundle, cert: Certificate, digest: bytes) -> None:
        if bundle.envelope is not None:
            signed = pae(bundle.envelope.payload_type, bundle.envelope.payload)
            for signature in bundle.envelope.signatures:
                if not _verify_sig(cert.key, signature, signed):
                    raise VerificationError(name, "signature", "DSSE signature does not verify with the certificate")
            return
        if bundle.message_digest != digest:
            raise VerificationError(
                name,
                "subject",
                f"bundle signs sha256:{(bundle.message_digest or b'').hex()}, "
                f"not this artifact (sha256:{digest.hex()}): it is another artifact's bundle",
            )
        try:
            cert.key.verify(bundle.message_signature or b"", digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        except InvalidSignature:
            raise VerificationError(name, "signature", "signature does not verify over the artifact's digest") from None

    def verify(self, name: str, bundle: ParsedBundle, digest: bytes) -> Certificate:
        """Every Sigstore check, in order; `digest` is the artifact's (or DSSE payload's) sha256."""
        cert = self.verify_certificate(name, bundle)
        self.verify_tlog(name, bundle, cert)
        self.verify_signature(name, bundle, cert, digest)
        self.verify_tlog_entry(name, bundle, cert, digest)
        return cert
