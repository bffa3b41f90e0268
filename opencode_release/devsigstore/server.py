"""HTTP front of the local instance: Fulcio, Rekor v1 and v2, the TSA and the OIDC token endpoints.

Bound to 127.0.0.1 on an ephemeral port, served from a daemon thread for the
duration of a signing session. Only the routes clients call exist, at the
paths the real services use, so one base URL serves them all:

    POST /api/v2/signingCert        Fulcio
    POST /api/v1/log/entries        Rekor v1 (GET /api/v1/log, /api/v1/log/proof)
    POST /api/v2/log/entries        Rekor v2
    POST /api/v1/timestamp          RFC 3161 timestamp authority
    POST /oidc/token                a plain identity token for the configured identity
    GET  /actions/id-token          a GitHub Actions job's ID token (bearer request token)
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization

from . import fulcio, oidc, tsa
from .keys import InstanceKeys
from .rekor import EntryError, TransparencyLog
from .rekor_v2 import TransparencyLogV2

ACTIONS_TOKEN_PATH = "/actions/id-token"  # noqa: S105 - a route, not a secret
TIMESTAMP_PATH = "/api/v1/timestamp"
MAX_BODY = 64 << 20  # the DSSE envelope of any SBOM statement fits; a runaway client does not


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Services:
    """What the routes do, free of HTTP."""

    def __init__(
        self,
        keys: InstanceKeys,
        log: TransparencyLog,
        log_v2: TransparencyLogV2,
        issuer: str,
        identity: str,
        actions_issuer: str = oidc.ACTIONS_ISSUER,
    ) -> None:
        self.keys, self.log, self.log_v2, self.issuer, self.identity = keys, log, log_v2, issuer, identity
        # Whose tokens carry GitHub Actions claims, which Fulcio maps to the GitHub extensions.
        self.actions_issuer = actions_issuer

    def token(self) -> str:
        return oidc.mint(self.keys.oidc, self.issuer, self.identity)

    def actions_token(self, authorization: str, audience: str) -> dict[str, Any]:
        scheme, _, request_token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not request_token:
            raise _HttpError(401, "missing bearer request token (ACTIONS_ID_TOKEN_REQUEST_TOKEN)")
        try:
            return {"value": oidc.redeem(self.keys.oidc, request_token, audience)}
        except oidc.TokenError as exc:
            raise _HttpError(401, str(exc)) from None

    def signing_cert(self, authorization: str, request: dict[str, Any]) -> dict[str, Any]:
        if not authorization.startswith("Bearer "):
            raise _HttpError(401, "missing bearer token")
        try:
            claims = oidc.check(authorization[7:], self.keys.oidc.public_key(), (self.issuer, self.actions_issuer))
            if claims.issuer == self.actions_issuer:
                principal = fulcio.actions_principal(claims.all)
            else:
                principal = fulcio.plain_principal(claims.identity, claims.issuer, str(claims.all["sub"]))
            csr = base64.b64decode(request["certificateSigningRequest"])
            cert = fulcio.issue(self.keys, csr, principal)
        except (oidc.TokenError, fulcio.CertificateRequestError, KeyError, ValueError) as exc:
            raise _HttpError(400, str(exc)) from exc
        pem = serialization.Encoding.PEM
        chain = [cert.public_bytes(pem).decode(), self.keys.ca_cert.public_bytes(pem).decode()]
        return {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}

    def create_entry(self, proposed: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.log.append(proposed)
        except EntryError as exc:
            raise _HttpError(400, str(exc)) from exc

    def create_entry_v2(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.log_v2.append(request)
        except EntryError as exc:
            raise _HttpError(400, str(exc)) from exc

    def timestamp(self, request: bytes) -> bytes:
        try:
            return tsa.respond(request, self.keys.tsa, self.keys.tsa_cert)
        except tsa.TimestampRequestError as exc:
            raise _HttpError(400, str(exc)) from exc


def _query(raw_path: str) -> dict[str, list[str]]:
    # GitHub's request URL carries `?api-version=2.0`; toolkit clients append
    # `&audience=…`, sigstore-python's (urllib3 fields) `?audience=…`. Take either.
    _, _, query = raw_path.partition("?")
    return parse_qs(query.replace("?", "&"))


def _handler(services: Services) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests carry tokens in headers; never log them

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, status: int, data: dict[str, Any]) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _route(self, action: Callable[[], dict[str, Any]], created: int = 200) -> None:
            try:
                self._answer(created, action())
            except _HttpError as exc:
                self._answer(exc.status, {"code": exc.status, "message": str(exc)})
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                self._answer(400, {"code": 400, "message": f"body is not JSON: {exc}"})

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                raise _HttpError(413, f"request body over {MAX_BODY} bytes")
            return self.rfile.read(length)

        def _json(self) -> dict[str, Any]:
            data = json.loads(self._body() or b"{}")
            if not isinstance(data, dict):
                raise _HttpError(400, "expected a JSON object")
            return data

        def _timestamp(self) -> None:
            try:
                self._send(200, services.timestamp(self._body()), tsa.RESPONSE_TYPE)
            except _HttpError as exc:
                self._answer(exc.status, {"code": exc.status, "message": str(exc)})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            if path == "/api/v2/signingCert":
                self._route(lambda: services.signing_cert(self.headers.get("Authorization", ""), self._json()), 201)
            elif path == "/api/v1/log/entries":
                self._route(lambda: services.create_entry(self._json()), 201)
            elif path == "/api/v2/log/entries":
                self._route(lambda: services.create_entry_v2(self._json()), 201)
            elif path == TIMESTAMP_PATH:
                self._timestamp()
            elif path == "/oidc/token":
                self._route(lambda: {"id_token": services.token(), "token_type": "Bearer"})
            else:
                self._answer(404, {"code": 404, "message": f"no route {path}"})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/api/v1/log":
                self._route(services.log.info)
            elif url.path == "/api/v1/log/proof":
                query = parse_qs(url.query)

                def proof() -> dict[str, Any]:
                    tree = query.get("treeID", [str(services.log.shards.active_tree_id)])[0]
                    if tree != str(services.log.shards.active_tree_id):
                        raise _HttpError(400, f"treeID {tree}: only the active shard's proofs are served")
                    try:
                        first, last = int(query["firstSize"][0]), int(query["lastSize"][0])
                        return {"hashes": services.log.consistency_proof(first, last)}
                    except (KeyError, ValueError) as exc:
                        raise _HttpError(400, f"firstSize and lastSize: {exc}") from exc

                self._route(proof)
            elif url.path == ACTIONS_TOKEN_PATH:
                audience = _query(self.path).get("audience", [oidc.AUDIENCE])[0]
                self._route(lambda: services.actions_token(self.headers.get("Authorization", ""), audience))
            else:
                self._answer(404, {"code": 404, "message": f"no route {url.path}"})

    return Handler


# How often the serving loop looks for a stop request between requests: `stop()`
# waits up to this long, and the default (0.5 s) was most of a signing stage.
POLL_SECONDS = 0.02


class Server:
    """A ThreadingHTTPServer on 127.0.0.1:<ephemeral>, in a daemon thread."""

    def __init__(self, services: Services) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(services))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(POLL_SECONDS,), name="local-sigstore", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
