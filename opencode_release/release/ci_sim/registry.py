"""The simulated GitHub Container Registry: Debian's docker-registry (CNCF Distribution 2.8) on 127.0.0.1.

The simulation plays GitHub (its git server, its Releases through the `gh` stand-in), and ghcr.io is
GitHub's too: the publish job pushes the images to a Distribution registry started for the run, whose
storage is kept between runs as a real registry keeps them. ghcr.io implements the OCI referrers API;
Distribution 2.8 has none, so the simulation exercises the referrers tag fallback (the real API is tested
on its own, tests/integration/test_image_referrers_api.py). The generated publish step names
`ghcr.io/<owner>/<name>`; the simulation points it here, as it points `--instance production` at the
embedded Sigstore (runner.retarget).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ...core.environment import minimal
from ...core.errors import StageError, ToolMissingError
from .act_runner import free_port

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


@contextlib.contextmanager
def serving(folder: Path, auth: str = "") -> Iterator[str]:
    """A registry keeping its blobs in folder/storage, until the block ends; yields HOST:PORT. `auth`: more
    configuration (an `auth:` section); the registry then answers 401 to requests without credentials."""
    tool = shutil.which("docker-registry")
    if tool is None:
        raise ToolMissingError("docker-registry is missing: run ./setup.sh (Debian package docker-registry)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "config.yml"
    config.write_text(CONFIG.format(storage=folder / "storage", port=port) + auth, encoding="utf-8")
    log_path = folder / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([tool, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, env=minimal())
        try:
            _wait(port, process, log_path, expect_auth=bool(auth))
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait(port: int, process: subprocess.Popen[bytes], log: Path, expect_auth: bool) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except urllib.error.HTTPError as refused:
            if refused.code == 401 and expect_auth:
                return  # up, and asking for credentials
            raise
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise StageError(f"docker-registry did not start: {log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.1)
