"""Every private part of sigstore-python that verify/ relies on, named, and the exact pin that keeps it.

sigstore-python marks these "@private"/"@api private" or keeps them under
`sigstore._internal`: a new release may change them without notice, so the
project pins sigstore exactly (pyproject.toml) and this test fails first when
the pin moves and one of them is gone or has changed shape.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import re
from pathlib import Path

import sigstore
from sigstore._internal.timestamp import TimestampVerificationResult
from sigstore._internal.trust import Keyring, KeyringPurpose
from sigstore.models import Bundle, TimestampVerificationData, TransparencyLogEntry, TrustedRoot
from sigstore.verify import Verifier
from sigstore.verify import policy as sigstore_policy

from opencode_release.verify import identity_policy

REPO = Path(__file__).resolve().parents[2]

# (where it is used, the private name)
PRIVATE = [
    ("bundles.py, artifact.py: is a bundle DSSE", "sigstore.models.Bundle._dsse_envelope"),
    ("bundles.verify_with_key: a managed-key log entry", "sigstore.models.TransparencyLogEntry.__init__ (@private)"),
    ("bundles.verify_with_key: inclusion proof, checkpoint, SET", "sigstore.models.TransparencyLogEntry._verify"),
    ("bundles.verify_with_key: the entry's fields", "sigstore.models.TransparencyLogEntry._inner"),
    ("bundles.verify_with_key: RFC 3161 responses", "sigstore.models.TimestampVerificationData.__init__ (@private)"),
    (
        "bundles.verify_with_key: a timestamp against the root's TSAs",
        "sigstore.verify.Verifier._verify_signed_timestamp",
    ),
    ("bundles.verify_with_key: the log keys", "sigstore._internal.trust.KeyringPurpose"),
    ("identity_policy.parse_trusted_root: a root from bytes", "sigstore.models.TrustedRoot.__init__ (@api private)"),
    ("identity_policy.parse_trusted_root: a trust config's root", "sigstore.models.TrustedRoot._inner"),
    (
        "identity_policy.SharedKeyrings: keyrings built once",
        "TrustedRoot.rekor_keyring/ct_keyring, asked by Verifier with KeyringPurpose.VERIFY; "
        "sigstore._internal.trust.RekorKeyring, CTKeyring",
    ),
    ("identity_policy.Pattern: the extension classes' base", "sigstore.verify.policy._SingleX509ExtPolicyV2"),
    (
        "_remembered.RememberingKeyring: the same keys, accepted signatures remembered",
        "sigstore._internal.trust.Keyring.verify(key_id=, signature=, data=) and Keyring._keyring",
    ),
    (
        "_remembered.RememberingVerifier: a chain remembered per certificate and time",
        "sigstore.verify.Verifier._verify_chain_at_time; sigstore._internal.timestamp.TimestampVerificationResult",
    ),
    ("identity_policy.shipped_trusted_root_path", "sigstore/_store/<quoted TUF URL>/trusted_root.json"),
]


def test_sigstore_is_pinned_exactly_to_the_version_installed() -> None:
    pins = re.findall(r'"sigstore==([0-9.]+)"', (REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pins == [sigstore.__version__] == [importlib.metadata.version("sigstore")] == ["4.5.1"]


def test_every_private_name_is_there_with_the_shape_relied_on() -> None:
    assert len(PRIVATE) == 14
    assert list(inspect.signature(Keyring.verify).parameters) == ["self", "key_id", "signature", "data"]
    assert isinstance(Keyring()._keyring, dict)
    assert list(inspect.signature(Verifier._verify_chain_at_time).parameters) == [
        "self",
        "certificate",
        "timestamp_result",
    ]
    assert {f.name for f in dataclasses.fields(TimestampVerificationResult)} >= {"source", "time"}
    # The chain is all the Verifier uses the time for: RememberingVerifier keys it by (certificate, time).
    common = inspect.getsource(Verifier._verify_common_signing_cert)
    assert "self._verify_chain_at_time(cert, vts)" in common
    assert isinstance(Bundle._dsse_envelope, property)
    assert list(inspect.signature(TransparencyLogEntry.__init__).parameters) == ["self", "inner"]
    assert list(inspect.signature(TransparencyLogEntry._verify).parameters) == ["self", "keyring"]
    assert list(inspect.signature(TimestampVerificationData.__init__).parameters) == ["self", "inner"]
    assert TimestampVerificationData.rfc3161_timestamps.fget is not None
    assert list(inspect.signature(Verifier._verify_signed_timestamp).parameters) == [
        "self",
        "timestamp_response",
        "message",
    ]
    assert KeyringPurpose.VERIFY.value == "verify"
    assert list(inspect.signature(TrustedRoot.__init__).parameters) == ["self", "inner"]
    assert list(inspect.signature(TrustedRoot.rekor_keyring).parameters) == ["self", "purpose"]
    assert list(inspect.signature(TrustedRoot.ct_keyring).parameters) == ["self", "purpose"]
    # SharedKeyrings saves work only if the Verifier asks for the verifying keyrings on every bundle.
    common = inspect.getsource(Verifier._verify_common_signing_cert)
    assert "ct_keyring(KeyringPurpose.VERIFY)" in common and "rekor_keyring(KeyringPurpose.VERIFY)" in common
    for claim in identity_policy.CLAIMS.values():
        assert issubclass(claim, sigstore_policy._SingleX509ExtPolicyV2) and claim.oid.dotted_string
    for instance in ("production", "staging"):
        assert identity_policy.shipped_trusted_root_path(instance).is_file()


def test_shared_keyrings_hold_the_library_keyrings_built_once() -> None:
    raw = identity_policy.shipped_trusted_root_path("production").read_bytes()
    shared = identity_policy.parse_trusted_root(raw, "production").root
    plain = TrustedRoot.from_file(str(identity_policy.shipped_trusted_root_path("production")))
    assert isinstance(shared, identity_policy.SharedKeyrings)
    for purpose in (KeyringPurpose.VERIFY, KeyringPurpose.SIGN):
        for keyring in ("rekor_keyring", "ct_keyring"):
            mine, theirs = getattr(shared, keyring)(purpose), getattr(plain, keyring)(purpose)
            assert sorted(mine._keyring) == sorted(theirs._keyring)
            again = getattr(shared, keyring)(purpose)
            assert (again is mine) == (purpose is KeyringPurpose.VERIFY)
