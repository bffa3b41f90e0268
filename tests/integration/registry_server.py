"""Debian's docker-registry (CNCF Distribution 2.8) on 127.0.0.1, with its own config and storage, for one test
(or one session); stopped when the block ends. Distribution 2.8 has no referrers API: the fallback tag is what
it exercises. Started by the simulation's launcher (release/ci_sim/registry.py, its ghcr.io), with the tests'
authentication sections added."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from opencode_release.release.ci_sim import registry

from .token_server import ISSUER, SERVICE, TokenService

HTPASSWD = """\
auth:
  htpasswd:
    realm: opencode-test
    path: {path}
"""
TOKEN = """\
auth:
  token:
    realm: {realm}
    service: {service}
    issuer: {issuer}
    rootcertbundle: {bundle}
"""


@dataclass(frozen=True)
class RegistryServer:
    host: str  # 127.0.0.1:PORT
    storage: Path

    def blob_data(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (a test may tamper with them)."""
        hex_digest = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"


def htpasswd_file(path: Path, user: str, password: str) -> Path:
    """An htpasswd file with one bcrypt entry (the only kind Distribution accepts), by Apache's htpasswd; the
    password goes through standard input, never the command line."""
    tool = shutil.which("htpasswd")
    assert tool, "htpasswd is missing: run ./setup.sh (Debian package apache2-utils)"
    subprocess.run([tool, "-iBc", str(path), user], input=password, text=True, check=True, capture_output=True)
    return path


@contextlib.contextmanager
def running_registry(
    folder: Path, htpasswd: Path | None = None, token: TokenService | None = None
) -> Iterator[RegistryServer]:
    """With `htpasswd`, every request needs Basic credentials of that file (the registry answers 401 otherwise);
    with `token`, a Bearer token of that service (401 with the Bearer challenge naming its realm otherwise)."""
    auth = HTPASSWD.format(path=htpasswd) if htpasswd else ""
    if token:
        auth += TOKEN.format(realm=token.realm, service=SERVICE, issuer=ISSUER, bundle=token.certificate)
    with registry.serving(folder, auth) as host:
        yield RegistryServer(host, folder / "storage")
