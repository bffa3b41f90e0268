"""The local OIDC issuers: plain identity tokens, and tokens shaped like GitHub Actions' own.

Two issuers share the instance's ES256 key. The plain one names the configured
identity (`sub`, and `email` when it is an address). The Actions one mints what
https://token.actions.githubusercontent.com mints for a job with
`permissions: id-token: write` (claims as GitHub documents them: "OIDC token
claims" in GitHub's security reference), under its own issuer URL, so the
local Fulcio maps the claims to certificate extensions as the public Fulcio
does for GitHub. sigstore-python decodes a token without checking its
signature; the local Fulcio checks it against this key, as the real one checks
the provider's published keys.

A job asks for its token as on GitHub: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore`
with `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`. The request
token here is itself signed by the instance and carries the job's claims, so
whoever holds it can get ID tokens for that job only (any audience, fresh
times), never for other claims; it is no ID token (its audience differs).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

AUDIENCE = "sigstore"
LIFETIME_SECONDS = 600
# Where the Actions-shaped tokens say they come from (GitHub's is
# https://token.actions.githubusercontent.com). No port: a policy pins it.
ACTIONS_ISSUER = "http://token.actions.opencode-release.local"
GITHUB_URL = "https://github.com"
REQUEST_AUDIENCE = "opencode-release.local/actions-id-token-request"
# GitHub's request token lives as long as the job may run (6 hours).
REQUEST_LIFETIME_SECONDS = 6 * 3600


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class Claims:
    """What Fulcio needs of a checked token: its issuer, identity and every claim."""

    issuer: str
    identity: str
    all: Mapping[str, Any]


@dataclass(frozen=True)
class ActionsClaims:
    """The claims of a GitHub Actions job's OIDC token (strings, as GitHub sends them).

    `workflow_ref` names the workflow the run started from and `job_workflow_ref`
    the one whose job asks for the token: they differ when the job runs in a
    reusable workflow, and then the certificate's SAN and Build Signer URI name
    the reusable workflow and its Build Config URI the caller.
    """

    repository: str  # owner/name
    ref: str  # refs/heads/main, refs/tags/v1.2.3
    sha: str
    workflow_ref: str  # owner/name/.github/workflows/release.yml@refs/tags/v1.2.3
    job_workflow_ref: str = ""  # default: workflow_ref
    job_workflow_sha: str = ""  # default: sha
    workflow_sha: str = ""  # default: sha
    workflow: str = ""  # the workflow's name; default: its file name
    event_name: str = "push"
    runner_environment: str = "github-hosted"
    repository_id: str = "100000001"
    repository_owner_id: str = "100000002"
    repository_visibility: str = "public"
    run_id: str = "1"
    run_number: str = "1"
    run_attempt: str = "1"
    actor: str = "opencode-release-bot"
    actor_id: str = "100000003"
    environment: str = ""
    head_ref: str = ""
    base_ref: str = ""

    def token_claims(self) -> dict[str, str]:
        claims = asdict(self)
        claims["job_workflow_ref"] = self.job_workflow_ref or self.workflow_ref
        claims["job_workflow_sha"] = self.job_workflow_sha or self.sha
        claims["workflow_sha"] = self.workflow_sha or self.sha
        claims["workflow"] = self.workflow or self.workflow_ref.split("@")[0].rsplit("/", 1)[-1]
        claims["repository_owner"] = self.repository.split("/")[0]
        claims["ref_type"] = "tag" if self.ref.startswith("refs/tags/") else "branch"
        claims["ref_protected"] = "false"
        if not self.environment:
            del claims["environment"]  # GitHub sends it only for jobs with an environment
        # GitHub's default subject: by environment, then pull request, then ref.
        if self.environment:
            claims["sub"] = f"repo:{self.repository}:environment:{self.environment}"
        elif self.event_name == "pull_request":
            claims["sub"] = f"repo:{self.repository}:pull_request"
        else:
            claims["sub"] = f"repo:{self.repository}:ref:{self.ref}"
        return claims


def _times(now: float | None, lifetime: int) -> dict[str, int]:
    issued = int(now if now is not None else time.time())
    return {"iat": issued, "nbf": issued, "exp": issued + lifetime}


def mint(key: ec.EllipticCurvePrivateKey, issuer: str, identity: str, now: float | None = None) -> str:
    claims: dict[str, Any] = {"iss": issuer, "sub": identity, "aud": AUDIENCE, **_times(now, LIFETIME_SECONDS)}
    if "@" in identity and "://" not in identity:
        claims.update(email=identity, email_verified=True)
    return jwt.encode(claims, key, algorithm="ES256")


def mint_actions(
    key: ec.EllipticCurvePrivateKey,
    claims: ActionsClaims,
    audience: str = AUDIENCE,
    issuer: str = ACTIONS_ISSUER,
    now: float | None = None,
) -> str:
    """An ID token as GitHub Actions mints it for the job `claims` describe."""
    body: dict[str, Any] = {
        **claims.token_claims(),
        "aud": audience,
        "iss": issuer,
        "jti": f"{claims.run_id}-{claims.run_attempt}-{time.monotonic_ns()}",
        **_times(now, LIFETIME_SECONDS),
    }
    return jwt.encode(body, key, algorithm="ES256", headers={"kid": "opencode-release-local"})


def request_token(key: ec.EllipticCurvePrivateKey, claims: ActionsClaims, now: float | None = None) -> str:
    """The job's ACTIONS_ID_TOKEN_REQUEST_TOKEN: signed, carrying the job's claims."""
    body = {"aud": REQUEST_AUDIENCE, "job": asdict(claims), **_times(now, REQUEST_LIFETIME_SECONDS)}
    return jwt.encode(body, key, algorithm="ES256")


def redeem(key: ec.EllipticCurvePrivateKey, token: str, audience: str, issuer: str = ACTIONS_ISSUER) -> str:
    """The ID token a request token entitles its job to, for `audience`."""
    try:
        body = jwt.decode(
            token,
            key.public_key(),
            algorithms=["ES256"],
            audience=REQUEST_AUDIENCE,
            options={"require": ["aud", "exp", "job"]},
        )
        claims = ActionsClaims(**body["job"])
    except (jwt.PyJWTError, TypeError) as exc:
        raise TokenError(f"ID token request refused: {exc}") from None
    return mint_actions(key, claims, audience=audience, issuer=issuer)


def check(token: str, key: ec.EllipticCurvePublicKey, issuers: tuple[str, ...]) -> Claims:
    """The token's claims, once its signature, audience, issuer and times check out."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["ES256"],
            audience=AUDIENCE,
            issuer=issuers,
            options={"require": ["iss", "sub", "aud", "iat", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"identity token refused: {exc}") from exc
    return Claims(issuer=str(claims["iss"]), identity=str(claims.get("email") or claims["sub"]), all=claims)
