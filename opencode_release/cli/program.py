"""The console script `opencode-release`: argparse over the commands in `registry`.

Exit codes are the same for every command (see `EXIT_CODES`): an expected
failure is one line on stderr (and, under --json, one JSON document on
stdout), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from ..core.errors import ReleaseError
from . import registry
from .command import EXIT_CODES, Command, Outcome, Output

PROG = "opencode-release"


class _UsageProblem(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """argparse that raises on a usage mistake instead of exiting, so --json still answers."""

    def error(self, message: str) -> NoReturn:
        raise _UsageProblem(self, message)


def _epilog() -> str:
    return "exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())


def parser(arguments: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or only for those `arguments` can need (registry.for_argv)."""
    top = _Parser(
        prog=PROG,
        description="Build, attest, sign, publish and verify releases of a Python CLI; verify them as a distributor.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    found = registry.commands() if arguments is None else registry.for_argv(arguments)
    for cmd in sorted(found, key=lambda c: (c.maintainer, c.name)):
        child = sub.add_parser(
            cmd.name,
            help=cmd.summary + (" [maintainer]" if cmd.maintainer else ""),
            description=cmd.summary,
            epilog=_epilog(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cmd.arguments(child)
        if cmd.takes_json:
            child.add_argument(
                "--json", action="store_true", help="print one JSON document on stdout, whatever happens"
            )
        child.set_defaults(_command=cmd)
    return top


def run(cmd: Command, args: argparse.Namespace, out: Output) -> int:
    """Run one parsed command: the one place expected failures become exit codes."""
    try:
        outcome = cmd.run(args, out)
    except ReleaseError as exc:
        outcome = Outcome({}, exc.exit_code, str(exc))
    except KeyboardInterrupt:
        outcome = Outcome({}, 130, "interrupted")
    if outcome.error:
        out.error(outcome.error)
    if out.json:
        document = {"command": cmd.name, "ok": outcome.code == 0, "exit_code": outcome.code, **outcome.data}
        if outcome.error:
            document["error"] = outcome.error
        out.document(document)
    return outcome.code


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in arguments
    top = parser(arguments)
    try:
        args, extras = top.parse_known_args(arguments)
        cmd: Command | None = getattr(args, "_command", None)
        if extras:
            where = f"{PROG} {cmd.name}" if cmd else PROG
            raise _UsageProblem(top, f"{where}: unrecognized arguments: {' '.join(extras)}")
    except _UsageProblem as problem:
        line = str(problem)
        if not line.startswith(PROG):
            line = f"{problem.parser.prog}: {line}"
        out = Output(as_json)
        out.error(f"{line} (see --help)")
        if as_json:
            name = line.split(":")[0].removeprefix(PROG).strip()
            out.document({"command": name, "ok": False, "exit_code": 2, "error": line})
        return 2
    except SystemExit as done:  # --help and --version print and stop
        return int(done.code or 0)
    if cmd is None:
        top.print_help(sys.stderr)
        return 2
    return run(cmd, args, Output(bool(getattr(args, "json", False))))
