"""The certificate policy, rule by rule: a certificate differing from a good one in one claim only is refused
under that claim's check name.

The certificates are Fulcio-shaped (SAN URI, issuer in extensions .1.1 and
.1.8, GitHub's claims as DER UTF8Strings under 1.3.6.1.4.1.57264.1.*) and
self-signed: the policy sees only the certificate, as sigstore-python's
Verifier hands it over after the chain check. The release pipeline's own
bundles (tests/integration) carry them through the whole Verifier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest
from cryptography import x509
from cryptography.hazmat import asn1
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from opencode_release.verify import identity_policy
from opencode_release.verify.identity_policy import PolicyRefusal

REPO = "https://github.com/opencode/opencode"
# The reusable build.yml signs (its job_workflow_ref); release.yml and nightly.yml only call it.
WORKFLOW = f"{REPO}/.github/workflows/build.yml@refs/tags/v1.4.0"
NIGHTLY = f"{REPO}/.github/workflows/build.yml@refs/heads/main"
CALLER = f"{REPO}/.github/workflows/release.yml@refs/tags/v1.4.0"
GITHUB = "https://token.actions.githubusercontent.com"
OID = "1.3.6.1.4.1.57264.1."
GOOD = {
    "san": WORKFLOW,
    "issuer": GITHUB,
    "build-signer-uri": WORKFLOW,
    "source-repository-uri": REPO,
    "source-repository-ref": "refs/tags/v1.4.0",
    "runner-environment": "github-hosted",
}
CLAIM_OIDS = {
    "build-signer-uri": "9",
    "source-repository-uri": "12",
    "source-repository-ref": "14",
    "runner-environment": "11",
}
_KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(claims: Mapping[str, str | None]) -> x509.Certificate:
    """A leaf with these claims; a claim set to None is left out."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(minutes=10))
    )
    if claims.get("san"):
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(str(claims["san"]))]), critical=True
        )
    if claims.get("issuer"):
        issuer = str(claims["issuer"])
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(OID + "1"), issuer.encode()), critical=False
        )
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(OID + "8"), asn1.encode_der(issuer)), critical=False
        )
    for key, number in CLAIM_OIDS.items():
        value = claims.get(key)
        if value is not None:
            extension = x509.UnrecognizedExtension(x509.ObjectIdentifier(OID + number), asn1.encode_der(value))
            builder = builder.add_extension(extension, critical=False)
    return builder.sign(_KEY, hashes.SHA256())


def stable_policy() -> identity_policy.Policy:
    return identity_policy.load_policy("production", None, {}, "stable")


def refusal(policy: identity_policy.Policy, claims: Mapping[str, str | None]) -> PolicyRefusal:
    with pytest.raises(PolicyRefusal) as caught:
        policy.certificate_policy().verify(certificate(claims))
    return caught.value


def test_a_certificate_with_every_claim_of_the_stable_policy_passes() -> None:
    stable_policy().certificate_policy().verify(certificate(GOOD))
    lts = identity_policy.load_policy("production", None, {}, "lts/1.2")
    lts.certificate_policy().verify(certificate(GOOD))


@pytest.mark.parametrize(
    "claim, value, check, reason",
    [
        ("issuer", "https://accounts.google.com", "issuer", "OIDCIssuerV2 does not match (got https://accounts.google"),
        (
            "san",
            "https://github.com/mallory/opencode/.github/workflows/release.yml@refs/tags/v1.4.0",
            "identity",
            "signed by https://github.com/mallory/",
        ),
        # a certificate for a job of the calling workflow alone: not the reusable build (SLSA L3)
        ("san", CALLER, "identity", f"signed by {CALLER}, expected {REPO}/.github/workflows/build.yml@"),
        (
            "build-signer-uri",
            CALLER,
            "build-signer-uri",
            "OIDCBuildSignerURI is https://github.com/opencode/opencode/.github/workflows/release.yml@",
        ),
        (
            "build-signer-uri",
            f"{REPO}/.github/workflows/other.yml@refs/tags/v1.4.0",
            "build-signer-uri",
            "OIDCBuildSignerURI is https://github.com/opencode/opencode/.github/workflows/other.yml@",
        ),
        (
            "source-repository-uri",
            "https://github.com/mallory/opencode",
            "source-repository-uri",
            "OIDCSourceRepositoryURI does not match (got https://github.com/mallory/opencode",
        ),
        (
            "source-repository-ref",
            "refs/heads/main",
            "source-repository-ref",
            "OIDCSourceRepositoryRef is refs/heads/main, expected refs/tags/v*",
        ),
        (
            "runner-environment",
            "self-hosted",
            "runner-environment",
            "OIDCRunnerEnvironment does not match (got self-hosted, expected github-hosted)",
        ),
        ("runner-environment", None, "runner-environment", "does not contain OIDCRunnerEnvironment"),
        (
            "source-repository-ref",
            None,
            "source-repository-ref",
            "certificate has no OIDCSourceRepositoryRef extension",
        ),
    ],
)
def test_one_claim_differing_is_refused_under_its_rule(claim: str, value: str | None, check: str, reason: str) -> None:
    got = refusal(stable_policy(), {**GOOD, claim: value})
    assert got.check == check and reason in got.reason, (got.check, got.reason)


def test_nightly_takes_the_main_branch_and_refuses_a_tag() -> None:
    nightly = identity_policy.load_policy("production", None, {}, "nightly")
    good = {**GOOD, "san": NIGHTLY, "build-signer-uri": NIGHTLY, "source-repository-ref": "refs/heads/main"}
    nightly.certificate_policy().verify(certificate(good))
    got = refusal(nightly, {**good, "source-repository-ref": "refs/tags/v1.4.0"})
    assert got.check == "source-repository-ref" and "expected refs/heads/main" in got.reason
    # and the stable policy refuses the nightly's signer
    assert refusal(stable_policy(), good).check == "identity"


def test_a_pattern_matches_the_whole_value_only() -> None:
    got = refusal(stable_policy(), {**GOOD, "source-repository-ref": "refs/tags/x-refs/tags/v1"})
    assert got.check == "source-repository-ref"
    got = refusal(stable_policy(), {**GOOD, "san": f"{WORKFLOW}/extra@refs/heads/main"})
    assert got.check == "identity"
