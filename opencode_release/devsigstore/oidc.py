"""The local OIDC issuer: mints short-lived ES256 identity tokens for the configured identity.

sigstore-python decodes the token without checking its signature; the local
Fulcio checks it against this issuer's key, as the real one checks the
provider's published keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

AUDIENCE = "sigstore"
LIFETIME_SECONDS = 600


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class Claims:
    issuer: str
    identity: str


def mint(key: ec.EllipticCurvePrivateKey, issuer: str, identity: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": identity,
        "aud": AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + LIFETIME_SECONDS,
    }
    if "@" in identity and "://" not in identity:
        claims.update(email=identity, email_verified=True)
    return jwt.encode(claims, key, algorithm="ES256")


def check(token: str, key: ec.EllipticCurvePublicKey, issuer: str) -> Claims:
    """The token's issuer and identity, once its signature, audience and times check out."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["ES256"],
            audience=AUDIENCE,
            issuer=issuer,
            options={"require": ["iss", "sub", "aud", "iat", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"identity token refused: {exc}") from exc
    return Claims(issuer=str(claims["iss"]), identity=str(claims.get("email") or claims["sub"]))
