"""The embedded Sigstore instance: OIDC issuers, Fulcio, Rekor v1 and v2, a TSA, trust files.

`LocalSigstore(state_dir, issuer, identity).running(rekor_version=1)` starts the
services on 127.0.0.1 for the duration of a `with` block and yields a
`Session`: the client trust config to sign with (its signing config lists the
chosen Rekor, and the timestamp authority when timestamps are on: by default
only with Rekor v2, which gives no signed time of its own), plain identity
tokens for the configured identity, and tokens shaped like GitHub Actions' own:

    with LocalSigstore(state, issuer, identity).running(rekor_version=2) as session:
        claims = ActionsClaims(repository="o/r", ref="refs/tags/v1.0.0", sha=..., workflow_ref=...)
        token = session.actions_token(claims)            # an ID token, audience "sigstore"
        env = session.actions_job_env(claims)            # ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN
        # a job then GETs $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore with
        # "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" and gets {"value": jwt}

Certificates for Actions tokens carry the SAN and the extensions the public
Fulcio gives GitHub tokens (fulcio.py); their issuer is `ACTIONS_ISSUER`. Keys
and logs stay in `<state_dir>/sigstore/`; `trusted_root_path` is the file
verifiers need (it lists both logs and the TSA, whichever a session used).
The Rekor v1 log is sharded like the public one (shards.py): a frozen shard of
`inactive_shard_entries` entries precedes the active tree, so bundles' global
`logIndex` differs from their inclusion proofs' index.
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
from .rekor_v2 import TransparencyLogV2
from .server import ACTIONS_TOKEN_PATH, Server, Services

__all__ = ["ACTIONS_ISSUER", "ActionsClaims", "LocalSigstore", "Session", "signing_session"]


@dataclass(frozen=True)
class Session:
    url: str
    trust_config_path: Path
    trusted_root_path: Path
    rekor_version: int
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
        if self.rekor_version == 2:
            log_v2 = self.services.log_v2
            size = log_v2.store.refresh()
            checkpoint = log_v2.checkpoint(size)
            return [_reprove(raw, lambda index: log_v2.inclusion_proof(index, size, checkpoint)) for raw in bundles]
        log = self.services.log
        size = log.store.refresh()
        checkpoint = log.checkpoint(size)

        def proof(index: int) -> dict[str, Any]:
            root, path = log.inclusion(index, size)
            return {
                "logIndex": str(index),
                "treeSize": str(size),
                "rootHash": _b64(root),
                "hashes": [_b64(h) for h in path],
                "checkpoint": {"envelope": checkpoint},
            }

        return [_reprove(raw, proof) for raw in bundles]

    @property
    def log(self) -> TransparencyLog:
        return self.services.log


def _reprove(raw: str, proof: Any) -> str:
    data = json.loads(raw)
    (entry,) = data["verificationMaterial"]["tlogEntries"]
    # The index in the proven tree: in a sharded v1 log that of the active shard, not the global one.
    entry["inclusionProof"] = proof(int(entry["inclusionProof"]["logIndex"]))
    return json.dumps(data)


class LocalSigstore:
    def __init__(
        self,
        state_dir: Path,
        issuer: str,
        identity: str,
        inactive_shard_entries: int | None = None,
        actions_issuer: str = ACTIONS_ISSUER,
    ) -> None:
        """`inactive_shard_entries`: how many entries the Rekor v1 log's frozen shard holds
        when the log is made (default shards.DEFAULT_INACTIVE_ENTRIES; an existing log keeps its own).
        `actions_issuer`: the issuer whose tokens Fulcio reads as GitHub Actions tokens (the CI
        simulation plays GitHub and passes GitHub's own issuer URL)."""
        self.folder = state_dir / "sigstore"
        self.issuer, self.identity, self.actions_issuer = issuer, identity, actions_issuer
        self.inactive_shard_entries = inactive_shard_entries

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
        return TransparencyLog(self.keys(), self.folder / "log", self.inactive_shard_entries)

    def log_v2(self) -> TransparencyLogV2:
        return TransparencyLogV2(self.keys(), self.folder / "log-v2")

    @contextlib.contextmanager
    def running(self, rekor_version: int = 1, timestamps: bool | None = None) -> Iterator[Session]:
        """Serve the instance; sign into Rekor `rekor_version` (1 or 2), with RFC 3161
        timestamps when `timestamps` (default: with Rekor v2 only, which needs them)."""
        if rekor_version not in trust.REKOR_VERSIONS:
            raise ValueError(f"rekor version {rekor_version!r}: expected 1 or 2")
        keys = self.keys()
        services = Services(keys, self.log(), self.log_v2(), self.issuer, self.identity, self.actions_issuer)
        server = Server(services)
        server.start()
        # One file per session: parallel releases of one state folder each sign with their own.
        config_path = self.folder / f"trust_config.{server.url.rsplit(':', 1)[1]}.json"
        try:
            self.write_trusted_root()
            with_timestamps = rekor_version == 2 if timestamps is None else timestamps
            trust.write_json(config_path, trust.client_trust_config(keys, server.url, rekor_version, with_timestamps))
            yield Session(server.url, config_path, self.trusted_root_path, rekor_version, services)
        finally:
            server.stop()
            config_path.unlink(missing_ok=True)


def signing_session(
    state_dir: Path, issuer: str, identity: str, rekor_version: int = 1
) -> contextlib.AbstractContextManager[Session]:
    """The embedded instance for one signing run (what release/ hands the sign stage)."""
    return LocalSigstore(state_dir, issuer, identity).running(rekor_version)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
