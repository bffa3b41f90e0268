"""`procurement`: the quarterly packet for security and procurement teams (release/procurement.py)."""

from __future__ import annotations

import argparse
import datetime as dt

from ..release import procurement
from ._common import settings
from .command import Command, Outcome, Output, dry_run_option, project_option


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quarter", required=True, metavar="YYYY-QN", help="the quarter the packet covers, e.g. 2026-Q4"
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="then publish the signed zip into the channel repository under each LTS line it covers (TUF targets)",
    )
    parser.add_argument(
        "--reproduce",
        action="store_true",
        help="first rebuild each release in scope from its recorded commit and compare (`reproduce`); "
        "without it the packet reads each release's last reproduce result",
    )
    parser.add_argument("--snapshot", action="store_true", help="publish with the local keys of the state folder")
    project_option(parser)
    dry_run_option(parser, "show the releases in scope and whether they verify; write nothing")


def _run(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    today = dt.datetime.now(dt.UTC).date()
    result = procurement.build(cfg, args.quarter, today, dry_run=args.dry_run, reproduce_first=args.reproduce)
    if args.publish and not args.dry_run:
        result["channel_repository"] = procurement.publish(cfg, args.quarter, snapshot=args.snapshot)
    if not out.json:
        for key, value in result.items():
            out.say(f"{key}: {value}")
    return Outcome(result)


COMMAND = Command(
    "procurement",
    "the quarterly procurement packet: evidence per release in scope, trust material, the SSDF 1.1 mapping",
    _arguments,
    _run,
    maintainer=True,
)
