"""The CI matrix: generate/check the workflows, plan a run, list what CI signs, collect partial builds."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
from pathlib import Path

from ..attest import release_statement
from ..build import ci_workflow, targets
from ..core import oci
from ..core.errors import CheckFailed, UsageError, VersionError
from ..core.formats import canonical_json
from ..core.fsio import write_atomic
from ..core.ledger import Ledger
from ..core.versions import Version
from ..release import merge, pipeline, session, source
from ..release.runner import ConsoleReporter, RunReport, run_stages
from ..release.session import Request
from ._common import project_file, settings, show_report, store_option, with_store
from .command import Command, Outcome, Output, channel_option, dry_run_option, project_option, version_option


def plan_of(project: str | None, channel: str, ref: str, today: dt.date | None = None) -> dict[str, object]:
    """The version and the targets of one CI run."""
    from ..core import config

    cfg = config.load(project_file(project))
    base = Version.parse(cfg.version)
    if channel == "nightly":
        day = (today or dt.datetime.now(dt.UTC).date()).strftime("%Y%m%d")
        commit = source.describe(cfg.project_dir, cfg.repository).commit
        version = str(Version.nightly(base, day, commit))
    else:
        version = str(base)
        if ref.startswith("v") and ref[1:] != version:
            raise VersionError(
                f"tag {ref} does not match {cfg.source_file}: version {version}; "
                "tag the commit whose version you release"
            )
    return {
        "product": cfg.name,
        "version": version,
        "channel": channel,
        "targets": [
            {
                "name": t.name,
                "runner": t.runner,
                "container": t.container,
                "python": t.python,
                "archive": t.archive,
                "checks": list(t.checks),
                "merged_from": list(t.merged_from),
            }
            for t in (targets.get(n) for n in cfg.targets)
        ],
    }


def _ci_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    parser.add_argument(
        "--root", default=".", metavar="DIR", help="repository root the workflows are written under (default: .)"
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write .github/workflows/{release,nightly}.yml")
    mode.add_argument(
        "--check", action="store_true", help="fail when the committed workflows differ from what would be generated"
    )
    mode.add_argument("--plan", action="store_true", help="print the version and the targets this CI run builds")
    mode.add_argument(
        "--subjects", action="store_true", help="print `<sha256>  <path>` for every uploadable file (what CI signs)"
    )
    mode.add_argument(
        "--release-predicate",
        action="store_true",
        help="print the release statement's predicate for CI's attest job to sign (every file but the provenance)",
    )
    mode.add_argument(
        "--simulate",
        action="store_true",
        help="run the generated workflow with act on this machine; prints the produced release folder last",
    )
    parser.add_argument(
        "--workflow",
        choices=("release", "nightly", "refresh", "quarterly"),
        default="release",
        help="with --simulate (refresh: nightly.yml as its refresh schedule starts it; quarterly: nightly.yml "
        "started for this quarter's procurement packet, from the releases earlier runs left)",
    )
    parser.add_argument(
        "--prebuilt",
        default="",
        metavar="DIR",
        help="with --simulate: <target>/ binaries and reports for the targets this machine cannot compile",
    )
    parser.add_argument("--job", default="", help="with --simulate: run this job and what it needs")
    parser.add_argument(
        "--folder",
        default="",
        metavar="DIR",
        help="with --simulate: DIR/<workflow> for the run, DIR/kept for what later runs see "
        "(default: <state dir>/ci-simulation)",
    )
    version_option(parser)
    channel_option(parser, "stable", "stable, lts or nightly")
    parser.add_argument(
        "--ref", default="", help="the Git ref CI runs on (GITHUB_REF_NAME): a tag vX.Y.Z for a release"
    )
    parser.add_argument("--plan-file", default="", metavar="FILE", help="also write the plan as JSON to this file")
    parser.add_argument(
        "--github-output", default="", metavar="FILE", help="append version=... to this file (GITHUB_OUTPUT)"
    )


def _ci(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = settings(args)
    repo = Path(args.root)
    if args.simulate:
        from ..release.ci_sim import simulate as simulation

        # base/<workflow>: the run's own files; base/kept: what outlives runs on GitHub (secrets, the
        # Actions cache, the channel bucket, the signing instance), so a later run sees what earlier ones left
        base = Path(args.folder) if args.folder else cfg.path(cfg.state_dir) / "ci-simulation"
        kept = base / "kept"
        prebuilt = Path(args.prebuilt) if args.prebuilt else None
        run = simulation.simulate(
            cfg, repo, args.workflow, base / args.workflow, prebuilt, args.job or None, echo=not out.json, kept=kept
        )
        if not out.json:
            print(run.delivered)
        return Outcome(
            {
                "jobs": run.jobs,
                "log": str(run.log),
                "delivered": str(run.delivered),
                "kept": str(kept.resolve()),
                **({"verified": run.verified} if run.verified else {}),
                **({"image": run.image} if run.image else {}),
            }
        )
    if args.subjects:
        ledger = Ledger.load(session.release_dir(cfg, args.version or cfg.version))
        subjects = sorted(ledger.uploadable(), key=lambda a: a.path)
        if not out.json:
            for artifact in subjects:
                print(f"{artifact.sha256}  {artifact.path}")
        return Outcome({"subjects": [{"path": a.path, "sha256": a.sha256} for a in subjects]})
    if args.release_predicate:
        ledger = Ledger.load(session.release_dir(cfg, args.version or cfg.version))
        document = release_statement.predicate(ledger, signatures="statement")
        if not out.json:
            print(canonical_json(document).decode())
        return Outcome({"predicate": document})
    if args.plan:
        result = plan_of(args.project, args.channel, args.ref)
        if args.plan_file:
            write_atomic(Path(args.plan_file), (json.dumps(result, indent=2) + "\n").encode())
        if args.github_output:
            with Path(args.github_output).open("a", encoding="utf-8") as handle:
                handle.write(f"version={result['version']}\n")
        if not out.json:
            print(f"{result['product']} {result['version']} ({args.channel}): {', '.join(cfg.targets)}")
        return Outcome(result)
    if args.check:
        stale = ci_workflow.stale(cfg, repo)
        if stale:
            raise CheckFailed(
                f"{', '.join(stale)} differ from what `invoke ci --write` generates from "
                f"{cfg.source_file}; run it and commit the result"
            )
        unpinned = ci_workflow.unpinned(repo)
        if unpinned:
            raise CheckFailed(unpinned[0])
        out.say(f"ci: {len(ci_workflow.FILES)} workflows are up to date; every action is pinned to a commit")
        return Outcome({"stale": [], "unpinned": []})
    written = []
    for path, text in ci_workflow.render(cfg, repo).items():
        write_atomic(repo / path, text.encode())
        out.say(f"wrote {repo / path}")
        written.append(str(repo / path))
    return Outcome({"written": written})


def _collect_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    parser.add_argument(
        "--from",
        required=True,
        metavar="DIR",
        help="folder holding the partial ledgers (merge) or the Sigstore bundles (publish)",
    )
    version_option(parser)
    channel_option(parser, "stable", "stable, lts or nightly")
    parser.add_argument(
        "--phase",
        choices=("merge", "publish"),
        default="merge",
        help="merge: import partial ledgers, run the stages up to signing; publish: import bundles, run the rest",
    )
    parser.add_argument("--snapshot", action="store_true", help="a local snapshot: floors warn instead of fail")
    parser.add_argument(
        "--instance",
        default=None,
        metavar="NAME|FILE",
        help="the Sigstore instance CI signed with, which the verify stage checks against: production, "
        "staging, local or a client trust config file (default: signing.instance)",
    )
    store_option(parser)
    parser.add_argument(
        "--image-registry",
        metavar="HOST[:PORT]/REPO",
        help="push the images there (publish phase) instead of images.registry; the generated CI passes "
        "ghcr.io/<owner>/<name> when images.registry is empty",
    )
    dry_run_option(parser, "show what would be imported and run; change nothing")


def _collect(args: argparse.Namespace, out: Output) -> Outcome:
    cfg = with_store(settings(args), args.store)
    if args.image_registry:
        oci.Reference.parse(args.image_registry, what="a registry repository (--image-registry)")
        cfg = dataclasses.replace(cfg, images=dataclasses.replace(cfg.images, registry=args.image_registry))
    report = RunReport()
    reporter = ConsoleReporter(report, quiet=out.json)
    request = Request(
        version=args.version,
        channel=args.channel,
        snapshot=args.snapshot,
        dry_run=args.dry_run,
        targets=(),
        quiet=out.json,
        signing_instance=args.instance,
    )
    ctx = session.make_context(cfg, request, reporter)
    ctx.build_targets = ()  # nothing is compiled here: the builds come from --from
    folder = Path(getattr(args, "from"))
    if args.phase == "merge":
        partials = merge.find_partials(folder)
        if args.dry_run:
            for item in merge.plan(ctx.ledger, partials):
                report.notes.append(f"collect: would import {item.artifact.path} from {item.source}")
        else:
            for artifact in merge.merge(ctx.ledger, partials):
                report.notes.append(f"collect: imported {artifact.path} ({artifact.target})")
    elif not args.dry_run:
        for artifact in merge.import_signatures(ctx.ledger, folder):
            report.notes.append(f"collect: recorded {artifact.path}")
    for note in report.notes:
        out.progress.print(f"  {note}", markup=False)
    run_stages(pipeline.ci_phase(args.phase), ctx, reporter)
    extra = {"release": str(ctx.dist_dir), "ledger": str(ctx.ledger.path)}
    show_report(report, out, extra)
    return Outcome({**report.to_json(), **extra})


COMMANDS = (
    Command(
        "ci",
        "generate (--write) or check (--check) the CI workflows; --plan / --subjects for the CI jobs",
        _ci_arguments,
        _ci,
        maintainer=True,
    ),
    Command(
        "collect",
        "import builds made elsewhere (partial ledgers) or CI's signatures, then run the stages that follow",
        _collect_arguments,
        _collect,
        maintainer=True,
    ),
)

__all__ = ["COMMANDS", "UsageError", "plan_of"]
