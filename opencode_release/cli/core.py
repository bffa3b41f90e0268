"""The release spine: release, plan, build, package, attest, clean."""

from __future__ import annotations

import argparse
import shutil

from ..core.config import Settings
from ..core.errors import UsageError
from ..core.stage import utc_now
from ..core.versions import Version
from ..release import pipeline, session, source
from ..release.session import Request
from ._common import existing_release, run_stages, settings
from .command import (
    Command,
    Outcome,
    Output,
    channel_option,
    dry_run_option,
    option,
    project_option,
    version_option,
)


def _snapshot_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="a local snapshot: version X.Y.Z-snapshot.YYYYMMDD.N+g<sha>, published only to the snapshot channel; "
        "embedded defaults, floors warn instead of fail",
    )


def _skip_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip",
        metavar="STAGE[,STAGE]",
        action="append",
        help=f"leave stages out ({', '.join(pipeline.SKIPPABLE)}); recorded in the ledger; "
        "refused for a real release whose channel requires the stage",
    )


def _skips(args: argparse.Namespace) -> tuple[str, ...]:
    chunks = getattr(args, "skip", None) or ()
    return pipeline.check_skips(tuple(n.strip() for chunk in chunks for n in chunk.split(",") if n.strip()))


def _version_and_channel(cfg: Settings, args: argparse.Namespace) -> tuple[str | None, str]:
    """A snapshot gets a snapshot version and the snapshot channel; anything else what was asked."""
    if not args.snapshot:
        return args.version, args.channel or "stable"
    if args.channel not in (None, "snapshot"):
        raise UsageError(f"--snapshot --channel {args.channel}: a snapshot publishes only to the snapshot channel")
    if args.version and not Version.parse(args.version).is_snapshot:
        raise UsageError(
            f"--snapshot --version {args.version}: a snapshot's version is X.Y.Z-snapshot.YYYYMMDD.N+g<sha>; "
            "leave --version out and one is chosen"
        )
    commit = source.describe(cfg.project_dir, cfg.repository).commit
    return args.version or session.snapshot_version(cfg, utc_now().date(), commit), "snapshot"


def _release_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    version_option(parser)
    _snapshot_option(parser)
    channel_option(
        parser, None, "stable, lts, lts/<major.minor> or nightly (default: stable; snapshot with --snapshot)"
    )
    _skip_option(parser)
    dry_run_option(parser, "run preflight and show what would run; change nothing")


def _whole_pipeline(args: argparse.Namespace, out: Output, *, dry_run: bool) -> Outcome:
    cfg = settings(args)
    version, channel = _version_and_channel(cfg, args)
    request = Request(
        version=version,
        channel=channel,
        snapshot=args.snapshot,
        dry_run=dry_run,
        skip=_skips(args),
        quiet=out.json,
    )
    return run_stages(cfg, pipeline.release_stages(), request, out)


def _release(args: argparse.Namespace, out: Output) -> Outcome:
    return _whole_pipeline(args, out, dry_run=args.dry_run)


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    version_option(parser)
    _snapshot_option(parser)
    channel_option(
        parser, None, "stable, lts, lts/<major.minor> or nightly (default: stable; snapshot with --snapshot)"
    )
    _skip_option(parser)


def _plan(args: argparse.Namespace, out: Output) -> Outcome:
    # `plan` is `release --dry-run`: the same request, so it predicts exactly what release does.
    return _whole_pipeline(args, out, dry_run=True)


def _build_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    version_option(parser)
    option(
        parser, "--target", action="append", metavar="T", help="target to build (default: this machine's); repeatable"
    )
    dry_run_option(parser)


def _build(args: argparse.Namespace, out: Output) -> Outcome:
    request = Request(
        version=args.version, targets=tuple(args.target or ()) or None, dry_run=args.dry_run, quiet=out.json
    )
    return run_stages(settings(args), pipeline.stages_named(pipeline.SUBSETS["build"]), request, out)


def _package_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    version_option(parser)
    dry_run_option(parser)


def _package(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    request = Request(version=existing_release(cfg, args.version), targets=(), dry_run=args.dry_run, quiet=out.json)
    return run_stages(cfg, pipeline.stages_named(pipeline.SUBSETS["package"]), request, out)


def _attest_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    version_option(parser)
    _snapshot_option(parser)
    dry_run_option(parser)


def _attest(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    chosen = existing_release(cfg, args.version)
    request = Request(version=chosen, snapshot=args.snapshot, dry_run=args.dry_run, quiet=out.json)
    return run_stages(cfg, pipeline.stages_named(pipeline.SUBSETS["attest"]), request, out)


def _clean_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    parser.add_argument("--all", action="store_true", help="also remove the state folder (keys, local log)")
    dry_run_option(parser, "say what would be removed; remove nothing")


def _clean(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    paths = [cfg.path(cfg.dist_dir)] + ([cfg.path(cfg.state_dir)] if args.all else [])
    removed = [str(p) for p in paths if p.exists()]
    for path in removed:
        out.say(f"{'would remove' if args.dry_run else 'removing'} {path}")
        if not args.dry_run:
            shutil.rmtree(path)
    return Outcome({"removed" if not args.dry_run else "would_remove": removed})


COMMANDS = (
    Command(
        "release",
        "run the whole pipeline: preflight, build, …, sign, verify, publish",
        _release_arguments,
        _release,
        maintainer=True,
    ),
    Command(
        "plan",
        "what `release` would run and what is already up to date; changes nothing",
        _plan_arguments,
        _plan,
        maintainer=True,
    ),
    Command(
        "build",
        "compile, inspect and smoke-test the binary for this machine's target",
        _build_arguments,
        _build,
        maintainer=True,
    ),
    Command(
        "package",
        "archive the built binaries deterministically and write the checksum files",
        _package_arguments,
        _package,
        maintainer=True,
    ),
    Command(
        "attest",
        "SBOMs, provenance and in-toto evidence for an existing dist/<version>",
        _attest_arguments,
        _attest,
        maintainer=True,
    ),
    Command(
        "clean", "remove the dist folder (and with --all the state folder)", _clean_arguments, _clean, maintainer=True
    ),
)

__all__ = ["COMMANDS", "UsageError"]
