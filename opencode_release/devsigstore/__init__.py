"""The embedded Sigstore instance: OIDC issuers, Fulcio, Rekor, trust files.

`LocalSigstore(state_dir, issuer, identity).running()` starts the services on
127.0.0.1 for the duration of a `with` block and yields a `Session`: the
client trust config to sign with, plain identity tokens for the configured
identity, and tokens shaped like GitHub Actions' own:

    with LocalSigstore(state, issuer, identity).running() as session:
        claims = ActionsClaims(repository="o/r", ref="refs/tags/v1.0.0", sha=..., workflow_ref=...)
        token = session.actions_token(claims)            # an ID token, audience "sigstore"
        env = session.actions_job_env(claims)            # ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN
        # a job then GETs $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore with
        # "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" and gets {"value": jwt}

Certificates for Actions tokens carry the SAN and the extensions the public
Fulcio gives GitHub tokens (fulcio.py); their issuer is `ACTIONS_ISSUER`. Keys
and logs stay in `<state_dir>/sigstore/`; `trusted_root_path` is the file
verifiers need.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import keys as keys_module
from . import oidc, trust
from .keys import InstanceKeys
from .oidc import ACTIONS_ISSUER, ActionsClaims
from .rekor import TransparencyLog
from .server import ACTIONS_TOKEN_PATH, Server, Services

__all__ = ["ACTIONS_ISSUER", "ActionsClaims", "LocalSigstore", "Session", "signing_session"]


@dataclass(frozen=True)
class Session:
    url: str
    trust_config_path: Path
    trusted_root_path: Path
    services: Services

    @property
    def trust_config_json(self) -> str:
        return self.trust_config_path.read_text(encoding="utf-8")

    @property
    def trusted_root_json(self) -> str:
        return self.trusted_root_path.read_text(encoding="utf-8")

    def identity_token(self) -> str:
        """A plain token for the configured identity and issuer."""
        return self.services.token()

    def actions_token(self, claims: ActionsClaims, audience: str = oidc.AUDIENCE) -> str:
        """The ID token GitHub Actions would give the job `claims` describe."""
        return oidc.mint_actions(self.services.keys.oidc, claims, audience=audience)

    def actions_job_env(self, claims: ActionsClaims) -> dict[str, str]:
        """The environment GitHub gives a job with `permissions: id-token: write`."""
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}{ACTIONS_TOKEN_PATH}?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc.request_token(self.services.keys.oidc, claims),
        }

    def finish(self, bundles: list[str]) -> list[str]:
        """Prove every entry against the log's tree after the last one, as a Rekor client may
        refetch proofs: the release's bundles then share one signed checkpoint."""
        log = self.log
        size = log.size
        checkpoint = log.checkpoint(size)
        refreshed = []
        for raw in bundles:
            data = json.loads(raw)
            (entry,) = data["verificationMaterial"]["tlogEntries"]
            index = int(entry["logIndex"])
            root, path = log.inclusion(index, size)
            entry["inclusionProof"] = {
                "logIndex": str(index),
                "treeSize": str(size),
                "rootHash": _b64(root),
                "hashes": [_b64(h) for h in path],
                "checkpoint": {"envelope": checkpoint},
            }
            refreshed.append(json.dumps(data))
        return refreshed

    @property
    def log(self) -> TransparencyLog:
        return self.services.log


class LocalSigstore:
    def __init__(self, state_dir: Path, issuer: str, identity: str) -> None:
        self.folder = state_dir / "sigstore"
        self.issuer, self.identity = issuer, identity

    def keys(self) -> InstanceKeys:
        return keys_module.load_or_create(self.folder)

    @property
    def trusted_root_path(self) -> Path:
        return self.folder / "trusted_root.json"

    def write_trusted_root(self) -> Path:
        return trust.write_json(self.trusted_root_path, trust.trusted_root(self.keys()))

    def trusted_root(self) -> dict[str, Any]:
        return trust.trusted_root(self.keys())

    def log(self) -> TransparencyLog:
        return TransparencyLog(self.keys(), self.folder / "log")

    @contextlib.contextmanager
    def running(self) -> Iterator[Session]:
        keys = self.keys()
        services = Services(keys, TransparencyLog(keys, self.folder / "log"), self.issuer, self.identity)
        server = Server(services)
        server.start()
        try:
            self.write_trusted_root()
            config_path = trust.write_json(
                self.folder / "trust_config.json", trust.client_trust_config(keys, server.url)
            )
            yield Session(server.url, config_path, self.trusted_root_path, services)
        finally:
            server.stop()


def signing_session(state_dir: Path, issuer: str, identity: str) -> contextlib.AbstractContextManager[Session]:
    """The embedded instance for one signing run (what release/ hands the sign stage)."""
    return LocalSigstore(state_dir, issuer, identity).running()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
