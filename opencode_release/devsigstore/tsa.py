"""The local RFC 3161 timestamp authority, answering what sigstore-python's TSA client sends.

The client (sigstore/_internal/timestamp.py) POSTs a DER TimeStampReq
(`application/timestamp-query`) with a SHA-256 imprint of the signature, a
nonce and certReq, and parses the DER TimeStampResp it gets back (with
rfc3161-client, which has no response builder). The answer
here is the one RFC 3161 describes: status granted, and a CMS SignedData
(RFC 5652) whose encapsulated content is the DER TSTInfo, signed by the TSA's
certificate (critical EKU timeStamping) over signed attributes that carry the
content type, the digest of the TSTInfo and an ESS signing-certificate-v2
(RFC 5816) naming that certificate. Request and response are read and built
with asn1crypto's RFC 3161 and CMS definitions.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Sigstore's policy OID for its timestamp authority (Fulcio's docs/oid-info.md, 1.3.6.1.4.1.57264.2).
POLICY_OID = "1.3.6.1.4.1.57264.2"
SHA256_OID = "2.16.840.1.101.3.4.2.1"
REQUEST_TYPE = "application/timestamp-query"
RESPONSE_TYPE = "application/timestamp-reply"


class TimestampRequestError(ValueError):
    """A request the authority refuses (HTTP 400)."""


def respond(
    request_der: bytes, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate, now: dt.datetime | None = None
) -> bytes:
    """The DER TimeStampResp for a DER TimeStampReq."""
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        digest_algorithm = request["message_imprint"]["hash_algorithm"]["algorithm"].dotted
        hashed = bytes(request["message_imprint"]["hashed_message"].native)
        policy = request["req_policy"].dotted if request["req_policy"].native is not None else None
        nonce, cert_req = request["nonce"].native, bool(request["cert_req"].native)
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampRequestError(f"not a DER TimeStampReq: {exc}") from None
    if digest_algorithm != SHA256_OID or len(hashed) != 32:
        raise TimestampRequestError("only SHA-256 message imprints are accepted")
    if policy is not None and policy != POLICY_OID:
        raise TimestampRequestError(f"unknown policy {policy}; this TSA has {POLICY_OID}")
    gen_time = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    info: dict[str, object] = {
        "version": "v1",
        "policy": POLICY_OID,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashed},
        "serial_number": x509.random_serial_number(),
        "gen_time": gen_time,
        "accuracy": {"seconds": 1},
        "ordering": False,
    }
    if nonce is not None:
        info["nonce"] = nonce
    tst_info = tsp.TSTInfo(info)
    certificate_der = certificate.public_bytes(serialization.Encoding.DER)
    signer_certificate = asn1_x509.Certificate.load(certificate_der)
    signed_attributes = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": core.UTCTime(gen_time)})]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_info.dump()).digest()]},
            {
                "type": "signing_certificate_v2",
                "values": [{"certs": [{"cert_hash": hashlib.sha256(certificate_der).digest()}]}],
            },
        ]
    )
    # CMS signs the DER SET OF the attributes (RFC 5652 5.4), not their [0] IMPLICIT form.
    signature = key.sign(signed_attributes.dump(), ec.ECDSA(hashes.SHA256()))
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": signer_certificate.issuer,
                        "serial_number": signer_certificate.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attributes,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": tst_info},
            "certificates": [signer_certificate] if cert_req else [],
            "signer_infos": [signer],
        }
    )
    response = tsp.TimeStampResp(
        {
            "status": {"status": "granted"},
            "time_stamp_token": {"content_type": "signed_data", "content": signed_data},
        }
    )
    return bytes(response.dump())
