"""`publish-image`: push a release's OCI image and its evidence; `verify-image`: check an image in a registry."""

from __future__ import annotations

import argparse

from ..core import oci
from ..core.errors import UsageError
from ..core.ledger import Ledger
from ..images import publish
from ..release import session
from ._common import settings
from .command import Command, Outcome, Output, dry_run_option, project_option, version_option


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


COMMANDS = (
    Command(
        "publish-image",
        "push the release's OCI image (index, platform images) with tags X.Y.Z, X.Y and the channel, and its "
        "Sigstore bundles as OCI referrers",
        _publish_arguments,
        _publish,
        maintainer=True,
    ),
)
