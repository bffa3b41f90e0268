"""What a command of `opencode-release` is, and the options several commands share.

A command is a name, a one-line summary, a function that declares its
arguments on an argparse parser, and a function that runs it. `run` returns an
`Outcome`: the JSON document `--json` prints (one per run, success or not) and
the exit code. Human output goes through `Output`, which sends it to stderr
when `--json` keeps stdout for the document.

Adding a command: write `def _arguments(parser)` and `def _run(args, out)`,
make `COMMAND = Command("name", "summary", _arguments, _run)` (or a tuple
`COMMANDS`) in a module of this package, and list the module in
`cli/registry.py`. The console script and the invoke collection both pick it
up; `tests/unit/test_cli_program.py` then checks its --help, its exit codes
and its short flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console

# Every short flag means one thing across all commands: a command that wants
# `--project` gets `-p` by asking for `--project`, and no other long option may
# take `-p` (a test walks every parser).
SHORT_FLAGS: dict[str, str] = {
    "--project": "-p",
    "--dry-run": "-n",
    "--target": "-t",
    "--channel": "-c",
}

EXIT_CODES = {
    0: "success: what was asked for was done, or what was checked passed",
    1: "failure of what was checked or attempted (a verification, a preflight rule, a stage)",
    2: "usage or bad input: unknown flag, malformed argument, wrong configuration, missing file",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one run: its JSON document and exit code (0 unless it failed)."""

    data: dict[str, Any] = field(default_factory=dict)
    code: int = 0
    # One line for stderr when the run failed (the document carries it too).
    error: str = ""


class Output:
    """Where a command's human text goes: stdout, or stderr under --json."""

    def __init__(self, as_json: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.json = as_json
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        human = self._stderr if as_json else self._stdout
        self.console = Console(file=human, highlight=False, soft_wrap=True)
        # Progress and notes of long runs: always stderr, silent under --json.
        self.progress = Console(file=self._stderr, quiet=as_json, highlight=False)

    def say(self, text: str) -> None:
        self.console.print(text, markup=False)

    def document(self, data: dict[str, Any]) -> None:
        self._stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        self._stdout.flush()

    def error(self, text: str) -> None:
        # A message of several problems is several lines, each its own `error:`.
        self._stderr.write("".join(f"error: {line.strip()}\n" for line in text.splitlines() if line.strip()))
        self._stderr.flush()


Arguments = Callable[[argparse.ArgumentParser], None]
Runner = Callable[[argparse.Namespace, Output], Outcome]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    arguments: Arguments
    run: Runner
    # Shown under "maintainer commands" in --help (they need a product checkout).
    maintainer: bool = False
    # False: the command writes its own stdout (e.g. it has no --json).
    takes_json: bool = True


def option(parser: argparse.ArgumentParser, long: str, **kwargs: Any) -> argparse.Action:
    """Add `long`, with its one short flag when it has one."""
    short = SHORT_FLAGS.get(long)
    return parser.add_argument(*((short,) if short else ()), long, **kwargs)


def project_option(parser: argparse.ArgumentParser) -> None:
    option(
        parser,
        "--project",
        metavar="DIR",
        help="the product: a folder with a pyproject.toml, or the file "
        "(default: $OPENCODE_RELEASE_PROJECT, ./pyproject.toml with the table, else ./product)",
    )


def dry_run_option(parser: argparse.ArgumentParser, what: str = "show what would run; change nothing") -> None:
    option(parser, "--dry-run", action="store_true", help=what)


def version_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", metavar="X.Y.Z", help="release version (default: the product's [project] version)")


def channel_option(parser: argparse.ArgumentParser, default: str | None, choices: str) -> None:
    option(parser, "--channel", metavar="C", default=default, help=f"{choices} (default: {default or 'see above'})")
