"""The local Fulcio: short-lived code-signing certificates with one embedded SCT.

The certificate says who signed as the public Fulcio says it: for a plain
token, the SAN is its email (or URI subject); for a token of the Actions-shaped
issuer (oidc.ACTIONS_ISSUER), the SAN and the extensions follow Fulcio's
mapping of GitHub Actions claims (see `actions_extensions`).

The SCT is a precertificate timestamp (RFC 6962 3.2) signed by the CT log key:
the certificate is issued once with a placeholder SCT extension to learn its
precertificate TBS bytes, those are signed, and the certificate is issued again
with the real SCT and everything else identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from .keys import InstanceKeys, spki_der
from .oidc import GITHUB_URL

CERT_LIFETIME = dt.timedelta(minutes=10)
SCT_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
FULCIO_OID = "1.3.6.1.4.1.57264.1"
ISSUER_V1_OID = ObjectIdentifier(f"{FULCIO_OID}.1")
ISSUER_V2_OID = ObjectIdentifier(f"{FULCIO_OID}.8")
TOKEN_SUBJECT_OID = ObjectIdentifier(f"{FULCIO_OID}.24")

# Fulcio's mapping of GitHub Actions claims to extensions, as its docs/oid-info.md
# ("Mapping OIDC token claims to Fulcio OIDs", and the Directory for the values'
# encoding) and its config/identity/config.yaml (github-workflow) give it. `{x}`
# is the claim x, `{url}` https://github.com. Arcs 2-6 are the deprecated GitHub
# extensions, still written, as raw bytes; 8 onwards are DER UTF8Strings. An
# empty value is left out (as Fulcio's Extensions.Render does); a missing claim
# is refused, as Fulcio's templates (missingkey=error) refuse it, except
# `environment`, which defaults to empty.
ACTIONS_RAW_EXTENSIONS = (
    (2, "{event_name}"),  # GitHub Workflow Trigger (deprecated)
    (3, "{sha}"),  # GitHub Workflow SHA (deprecated)
    (4, "{workflow}"),  # GitHub Workflow Name (deprecated)
    (5, "{repository}"),  # GitHub Workflow Repository (deprecated)
    (6, "{ref}"),  # GitHub Workflow Ref (deprecated)
)
ACTIONS_EXTENSIONS = (
    (9, "{url}/{job_workflow_ref}"),  # Build Signer URI
    (10, "{job_workflow_sha}"),  # Build Signer Digest
    (11, "{runner_environment}"),  # Runner Environment
    (12, "{url}/{repository}"),  # Source Repository URI
    (13, "{sha}"),  # Source Repository Digest
    (14, "{ref}"),  # Source Repository Ref
    (15, "{repository_id}"),  # Source Repository Identifier
    (16, "{url}/{repository_owner}"),  # Source Repository Owner URI
    (17, "{repository_owner_id}"),  # Source Repository Owner Identifier
    (18, "{url}/{workflow_ref}"),  # Build Config URI
    (19, "{workflow_sha}"),  # Build Config Digest
    (20, "{event_name}"),  # Build Trigger
    (21, "{url}/{repository}/actions/runs/{run_id}/attempts/{run_attempt}"),  # Run Invocation URI
    (22, "{repository_visibility}"),  # Source Repository Visibility At Signing
    (23, "{environment}"),  # Deployment Environment
)
ACTIONS_SAN = "{url}/{job_workflow_ref}"


class CertificateRequestError(ValueError):
    pass


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_octet_string(data: bytes) -> bytes:
    return b"\x04" + _der_length(len(data)) + data


def der_utf8_string(text: str) -> bytes:
    data = text.encode()
    return b"\x0c" + _der_length(len(data)) + data


def _u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def sct_signature_input(timestamp_ms: int, issuer_spki: bytes, tbs: bytes) -> bytes:
    return (
        b"\x00\x00"
        + struct.pack(">Q", timestamp_ms)
        + b"\x00\x01"
        + hashlib.sha256(issuer_spki).digest()
        + _u24(len(tbs))
        + tbs
        + b"\x00\x00"
    )


def _sct_extension(sct: bytes) -> x509.UnrecognizedExtension:
    listed = struct.pack(">H", len(sct)) + sct
    return x509.UnrecognizedExtension(SCT_OID, der_octet_string(struct.pack(">H", len(listed)) + listed))


def san_for(identity: str) -> x509.GeneralName:
    if "://" in identity:
        return x509.UniformResourceIdentifier(identity)
    return x509.RFC822Name(identity)


@dataclass(frozen=True)
class Principal:
    """Who the certificate names (its SAN) and the extensions that describe them."""

    san: x509.GeneralName
    extensions: tuple[x509.UnrecognizedExtension, ...]


def _issuer_extensions(issuer: str) -> list[x509.UnrecognizedExtension]:
    return [
        x509.UnrecognizedExtension(ISSUER_V1_OID, issuer.encode()),
        x509.UnrecognizedExtension(ISSUER_V2_OID, der_utf8_string(issuer)),
    ]


def plain_principal(identity: str, issuer: str, subject: str) -> Principal:
    extensions = [*_issuer_extensions(issuer), x509.UnrecognizedExtension(TOKEN_SUBJECT_OID, der_utf8_string(subject))]
    return Principal(san_for(identity), tuple(extensions))


def _fill(template: str, claims: Mapping[str, str]) -> str:
    try:
        return template.format_map(claims)
    except KeyError as exc:
        raise CertificateRequestError(f"identity token: claim {exc.args[0]} missing (Fulcio requires it)") from None


def actions_principal(claims: Mapping[str, Any]) -> Principal:
    """SAN and extensions for a GitHub Actions token, as Fulcio maps them (see ACTIONS_EXTENSIONS)."""
    values = {"url": GITHUB_URL, "environment": "", **{k: str(v) for k, v in claims.items()}}
    extensions = [x509.UnrecognizedExtension(ISSUER_V1_OID, values["iss"].encode())]
    for arc, template in ACTIONS_RAW_EXTENSIONS:
        if value := _fill(template, values):
            extensions.append(x509.UnrecognizedExtension(ObjectIdentifier(f"{FULCIO_OID}.{arc}"), value.encode()))
    extensions.append(x509.UnrecognizedExtension(ISSUER_V2_OID, der_utf8_string(values["iss"])))
    for arc, template in ACTIONS_EXTENSIONS:
        if value := _fill(template, values):
            extensions.append(
                x509.UnrecognizedExtension(ObjectIdentifier(f"{FULCIO_OID}.{arc}"), der_utf8_string(value))
            )
    extensions.append(x509.UnrecognizedExtension(TOKEN_SUBJECT_OID, der_utf8_string(values["sub"])))
    return Principal(x509.UniformResourceIdentifier(_fill(ACTIONS_SAN, values)), tuple(extensions))


def issue(keys: InstanceKeys, csr_pem: bytes, principal: Principal, now: dt.datetime | None = None) -> x509.Certificate:
    """A leaf certificate for the CSR's key, naming the principal."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise CertificateRequestError(f"certificate signing request is not PEM: {exc}") from exc
    if not csr.is_signature_valid:
        raise CertificateRequestError("certificate signing request: proof of possession fails")
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise CertificateRequestError("certificate signing request: only EC keys are accepted")
    start = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    serial = x509.random_serial_number()
    ca_public = keys.ca.public_key()

    def build(sct_ext: x509.UnrecognizedExtension) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(keys.ca_cert.subject)
            .public_key(public)
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(start + CERT_LIFETIME)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False)
            .add_extension(x509.SubjectAlternativeName([principal.san]), critical=True)
        )
        for extension in principal.extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.add_extension(sct_ext, critical=False).sign(keys.ca, hashes.SHA256())

    timestamp_ms = int(start.timestamp() * 1000)
    # The placeholder has the length of a real SCT so both issues share their layout.
    placeholder = build(_sct_extension(bytes(47 + 72)))
    tbs = placeholder.tbs_precertificate_bytes
    signature = keys.ctlog.sign(sct_signature_input(timestamp_ms, spki_der(ca_public), tbs), ec.ECDSA(hashes.SHA256()))
    sct = (
        b"\x00"
        + keys.ctlog_id
        + struct.pack(">Q", timestamp_ms)
        + b"\x00\x00"
        + b"\x04\x03"
        + struct.pack(">H", len(signature))
        + signature
    )
    cert = build(_sct_extension(sct))
    if cert.tbs_precertificate_bytes != tbs:
        raise AssertionError("re-issued certificate differs from the one the SCT covers")
    return cert
