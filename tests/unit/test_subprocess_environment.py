"""Every subprocess the pipeline starts gets an explicit environment (issue #15: no caller secret reaches a tool).

core/environment.minimal() is the allowlist; a call site that passes no `env=` hands the tool the
caller's whole environment (index passwords, TUF and apt keys, cloud credentials), which a tool may
write to disk, as Nuitka's SCons did. This reads every call in the package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from opencode_release.release.ci_sim import runner

PACKAGE = Path(__file__).resolve().parents[2] / "opencode_release"
# The CI simulation's stand-in actions run inside the simulated job, in the environment a runner gives
# them; the simulation's own calls on this machine (git, gpg, moto_server, act) are held to the rule.
OUTSIDE = ("release/ci_sim/standins/",)
STARTERS = {"run", "Popen", "check_output", "check_call", "call"}


def calls_without_env() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(OUTSIDE):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "subprocess"
                and node.func.attr in STARTERS
                and not any(keyword.arg == "env" for keyword in node.keywords)
            ):
                found.append(f"{relative}:{node.lineno}")
    return found


def test_every_subprocess_gets_an_explicit_environment() -> None:
    assert calls_without_env() == []


def test_the_reading_finds_a_call_without_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself: a call without env= is found, one with it is not."""
    (tmp_path / "tool.py").write_text(
        "import subprocess\nsubprocess.run(['x'])\nsubprocess.run(['y'], env={})\nsubprocess.Popen(['z'])\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert calls_without_env() == ["tool.py:2", "tool.py:4"]


def test_the_simulation_reads_its_repository_whatever_git_dir_the_caller_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = PACKAGE.parent
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True, env={"PATH": "/usr/bin:/bin"})
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))  # as a git hook's environment has it
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert runner._git("rev-parse", "HEAD", cwd=repo) == head.stdout.strip()  # not the empty repository's error
