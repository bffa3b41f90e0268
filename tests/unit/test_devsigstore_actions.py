"""GitHub Actions-shaped tokens and the certificates the local Fulcio makes of them.

The expected values are written out by hand from Fulcio's documented mapping
(docs/oid-info.md, "Mapping OIDC token claims to Fulcio OIDs"), not computed
with the code under test; sigstore-python's policy classes must accept them and
refuse a certificate that differs in the one claim a rule looks at.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.errors import VerificationError
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from opencode_release.attest.signing import certificate_identity
from opencode_release.devsigstore import ACTIONS_ISSUER, ActionsClaims, LocalSigstore, Session, fulcio, oidc

ISSUER = "http://127.0.0.1/oidc"
IDENTITY = "release@opencode.local"
SHA = "0123456789abcdef0123456789abcdef01234567"
WORKFLOW_SHA = "89abcdef0123456789abcdef0123456789abcdef"
CLAIMS = ActionsClaims(
    repository="opencode/opencode",
    ref="refs/tags/v1.4.0",
    sha=SHA,
    workflow_ref="opencode/opencode/.github/workflows/release.yml@refs/tags/v1.4.0",
    job_workflow_ref="opencode/opencode/.github/workflows/build-attest.yml@refs/tags/v1.4.0",
    job_workflow_sha=WORKFLOW_SHA,
    repository_id="4711",
    repository_owner_id="815",
    run_id="9001",
    run_attempt="2",
)
SIGNER = "https://github.com/opencode/opencode/.github/workflows/build-attest.yml@refs/tags/v1.4.0"
CALLER = "https://github.com/opencode/opencode/.github/workflows/release.yml@refs/tags/v1.4.0"
# OID arc under 1.3.6.1.4.1.57264.1 -> the value Fulcio writes for CLAIMS.
EXPECTED_UTF8 = {
    8: ACTIONS_ISSUER,
    9: SIGNER,
    10: WORKFLOW_SHA,
    11: "github-hosted",
    12: "https://github.com/opencode/opencode",
    13: SHA,
    14: "refs/tags/v1.4.0",
    15: "4711",
    16: "https://github.com/opencode",
    17: "815",
    18: CALLER,
    19: SHA,
    20: "push",
    21: "https://github.com/opencode/opencode/actions/runs/9001/attempts/2",
    22: "public",
    24: "repo:opencode/opencode:ref:refs/tags/v1.4.0",
}
EXPECTED_RAW = {1: ACTIONS_ISSUER, 2: "push", 3: SHA, 4: "release.yml", 5: "opencode/opencode", 6: "refs/tags/v1.4.0"}


def _utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 128
    return b"\x0c" + bytes([len(data)]) + data


def _extension(cert: x509.Certificate, arc: int) -> bytes:
    ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(f"1.3.6.1.4.1.57264.1.{arc}")).value
    assert isinstance(ext, x509.UnrecognizedExtension)
    return ext.value


def _csr() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _issue(tmp_path: Path, claims: ActionsClaims) -> x509.Certificate:
    keys = LocalSigstore(tmp_path, ISSUER, IDENTITY).keys()
    token = oidc.mint_actions(keys.oidc, claims)
    checked = oidc.check(token, keys.oidc.public_key(), (ISSUER, ACTIONS_ISSUER))
    return fulcio.issue(keys, _csr(), fulcio.actions_principal(checked.all))


def test_token_carries_githubs_claims_as_strings(tmp_path: Path) -> None:
    keys = LocalSigstore(tmp_path, ISSUER, IDENTITY).keys()
    claims = jwt.decode(oidc.mint_actions(keys.oidc, CLAIMS), options={"verify_signature": False}, audience="sigstore")
    assert claims["iss"] == ACTIONS_ISSUER and claims["aud"] == "sigstore"
    assert claims["sub"] == "repo:opencode/opencode:ref:refs/tags/v1.4.0"
    assert claims["repository_owner"] == "opencode" and claims["ref_type"] == "tag"
    assert claims["workflow_sha"] == SHA and claims["job_workflow_sha"] == WORKFLOW_SHA
    assert "environment" not in claims
    assert all(isinstance(v, str) for k, v in claims.items() if k not in ("iat", "nbf", "exp"))
    deployed = jwt.decode(
        oidc.mint_actions(keys.oidc, dataclasses.replace(CLAIMS, environment="release")),
        options={"verify_signature": False},
        audience="sigstore",
    )
    assert deployed["sub"] == "repo:opencode/opencode:environment:release" and deployed["environment"] == "release"


def test_certificate_has_fulcios_github_extensions(tmp_path: Path) -> None:
    cert = _issue(tmp_path, CLAIMS)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.UniformResourceIdentifier) == [SIGNER]
    for arc, text in EXPECTED_UTF8.items():
        assert _extension(cert, arc) == _utf8(text), arc
    for arc, text in EXPECTED_RAW.items():
        assert _extension(cert, arc) == text.encode(), arc
    with pytest.raises(x509.ExtensionNotFound):  # no environment claim: no Deployment Environment
        _extension(cert, 23)
    deployed = _issue(tmp_path, dataclasses.replace(CLAIMS, environment="release"))
    assert _extension(deployed, 23) == _utf8("release")
    assert all(not ext.critical for ext in cert.extensions if ext.oid.dotted_string.startswith("1.3.6.1.4.1.57264"))


def test_fulcio_refuses_a_github_token_missing_a_claim_it_maps(tmp_path: Path) -> None:
    keys = LocalSigstore(tmp_path, ISSUER, IDENTITY).keys()
    claims = CLAIMS.token_claims()
    del claims["repository_id"]
    token = jwt.encode(
        {**claims, "iss": ACTIONS_ISSUER, "aud": "sigstore", "iat": 1, "exp": 2**40}, keys.oidc, algorithm="ES256"
    )
    checked = oidc.check(token, keys.oidc.public_key(), (ISSUER, ACTIONS_ISSUER))
    with pytest.raises(fulcio.CertificateRequestError, match="repository_id missing"):
        fulcio.actions_principal(checked.all)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    with LocalSigstore(tmp_path_factory.mktemp("state"), ISSUER, IDENTITY).running() as running:
        yield running


def _get(url: str, token: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Authorization": f"bearer {token}"})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback only
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_token_endpoint_answers_as_github_does_for_the_job_only(session: Session) -> None:
    env = session.actions_job_env(CLAIMS)
    url, request_token = env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
    assert url.startswith(session.url) and url.endswith("?api-version=2.0")
    # actions/toolkit appends "&audience=", sigstore-python (urllib3 fields) "?audience=".
    for suffix in ("&audience=sigstore", "?audience=sigstore"):
        status, body = _get(url + suffix, request_token)
        assert status == 200 and set(body) == {"value"}
        claims = IdentityToken(body["value"])._unverified_claims
        assert claims["job_workflow_ref"] == CLAIMS.job_workflow_ref and claims["iss"] == ACTIONS_ISSUER
    status, body = _get(url + "&audience=other", request_token)
    assert status == 200 and jwt.decode(body["value"], options={"verify_signature": False}, audience="other")
    # Neither a forged request token nor an ID token opens the endpoint.
    forged = oidc.request_token(ec.generate_private_key(ec.SECP256R1()), CLAIMS)
    assert _get(url + "&audience=sigstore", forged)[0] == 401
    assert _get(url + "&audience=sigstore", session.actions_token(CLAIMS))[0] == 401
    # ... and the request token is no identity token for Fulcio.
    with pytest.raises(oidc.TokenError, match="identity token refused"):
        oidc.check(request_token, session.services.keys.oidc.public_key(), (ISSUER, ACTIONS_ISSUER))


def _sign(session: Session, claims: ActionsClaims) -> tuple[Verifier, object]:
    config = ClientTrustConfig.from_json(session.trust_config_path.read_text(encoding="utf-8"))
    with SigningContext.from_trust_config(config).signer(IdentityToken(session.actions_token(claims))) as signer:
        bundle = signer.sign_artifact(b"release payload")
    return Verifier(trusted_root=config.trusted_root), bundle


# One rule per Fulcio extension a release policy pins, with the claim change that only it notices.
RULES = [
    (policy.OIDCBuildSignerURI(SIGNER), {"job_workflow_ref": CLAIMS.workflow_ref}),
    (policy.OIDCBuildSignerDigest(WORKFLOW_SHA), {"job_workflow_sha": SHA}),
    (policy.OIDCRunnerEnvironment("github-hosted"), {"runner_environment": "self-hosted"}),
    (policy.OIDCSourceRepositoryURI("https://github.com/opencode/opencode"), {"repository": "fork/opencode"}),
    (policy.OIDCSourceRepositoryDigest(SHA), {"sha": WORKFLOW_SHA, "workflow_sha": SHA}),
    (policy.OIDCSourceRepositoryRef("refs/tags/v1.4.0"), {"ref": "refs/heads/main"}),
    (policy.OIDCSourceRepositoryIdentifier("4711"), {"repository_id": "4712"}),
    (policy.OIDCSourceRepositoryOwnerURI("https://github.com/opencode"), {"repository": "fork/opencode"}),
    (policy.OIDCSourceRepositoryOwnerIdentifier("815"), {"repository_owner_id": "816"}),
    (policy.OIDCBuildConfigURI(CALLER), {"workflow_ref": CLAIMS.job_workflow_ref}),
    (policy.OIDCBuildConfigDigest(SHA), {"workflow_sha": WORKFLOW_SHA}),
    (policy.OIDCBuildTrigger("push"), {"event_name": "workflow_dispatch"}),
    (
        policy.OIDCRunInvocationURI("https://github.com/opencode/opencode/actions/runs/9001/attempts/2"),
        {"run_attempt": "3"},
    ),
    (policy.OIDCSourceRepositoryVisibility("public"), {"repository_visibility": "private"}),
    (policy.GitHubWorkflowRef("refs/tags/v1.4.0"), {"ref": "refs/heads/main"}),
    (policy.GitHubWorkflowRepository("opencode/opencode"), {"repository": "fork/opencode"}),
]


def test_sigstore_policies_accept_the_certificate_and_each_refuses_its_claim_changed(session: Session) -> None:
    identity = policy.Identity(identity=SIGNER, issuer=ACTIONS_ISSUER)
    verifier, bundle = _sign(session, CLAIMS)
    # What the sign stage expects of its own bundles: the SAN, not the token's `sub`.
    assert certificate_identity(bundle) == SIGNER  # type: ignore[arg-type]
    verifier.verify_artifact(b"release payload", bundle, policy.AllOf([identity, *(rule for rule, _ in RULES)]))  # type: ignore[arg-type]
    for rule, change in RULES:
        verifier, other = _sign(session, dataclasses.replace(CLAIMS, **change))
        with pytest.raises(VerificationError):
            verifier.verify_artifact(b"release payload", other, rule)  # type: ignore[arg-type]
    # The calling workflow's identity alone is refused where the reusable workflow signed.
    with pytest.raises(VerificationError):
        verifier.verify_artifact(b"release payload", bundle, policy.Identity(identity=CALLER, issuer=ACTIONS_ISSUER))  # type: ignore[arg-type]
