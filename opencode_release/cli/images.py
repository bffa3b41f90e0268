"""`publish-image`: push a release's OCI image and its evidence; `carry-libc`: a build job's C library for it."""

from __future__ import annotations

import argparse

from ..core import oci
from ..core.errors import UsageError
from ..core.ledger import Ledger
from ..images import carried_libc, publish
from ..release import session
from ._common import existing_release, settings
from .command import Command, Outcome, Output, dry_run_option, option, project_option, version_option


def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        metavar="HOST[:PORT]/REPO",
        help="where to push (default: images.registry); loopback hosts over plain HTTP, others HTTPS; "
        f"credentials from ${oci.USERNAME_ENV} and ${oci.PASSWORD_ENV}",
    )
    project_option(parser)
    version_option(parser)
    dry_run_option(parser, "show the tags, digests and referrers that would be pushed; push nothing")


def _publish(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    chosen = args.registry or cfg.images.registry
    if not chosen:
        raise UsageError("no registry: pass --registry HOST[:PORT]/REPO or set images.registry")
    where = oci.Reference.parse(chosen, what="a registry repository")
    if where.tag or where.digest:
        raise UsageError(f"--registry {chosen}: name the repository only; the tags come from the release")
    ledger = Ledger.load(session.release_dir(cfg, args.version or cfg.version))
    plan = publish.plan(ledger, where.repo)
    if not args.dry_run:
        publish.push(ledger, plan, oci.Registry.of(where))
    data = plan.to_json(args.dry_run)
    if not out.json:
        verb = "would push" if args.dry_run else "pushed"
        out.say(f"{verb} {where.repo}@{data['index']} as {', '.join(plan.tags)}")
        for referrer in data["referrers"]:
            via = f" ({referrer['via']})" if referrer["via"] else ""
            out.say(f"  {referrer['evidence']} of {referrer['subject']}: {referrer['digest']}{via}")
    return Outcome(data)


def _carry_arguments(parser: argparse.ArgumentParser) -> None:
    option(parser, "--target", metavar="T", help="the Linux target whose image the C library is for (required)")
    project_option(parser)
    version_option(parser)
    dry_run_option(parser, "say which package's files would be carried; record nothing")


def _carry(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    if not args.target:
        raise UsageError("carry-libc: --target T is required: the Linux target whose image the C library is for")
    ledger = Ledger.load(session.release_dir(cfg, existing_release(cfg, args.version)))
    if args.dry_run:
        return Outcome({"target": args.target, "would_carry": cfg.images.libc_package or None})
    recorded = carried_libc.carry(cfg, ledger, args.target)
    data = {"target": args.target, "package": cfg.images.libc_package, "files": [a.facts["path"] for a in recorded]}
    if not out.json:
        out.say(f"{args.target}: carried {len(recorded)} file(s) of {cfg.images.libc_package} for its image")
    return Outcome(data)


COMMANDS = (
    Command(
        "carry-libc",
        "in a build job, on the target's own runner: record images.libc-package's shared objects in the partial "
        "ledger for the target's image (the merge job's image stage uses them)",
        _carry_arguments,
        _carry,
        maintainer=True,
    ),
    Command(
        "publish-image",
        "push the release's OCI image (index, platform images) with tags X.Y.Z, X.Y and the channel, and its "
        "Sigstore bundles as OCI referrers",
        _publish_arguments,
        _publish,
        maintainer=True,
    ),
)
