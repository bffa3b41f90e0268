"""The packaged production policy over real bundles: the embedded Fulcio writes GitHub's claims into each
certificate, sigstore-python's Verifier checks the bundle, and a bundle whose certificate differs from the
release workflow's in one claim is refused under that claim's rule.

The embedded instance's Actions issuer stands in for GitHub's (only the issuer differs from production,
so the test takes the production policy with that one value given as its issuer).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator

import pytest
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from opencode_release.core.errors import VerificationError
from opencode_release.devsigstore import ACTIONS_ISSUER, ActionsClaims, LocalSigstore, Session
from opencode_release.verify import identity_policy
from opencode_release.verify.bundles import BundleVerifier

pytestmark = pytest.mark.integration
PAYLOAD = b"opencode 1.4.0 archive"
RELEASE = ActionsClaims(
    repository="opencode/opencode",
    ref="refs/tags/v1.4.0",
    sha="0123456789abcdef0123456789abcdef01234567",
    workflow_ref="opencode/opencode/.github/workflows/release.yml@refs/tags/v1.4.0",
    # the job that signs runs in the reusable build.yml the release workflow calls
    job_workflow_ref="opencode/opencode/.github/workflows/build.yml@refs/tags/v1.4.0",
)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    with LocalSigstore(tmp_path_factory.mktemp("state"), "http://127.0.0.1/oidc", "x@local").running() as running:
        yield running


def _bundle_json(session: Session, claims: ActionsClaims) -> bytes:
    config = ClientTrustConfig.from_json(session.trust_config_path.read_text(encoding="utf-8"))
    with SigningContext.from_trust_config(config).signer(IdentityToken(session.actions_token(claims))) as signer:
        return signer.sign_artifact(PAYLOAD).to_json().encode()


def _verify(session: Session, claims: ActionsClaims, channel: str = "stable") -> None:
    trust = identity_policy.parse_trusted_root(session.trusted_root_json.encode(), "the embedded instance")
    production = identity_policy.load_policy("production", None, {}, channel)
    # Same rules as production; only the issuer is the embedded instance's stand-in for GitHub's.
    rules = dataclasses.replace(production, issuer=ACTIONS_ISSUER)
    verifier = BundleVerifier(trust.root, rules.certificate_policy())
    raw = _bundle_json(session, claims)
    verifier.verify_artifact("a.tar.gz", verifier.parse("a.tar.gz", raw), hashlib.sha256(PAYLOAD).digest())


def test_the_release_workflows_bundle_passes_every_rule(session: Session) -> None:
    _verify(session, RELEASE)


@pytest.mark.parametrize(
    "change, check",
    [
        ({"repository": "mallory/opencode"}, "source-repository-uri"),
        ({"job_workflow_ref": "opencode/opencode/.github/workflows/other.yml@refs/tags/v1.4.0"}, "identity"),
        # the calling workflow's own job, outside the reusable build: refused (SLSA Build L3)
        ({"job_workflow_ref": "opencode/opencode/.github/workflows/release.yml@refs/tags/v1.4.0"}, "identity"),
        ({"ref": "refs/heads/main"}, "source-repository-ref"),
        ({"runner_environment": "self-hosted"}, "runner-environment"),
    ],
)
def test_one_claim_changed_is_refused_under_its_rule(session: Session, change: dict[str, str], check: str) -> None:
    with pytest.raises(VerificationError) as caught:
        _verify(session, dataclasses.replace(RELEASE, **change))
    assert caught.value.check == check, caught.value.reason


def test_the_nightly_policy_refuses_a_release_tag_and_takes_main(session: Session) -> None:
    nightly = ActionsClaims(
        repository="opencode/opencode",
        ref="refs/heads/main",
        sha=RELEASE.sha,
        workflow_ref="opencode/opencode/.github/workflows/nightly.yml@refs/heads/main",
        job_workflow_ref="opencode/opencode/.github/workflows/build.yml@refs/heads/main",
    )
    _verify(session, nightly, "nightly")
    with pytest.raises(VerificationError) as caught:
        _verify(session, RELEASE, "nightly")
    assert caught.value.check == "identity"
