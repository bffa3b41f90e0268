"""Smoke test: the binary runs with no Python, no environment, no project.

It runs from an empty folder with an empty environment (only a private TMPDIR,
where the onefile unpacks), prints the release version, and answers the stdio
handshake with its version and the verbs of the wire protocol.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..core.errors import CheckFailed

REQUIRED_VERBS = ("plan", "apply", "observe", "revert", "log")
_TIMEOUT = 60


def _run(binary: Path, args: list[str], stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            env={"TMPDIR": str(cwd)},
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"{binary.name} {' '.join(args)}: no answer within {_TIMEOUT}s") from None
    except OSError as exc:
        raise CheckFailed(f"{binary.name}: cannot run here: {exc}") from exc


def check_version(binary: Path, version: str, cwd: Path) -> str:
    proc = _run(binary, ["--version"], "", cwd)
    out = proc.stdout.strip()
    if proc.returncode != 0 or out.split()[-1:] != [version]:
        raise CheckFailed(
            f"{binary.name} --version: expected to print version {version}, got exit {proc.returncode} "
            f"and {out or proc.stderr.strip()!r}"
        )
    return out


def check_handshake(binary: Path, version: str, cwd: Path) -> dict[str, Any]:
    requests = [
        {"id": 1, "verb": "hello", "body": {"render": ["text", "diff"]}},
        {"id": 2, "verb": "future-verb-from-a-newer-client", "body": {}},
        {"id": 3, "verb": "plan", "body": {"goal": "smoke"}},
    ]
    proc = _run(binary, ["serve", "--stdio"], "".join(json.dumps(r) + "\n" for r in requests), cwd)
    try:
        replies = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise CheckFailed(f"{binary.name} serve --stdio: answered with non-JSON: {exc}") from exc
    if len(replies) != 2 or [r.get("id") for r in replies] != [1, 3]:
        raise CheckFailed(
            f"{binary.name} serve --stdio: expected answers to ids 1 and 3 (the unknown verb ignored), "
            f"got {proc.stdout.strip()!r} {proc.stderr.strip()!r}"
        )
    hello = replies[0].get("body", {})
    if hello.get("version") != version or not set(REQUIRED_VERBS) <= set(hello.get("verbs", [])):
        raise CheckFailed(f"{binary.name} serve --stdio: handshake answer {hello!r} lacks version {version} or verbs")
    if not replies[1].get("ok") or not replies[1].get("body", {}).get("steps"):
        raise CheckFailed(f"{binary.name} serve --stdio: plan answer {replies[1]!r} is not a plan")
    return dict(hello)


def smoke(binary: Path, version: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="opencode-smoke-") as empty, ThreadPoolExecutor(2) as pool:
        cwd = Path(empty)
        # Both runs at once: most of each is the onefile unpacking its payload
        # (into its own folder per process), which is waiting, not computing.
        printed = pool.submit(check_version, binary, version, cwd)
        hello = pool.submit(check_handshake, binary, version, cwd)
        return {"version_output": printed.result(), "handshake": hello.result()}
