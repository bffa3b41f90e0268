"""Debian's docker-registry (CNCF Distribution 2.8) on 127.0.0.1, with its own config and storage, for one test
(or one session); stopped when the block ends. Distribution 2.8 has no referrers API: the fallback tag is what
it exercises."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .token_server import ISSUER, SERVICE, TokenService

CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    tool = shutil.which("docker-registry")
    assert tool, "docker-registry is missing: run ./setup.sh (Debian package docker-registry)"
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = folder / "config.yml"
    text = CONFIG.format(storage=folder / "storage", port=port)
    if htpasswd:
        text += HTPASSWD.format(path=htpasswd)
    if token:
        text += TOKEN.format(realm=token.realm, service=SERVICE, issuer=ISSUER, bundle=token.certificate)
    config.write_text(text, encoding="utf-8")
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen([tool, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except urllib.error.HTTPError as refused:
                if refused.code == 401 and (htpasswd or token):
                    break  # up, and asking for credentials
                raise
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"docker-registry did not start: {(folder / 'registry.log').read_text()}"
                    ) from None
                time.sleep(0.1)
        yield RegistryServer(f"127.0.0.1:{port}", folder / "storage")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
