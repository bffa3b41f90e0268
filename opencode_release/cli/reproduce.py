"""`reproduce`: rebuild a release from its recorded commit in a clean checkout and compare (release/reproduce.py)."""

from __future__ import annotations

import argparse

from ..release import reproduce
from ._common import settings
from .command import Command, Outcome, Output, dry_run_option, project_option


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", required=True, metavar="X.Y.Z", help="the release to rebuild (dist/<version>)")
    project_option(parser)
    dry_run_option(parser, "show the commit, the stages and the files that would be compared; build nothing")


def _run(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    result = reproduce.reproduce(cfg, args.version, dry_run=args.dry_run, quiet=out.json)
    if args.dry_run:
        if not out.json:
            for key, value in result.items():
                out.say(f"{key}: {value}")
        return Outcome(result)
    if not out.json:
        for row in result["artifacts"]:
            note = row.get("diff") or row.get("reason", "")
            out.say(f"{row['status']:<13} {row['path']}" + (f"  ({note})" if note else ""))
        for tool in result["toolchain"]:
            if not tool["same"]:
                out.say(
                    f"toolchain {tool['target']} {tool['fact']}: recorded {tool['recorded']}, rebuilt {tool['rebuilt']}"
                )
        out.say(f"report: {result['report']}")
    if result["ok"]:
        return Outcome(result)
    failed = [r["path"] for r in result["artifacts"] if r["status"] in ("mismatched", "missing")]
    what = f"{len(failed)} file(s) differ from the release: {', '.join(failed[:3])}" if failed else "nothing compared"
    return Outcome(result, 1, f"reproduce {args.version}: {what}; see {result['report']}")


COMMAND = Command(
    "reproduce",
    "rebuild a release from its recorded source commit in a clean checkout and compare every file's digest",
    _arguments,
    _run,
    maintainer=True,
)
