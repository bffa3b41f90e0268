"""The verifier's memory of what sigstore-python accepted (verify/_remembered.py) never turns a refusal into an
acceptance: a remembered input is equal in every byte, and the time a chain was checked at is part of it.
Inputs are real: a production bundle of Sigstore's conformance suite and sigstore-python's shipped root."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import CertValidationError, VerificationError
from sigstore.models import Bundle

from opencode_release.verify import _remembered, identity_policy

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO.parent / "shared" / "conformance" / "bundle-verify" / "happy-path-v0.3" / "bundle.sigstore.json"


def _production() -> identity_policy.SharedKeyrings:
    root = identity_policy.load_trusted_root("production", None, None).root
    assert isinstance(root, identity_policy.SharedKeyrings)
    return root


def _at(moment: datetime.datetime) -> TimestampVerificationResult:
    return TimestampVerificationResult(source=TimestampSource.TRANSPARENCY_SERVICE, time=moment)


def test_a_chain_accepted_at_one_time_is_refused_at_a_time_the_certificate_was_not_valid() -> None:
    verifier = _remembered.RememberingVerifier(trusted_root=_production())
    cert = Bundle.from_json(BUNDLE.read_bytes()).signing_certificate
    inside = cert.not_valid_before_utc + datetime.timedelta(minutes=1)
    chain = verifier._verify_chain_at_time(cert, _at(inside))
    assert chain and verifier._verify_chain_at_time(cert, _at(inside)) == chain
    with pytest.raises(CertValidationError):
        verifier._verify_chain_at_time(cert, _at(cert.not_valid_after_utc + datetime.timedelta(days=1)))


def test_a_keyring_remembers_only_an_accepted_signature_over_the_same_bytes() -> None:
    bundle = Bundle.from_json(BUNDLE.read_bytes())
    keyring = _production().rekor_keyring(KeyringPurpose.VERIFY)
    assert isinstance(keyring, _remembered.RememberingKeyring)
    entry = bundle.log_entry
    entry._verify(keyring)  # the SET and the checkpoint: accepted by the library, now remembered
    assert keyring._accepted
    key_id, signature, data = next(iter(keyring._accepted))
    keyring.verify(key_id=key_id, signature=signature, data=data)  # the same bytes: accepted again
    with pytest.raises(VerificationError, match="keyring: invalid signature"):
        keyring.verify(key_id=key_id, signature=signature, data=data + b" ")
    flipped = bytes([*signature[:-1], signature[-1] ^ 1])
    with pytest.raises(VerificationError, match="keyring: invalid signature"):
        keyring.verify(key_id=key_id, signature=flipped, data=data)
    assert len(keyring._accepted) <= _remembered.MAX_REMEMBERED
