"""The local RFC 3161 timestamp authority, checked with rfc3161-client (sigstore's own TSA library)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from rfc3161_client import (
    HashAlgorithm,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from opencode_release.devsigstore import LocalSigstore, tsa

SIGNATURE = b"\x30\x45" + bytes(range(69))


def _request(data: bytes = SIGNATURE, algorithm: HashAlgorithm = HashAlgorithm.SHA256) -> bytes:
    # The request sigstore-python's TimestampAuthorityClient builds.
    return TimestampRequestBuilder().hash_algorithm(algorithm).data(data).nonce(nonce=True).build().as_bytes()


def test_response_verifies_with_the_published_chain_and_only_for_its_message(tmp_path: Path) -> None:
    keys = LocalSigstore(tmp_path, "http://127.0.0.1/oidc", "release@opencode.local").keys()
    request = TimestampRequestBuilder().hash_algorithm(HashAlgorithm.SHA256).data(SIGNATURE).nonce(nonce=True).build()
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    response = decode_timestamp_response(tsa.respond(request.as_bytes(), keys.tsa, keys.tsa_cert, now=at))
    assert response.status == 0 and response.tst_info.gen_time == at
    assert response.tst_info.nonce == request.nonce
    assert response.tst_info.policy.dotted_string == tsa.POLICY_OID
    assert response.tst_info.message_imprint.message == hashlib.sha256(SIGNATURE).digest()
    verifier = (
        VerifierBuilder.from_request(request)
        .tsa_certificate(keys.tsa_cert)
        .add_root_certificate(keys.tsa_root_cert)
        .build()
    )
    assert verifier.verify_message(response, SIGNATURE)
    with pytest.raises(VerificationError, match="Mismatch between messages"):
        verifier.verify_message(response, SIGNATURE + b"!")
    # Another authority's root does not vouch for it.
    other = LocalSigstore(tmp_path / "other", "http://127.0.0.1/oidc", "release@opencode.local").keys()
    foreign = VerifierBuilder().tsa_certificate(keys.tsa_cert).add_root_certificate(other.tsa_root_cert).build()
    with pytest.raises(VerificationError):
        foreign.verify_message(response, SIGNATURE)


def test_refuses_what_it_cannot_answer_faithfully(tmp_path: Path) -> None:
    keys = LocalSigstore(tmp_path, "http://127.0.0.1/oidc", "release@opencode.local").keys()
    with pytest.raises(tsa.TimestampRequestError, match="SHA-256"):
        tsa.respond(_request(algorithm=HashAlgorithm.SHA512), keys.tsa, keys.tsa_cert)
    with pytest.raises(tsa.TimestampRequestError, match="not a DER TimeStampReq"):
        tsa.respond(b"\x30\x03\x02\x01", keys.tsa, keys.tsa_cert)
