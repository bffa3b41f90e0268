"""Every subprocess the pipeline starts gets an explicit environment (issue #15: no caller secret reaches a tool).

core/environment.minimal() is the allowlist; a call site that passes no `env=` hands the tool the
caller's whole environment (index passwords, TUF and apt keys, cloud credentials), which a tool may
write to disk, as Nuitka's SCons did. This reads every call in the package.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "opencode_release"
# The CI simulation stands in for GitHub's runner: its actions run inside the simulated job's own
# environment (what a runner gives them), and it is a maintainer's tool, not part of a release.
OUTSIDE = ("release/ci_sim/",)
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
