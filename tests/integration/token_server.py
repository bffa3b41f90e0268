"""A token service for Distribution's `token` authentication, on 127.0.0.1, for one test.

It plays the part a registry vendor's token endpoint plays (ghcr.io's, Docker Hub's): it checks the Basic
credentials of the request and answers `{"token": JWT}` granting the scope asked for; the registry, the real
Distribution 2.8, verifies that JWT against the certificate of its `rootcertbundle` (ES256, the certificate in
the `x5c` header), its issuer, audience, lifetime and access list. Wrong or missing credentials get 401."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import http.server
import json
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .channel_helpers import serving

ISSUER = "opencode-test-token-issuer"
SERVICE = "opencode-test-registry"


@dataclass(frozen=True)
class TokenService:
    realm: str  # http://127.0.0.1:PORT/token
    certificate: Path  # the registry's rootcertbundle


def _key_and_certificate() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _access(scopes: list[str]) -> list[dict[str, object]]:
    granted: list[dict[str, object]] = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind == "repository" and name:
            granted.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
    return granted


class _Handler(http.server.BaseHTTPRequestHandler):
    def __init__(self, *args: object, user: str, password: str, key: ec.EllipticCurvePrivateKey, chain: str,
                 **kwargs: object) -> None:  # fmt: skip
        self.user, self.password, self.key, self.chain = user, password, key, chain
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        given = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if not secrets.compare_digest(given.encode(), expected.encode()):
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": self.user,
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": _access(query.get("scope", [])),
        }
        token = jwt.encode(claims, self.key, algorithm="ES256", headers={"x5c": [self.chain]})
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def token_service(folder: Path, user: str, password: str) -> Iterator[TokenService]:
    key, certificate = _key_and_certificate()
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / "token-root.pem"
    bundle.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    chain = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    handler = functools.partial(_Handler, user=user, password=password, key=key, chain=chain)
    with serving(handler) as url:
        yield TokenService(f"{url}/token", bundle)
