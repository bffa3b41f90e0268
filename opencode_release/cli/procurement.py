"""`procurement`: the quarterly packet for security and procurement teams (release/procurement.py)."""

from __future__ import annotations

import argparse
import datetime as dt

from ..core.errors import UsageError
from ..release import procurement
from ._common import settings, store_option, with_store
from .command import Command, Outcome, Output, dry_run_option, project_option


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quarter",
        required=True,
        metavar="YYYY-QN",
        help="the quarter the packet covers, e.g. 2026-Q4, or `previous`: the one before today's (UTC)",
    )
    parser.add_argument(
        "--list-scope",
        action="store_true",
        help="only list the releases the quarter covers and why (from the channel; no release folder is read)",
    )
    parser.add_argument(
        "--unsigned",
        action="store_true",
        help="write the manifest and zip without signing them (CI's quarterly job holds no signing identity)",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="then publish the signed zip into the channel repository under each LTS line it covers (TUF targets)",
    )
    parser.add_argument(
        "--publish-built",
        action="store_true",
        help="publish the packet already in dist/procurement/ (built and signed by CI's quarterly jobs) after "
        "verifying its signatures against --instance and the policy's procurement channel; builds nothing",
    )
    parser.add_argument(
        "--instance",
        default=None,
        metavar="NAME|FILE",
        help="the Sigstore instance to verify against: production, staging, local or a client trust config file; "
        "with --publish-built the one the packet was signed with, else the one the releases in scope were signed "
        "with (default: what their ledgers record, else signing.instance; CI's record none)",
    )
    parser.add_argument(
        "--reproduce",
        action="store_true",
        help="first rebuild each release in scope from its recorded commit and compare (`reproduce`); "
        "without it the packet reads each release's last reproduce result",
    )
    parser.add_argument(
        "--allow-unverified",
        action="store_true",
        help="exit 0 (and publish, with --publish) although a release in scope does not verify; the packet "
        "records it either way (PS.2.1 partly met)",
    )
    parser.add_argument("--snapshot", action="store_true", help="publish with the local keys of the state folder")
    store_option(parser)
    project_option(parser)
    dry_run_option(parser, "show the releases in scope and whether they verify; write nothing")


def _run(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = with_store(settings(args), args.store)
    today = dt.datetime.now(dt.UTC).date()
    quarter = procurement.previous_quarter(today) if args.quarter == "previous" else args.quarter
    if args.unsigned and args.publish:
        raise UsageError("--unsigned --publish: only a signed packet is published; leave one of them out")
    if args.publish_built and (args.publish or args.unsigned or args.list_scope or args.reproduce):
        raise UsageError("--publish-built publishes what CI built and signed: leave out the options that build")
    if args.publish_built:
        instance = args.instance or cfg.signing.instance
        result = procurement.publish_built(cfg, quarter, instance, snapshot=args.snapshot, dry_run=args.dry_run)
    elif args.list_scope:
        result = procurement.list_scope(cfg, quarter)
    else:
        result = procurement.build(
            cfg,
            quarter,
            today,
            dry_run=args.dry_run,
            reproduce_first=args.reproduce,
            unsigned=args.unsigned,
            instance=args.instance or "",
        )
    unverified = dict(result.get("unverified") or {})
    if unverified and not args.allow_unverified:
        # the packet is evidence either way; a green run that ships "does not verify" is how a wrong
        # trusted root went unnoticed, so the command fails and publishes nothing
        version, reason = min(unverified.items())
        message = (
            f"procurement {quarter}: release {version} does not verify ({reason}); {result['packet']} records "
            "it and nothing was published: fix the release or its --instance, or pass --allow-unverified"
        )
        return Outcome({**result, "error": message}, 1, message)
    if args.publish and not args.dry_run and not args.list_scope and not args.publish_built:
        result["channel_repository"] = procurement.publish(cfg, quarter, snapshot=args.snapshot)
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
