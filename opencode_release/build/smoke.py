"""Smoke test: the binary runs with no Python, no environment, no project.

It runs from an empty folder with an empty environment (only a private TMPDIR,
where the onefile unpacks) and prints the release version in the form the
product's `smoke.version-pattern` describes. Optional: the OpenCode
wire-protocol handshake (`smoke.handshake`, on for the sample, whose product
is the OpenCode CLI) and extra commands with their expected output.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..core.config_build import SmokeCommand, SmokeSettings
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


def version_regex(pattern: str, version: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("{version}", re.escape(version)))


def check_version(binary: Path, version: str, cwd: Path, settings: SmokeSettings | None = None) -> str:
    chosen = settings or SmokeSettings()
    args = list(chosen.version_args)
    proc = _run(binary, args, "", cwd)
    out = proc.stdout.strip()
    first = out.splitlines()[0] if out else ""
    if proc.returncode != 0 or not version_regex(chosen.version_pattern, version).search(first):
        raise CheckFailed(
            f"{binary.name} {' '.join(args)}: expected a first line matching {chosen.version_pattern!r} "
            f"with version {version}, got exit {proc.returncode} and {out or proc.stderr.strip()!r}"
        )
    return out


def check_command(binary: Path, command: SmokeCommand, cwd: Path) -> str:
    proc = _run(binary, list(command.args), "", cwd)
    shown = " ".join(command.args)
    if proc.returncode != command.exit_code:
        raise CheckFailed(
            f"{binary.name} {shown}: expected exit {command.exit_code}, got {proc.returncode} "
            f"({(proc.stderr or proc.stdout).strip()[-200:]!r})"
        )
    if command.expect and not re.search(command.expect, proc.stdout):
        raise CheckFailed(
            f"{binary.name} {shown}: output {proc.stdout.strip()[-200:]!r} does not match {command.expect!r}"
        )
    return proc.stdout.strip()


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


def smoke(binary: Path, version: str, settings: SmokeSettings | None = None) -> dict[str, Any]:
    chosen = settings or SmokeSettings()
    with tempfile.TemporaryDirectory(prefix="release-smoke-") as empty, ThreadPoolExecutor(2) as pool:
        cwd = Path(empty)
        # The runs at once: most of each is the onefile unpacking its payload
        # (into its own folder per process), which is waiting, not computing.
        printed = pool.submit(check_version, binary, version, cwd, chosen)
        hello = pool.submit(check_handshake, binary, version, cwd) if chosen.handshake else None
        extra = [pool.submit(check_command, binary, c, cwd) for c in chosen.commands]
        result: dict[str, Any] = {"version_output": printed.result()}
        if hello is not None:
            result["handshake"] = hello.result()
        if extra:
            result["commands"] = [e.result() for e in extra]
        return result
