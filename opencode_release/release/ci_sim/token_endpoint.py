"""The simulated runner's OIDC token endpoint: GitHub's claims for the jobs that were granted one.

A job holding a grant (grants.Grant) asks as actions/core's getIDToken does: GET
`$ACTIONS_ID_TOKEN_REQUEST_URL&audience=A` with `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`,
and gets `{"value": JWT}`. The JWT carries the claims GitHub documents for Actions OIDC tokens
(repository, ref, sha, workflow_ref, job_workflow_ref, runner_environment, ...), signed by the
embedded Sigstore's OIDC key, so its Fulcio writes the same certificate extensions GitHub's would.
A wrong or missing request token gets 401 and no token.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .grants import Grant

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
LIFETIME_SECONDS = 300


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What GitHub knows about the run that a token describes."""

    repository: str  # owner/name
    repository_id: str
    owner_id: str
    ref: str  # refs/tags/v1.4.0 or refs/heads/main
    sha: str
    caller: str  # .github/workflows/release.yml
    event_name: str
    run_id: str = "1"
    run_attempt: str = "1"
    run_number: str = "1"
    actor: str = "release-manager"
    visibility: str = "public"


def claims_for(grant: Grant, run: RunFacts, audience: str, now: float) -> dict[str, Any]:
    """GitHub's documented claims for a job's token (docs: "About security hardening with OpenID Connect")."""
    owner = run.repository.split("/")[0]
    subject = (
        f"repo:{run.repository}:environment:{grant.environment}"
        if grant.environment
        else f"repo:{run.repository}:ref:{run.ref}"
    )
    issued = int(now)
    claims: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "sub": subject,
        "aud": audience,
        "iss": GITHUB_ISSUER,
        "iat": issued,
        "nbf": issued,
        "exp": issued + LIFETIME_SECONDS,
        "ref": run.ref,
        "ref_type": "tag" if run.ref.startswith("refs/tags/") else "branch",
        "ref_protected": "true",
        "sha": run.sha,
        "repository": run.repository,
        "repository_id": run.repository_id,
        "repository_owner": owner,
        "repository_owner_id": run.owner_id,
        "repository_visibility": run.visibility,
        "actor": run.actor,
        "actor_id": "1",
        "run_id": run.run_id,
        "run_number": run.run_number,
        "run_attempt": run.run_attempt,
        "event_name": run.event_name,
        "workflow": run.caller.rsplit("/", 1)[-1],
        "workflow_ref": f"{run.repository}/{run.caller}@{run.ref}",
        "workflow_sha": run.sha,
        # a local reusable workflow runs at the caller's ref: its identity is the file at that ref
        "job_workflow_ref": f"{run.repository}/{grant.workflow_file}@{run.ref}",
        "job_workflow_sha": run.sha,
        "runner_environment": "github-hosted",
    }
    if grant.environment:
        claims["environment"] = grant.environment
    return claims


Mint = Callable[[Mapping[str, Any]], str]


@contextmanager
def serving(grants: Sequence[Grant], run: RunFacts, mint: Mint) -> Iterator[str]:
    """Serve tokens on 127.0.0.1 for the `with` block; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests carry tokens; never log them

        def _answer(self, status: int, body: Mapping[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                grant = grants[int(query["grant"][0])]
            except (KeyError, ValueError, IndexError):
                self._answer(404, {"message": "no such grant"})
                return
            offered = self.headers.get("Authorization", "").partition(" ")[2]
            if url.path != "/token" or not hmac.compare_digest(offered.encode(), grant.request_token.encode()):
                self._answer(401, {"message": "bad request token"})
                return
            audience = query.get("audience", [f"https://github.com/{run.repository.split('/')[0]}"])[0]
            self._answer(200, {"value": mint(claims_for(grant, run, audience, time.time()))})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
