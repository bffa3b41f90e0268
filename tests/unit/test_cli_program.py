"""The console script: every command has --help, exit codes 0/1/2, one JSON document under --json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from opencode_release.cli import program
from opencode_release.cli.command import SHORT_FLAGS
from opencode_release.cli.registry import commands

SCRIPT = Path(sys.executable).parent / "opencode-release"
NAMES = sorted(c.name for c in commands())


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = program.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    top = program.parser()
    action = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", NAMES)
def test_every_command_has_its_own_help(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = _main(capsys, name, "--help")
    assert code == 0
    assert out.startswith(f"usage: opencode-release {name}")
    assert "exit codes:" in out and "2  usage or bad input" in out


def test_top_help_lists_every_command_and_no_invoke_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(capsys, "--help")
    assert code == 0
    for name in NAMES:
        assert f"    {name} " in out or f"    {name}\n" in out
    for foreign in ("--prompt-for-sudo-password", "--write-pyc", "--dry ", " test "):
        assert foreign not in out


def test_a_short_flag_means_one_thing_across_commands() -> None:
    meaning: dict[str, set[str]] = {}
    for parser in _subparsers().values():
        for action in parser._actions:
            longs = {s for s in action.option_strings if s.startswith("--")}
            for short in (s for s in action.option_strings if not s.startswith("--")):
                meaning.setdefault(short, set()).update(longs)
    assert all(len(longs) == 1 for longs in meaning.values()), meaning
    for short, longs in meaning.items():
        if short != "-h":
            assert SHORT_FLAGS[next(iter(longs))] == short


@pytest.mark.parametrize("name", NAMES)
def test_unknown_flag_exits_2_with_one_json_document(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = _main(capsys, name, "--no-such-flag", "--json")
    assert code == 2
    document = json.loads(out)
    assert document["ok"] is False and document["exit_code"] == 2
    assert document["command"] == name
    assert err.startswith("error: ") and "Traceback" not in err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main(capsys)
    assert code == 2 and "COMMAND" in err
