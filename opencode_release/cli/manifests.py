"""Distributor manifests and the package-index upload, over an existing release folder."""

from __future__ import annotations

import argparse

from ..release import pipeline
from ..release.session import Request
from ._common import existing_release, run_stages, settings
from .command import Command, Outcome, Output, channel_option, dry_run_option, project_option, version_option


def _arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    version_option(parser)
    parser.add_argument("--snapshot", action="store_true", help="sign the apt repository with a throwaway key")
    channel_option(parser, "stable", "stable, lts or nightly (the apt suite)")
    dry_run_option(parser)


def _manifests(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    request = Request(
        version=existing_release(cfg, args.version),
        channel=args.channel,
        snapshot=args.snapshot,
        targets=(),
        dry_run=args.dry_run,
        quiet=out.json,
    )
    return run_stages(cfg, pipeline.stages_named(pipeline.SUBSETS["manifests"]), request, out)


def _upload_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    version_option(parser)
    dry_run_option(parser)


def _upload(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    request = Request(version=existing_release(cfg, args.version), targets=(), dry_run=args.dry_run, quiet=out.json)
    return run_stages(
        cfg, pipeline.stages_named(pipeline.SUBSETS["index"]), request, out, index=cfg.index.url or "(none configured)"
    )


COMMANDS = (
    Command(
        "manifests",
        "distributor manifests from dist/<version>: .deb, apt repository, Homebrew, winget, wheel and sdist",
        _arguments,
        _manifests,
        maintainer=True,
    ),
    Command(
        "upload-index",
        "upload the release's wheel and sdist to index.url with twine (password: $OPENCODE_INDEX_PASSWORD)",
        _upload_arguments,
        _upload,
        maintainer=True,
    ),
)
