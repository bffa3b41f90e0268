"""Command line: `opencode --version`, `opencode serve --stdio`."""

from __future__ import annotations

import argparse
import sys

from . import protocol
from ._version import __version__


def main(argv: list[str] | None = None) -> int:
    if sys.platform == "win32":
        # Only Windows consoles need ANSI translation; Nuitka drops this branch
        # on other targets, so their binaries do not contain colorama.
        import colorama

        colorama.just_fix_windows_console()
    parser = argparse.ArgumentParser(prog="opencode", description="The OpenCode coding agent.")
    parser.add_argument("--version", action="version", version=f"opencode {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="speak the wire protocol")
    serve.add_argument("--stdio", action="store_true", required=True, help="use stdin/stdout")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return protocol.serve(sys.stdin, sys.stdout)
    parser.print_help()
    return 0
