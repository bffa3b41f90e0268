"""act's artifact server: the v4 Results service (twirp, JSON) that upload/download-artifact v4+ call.

Backend ids come from ACTIONS_RUNTIME_TOKEN's `scp` claim `Actions.Results:<run>:<job>`, as in
@actions/artifact. Routes: CreateArtifact, PUT signed URL (comp=block, comp=blocklist),
FinalizeArtifact, ListArtifacts, GetSignedArtifactURL, GET signed URL.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from typing import Any

SERVICE = "twirp/github.actions.results.api.v1.ArtifactService/"


def backend_ids() -> dict[str, str]:
    token = os.environ["ACTIONS_RUNTIME_TOKEN"]
    body = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    scope = next(s for s in str(claims["scp"]).split() if s.startswith("Actions.Results:"))
    _, run, job = scope.split(":")
    return {"workflowRunBackendId": run, "workflowJobRunBackendId": job}


def call(method: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        os.environ["ACTIONS_RESULTS_URL"] + SERVICE + method,
        json.dumps({**backend_ids(), **body}).encode(),
        {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["ACTIONS_RUNTIME_TOKEN"]},
    )
    with urllib.request.urlopen(request) as answer:
        return dict(json.loads(answer.read() or b"{}"))


def put(url: str, data: bytes) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, data, method="PUT")) as answer:
        answer.read()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url) as answer:
        return bytes(answer.read())
