"""Tasks of the CI matrix: generate/check the workflows, plan a run, collect partial builds."""

from __future__ import annotations

import datetime as dt
import json as json_module
from pathlib import Path

from invoke.context import Context as InvokeContext
from invoke.exceptions import Exit
from invoke.tasks import task
from rich.console import Console

from ..build import ci_workflow, targets
from ..core.errors import UsageError, VersionError
from ..core.fsio import write_atomic
from ..core.ledger import Ledger
from ..core.versions import Version
from ..release import merge, pipeline, session, source
from ..release.runner import ConsoleReporter, RunReport, run_stages
from ..release.session import Request
from ._common import emit_json, finish, handles_errors, settings

_HELP = {
    "project": "product folder or pyproject.toml (default: ./product)",
    "root": "repository root the workflows are written under (default: .)",
    "write": "write .github/workflows/{release,nightly}.yml",
    "check": "fail when the committed workflows differ from what would be generated",
    "plan": "print the version and the targets this CI run builds",
    "subjects": "print `<sha256>  <path>` for every uploadable file of the release (what CI signs)",
    "channel": "stable, lts or nightly",
    "ref": "the Git ref CI runs on (GITHUB_REF_NAME): a tag vX.Y.Z for a release",
    "plan_file": "also write the plan as JSON to this file",
    "github_output": "append version=... to this file (GITHUB_OUTPUT)",
    "from": "folder holding the partial ledgers (merge) or the Sigstore bundles (publish)",
    "version": "release version (default: the product's version)",
    "phase": "merge: import partial ledgers, run the stages up to signing; publish: import bundles, run the rest",
    "snapshot": "a local snapshot: floors warn instead of fail",
    "dry_run": "show what would be imported and run; change nothing",
    "json": "print a JSON report on stdout",
}


def plan_of(project: str | None, channel: str, ref: str, today: dt.date | None = None) -> dict[str, object]:
    """The version and the targets of one CI run."""
    cfg = settings(project)
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


def _help(*names: str) -> dict[str, str]:
    return {name: _HELP[name] for name in names}


@task(
    help=_help(
        "project",
        "root",
        "write",
        "check",
        "plan",
        "subjects",
        "version",
        "channel",
        "ref",
        "plan_file",
        "github_output",
        "json",
    )
)
@handles_errors
def ci(
    c: InvokeContext,
    project: str | None = None,
    root: str = ".",
    write: bool = False,
    check: bool = False,
    plan: bool = False,
    subjects: bool = False,
    version: str | None = None,
    channel: str = "stable",
    ref: str = "",
    plan_file: str = "",
    github_output: str = "",
    json: bool = False,
) -> None:
    """Generate (--write) or check (--check) the CI workflows; --plan / --subjects for the CI jobs."""
    if [write, check, plan, subjects].count(True) != 1:
        raise UsageError("ci: pass exactly one of --write, --check, --plan, --subjects")
    cfg = settings(project)
    repo = Path(root)
    if subjects:
        ledger = Ledger.load(session.release_dir(cfg, version or cfg.version))
        for artifact in sorted(ledger.uploadable(), key=lambda a: a.path):
            print(f"{artifact.sha256}  {artifact.path}")
        return
    if plan:
        result = plan_of(project, channel, ref)
        if plan_file:
            write_atomic(Path(plan_file), (json_module.dumps(result, indent=2) + "\n").encode())
        if github_output:
            with Path(github_output).open("a", encoding="utf-8") as handle:
                handle.write(f"version={result['version']}\n")
        if json:
            emit_json(result)
        else:
            print(f"{result['product']} {result['version']} ({channel}): {', '.join(cfg.targets)}")
        return
    if check:
        stale = ci_workflow.stale(cfg, repo)
        if stale:
            raise Exit(
                f"error: {', '.join(stale)} differ from what `invoke ci --write` generates from "
                f"{cfg.source_file}; run it and commit the result",
                code=1,
            )
        unpinned = ci_workflow.unpinned(repo)
        if unpinned:
            raise Exit(f"error: {unpinned[0]}", code=1)
        print(f"ci: {len(ci_workflow.FILES)} workflows are up to date; every action is pinned to a commit")
        return
    for path, text in ci_workflow.render(cfg, repo).items():
        write_atomic(repo / path, text.encode())
        print(f"wrote {repo / path}")


@task(help=_help("project", "from", "version", "channel", "phase", "snapshot", "dry_run", "json"))
@handles_errors
def collect(
    c: InvokeContext,
    project: str | None = None,
    from_: str = "",
    version: str | None = None,
    channel: str = "stable",
    phase: str = "merge",
    snapshot: bool = False,
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """Import builds made elsewhere (partial ledgers) or CI's signatures, then run the stages that follow."""
    if not from_:
        raise UsageError("collect: pass --from DIR (the downloaded partial ledgers or bundles)")
    if phase not in ("merge", "publish"):
        raise UsageError(f"collect: --phase {phase!r}; expected merge or publish")
    cfg = settings(project)
    reporter = ConsoleReporter(RunReport(), quiet=json)
    request = Request(version=version, channel=channel, snapshot=snapshot, dry_run=dry_run, targets=(), quiet=json)
    ctx = session.make_context(cfg, request, reporter)
    ctx.build_targets = ()  # nothing is compiled here: the builds come from --from
    folder = Path(from_)
    if phase == "merge":
        partials = merge.find_partials(folder)
        if dry_run:
            for item in merge.plan(ctx.ledger, partials):
                reporter.report.notes.append(f"collect: would import {item.artifact.path} from {item.source}")
        else:
            for artifact in merge.merge(ctx.ledger, partials):
                reporter.report.notes.append(f"collect: imported {artifact.path} ({artifact.target})")
    elif not dry_run:
        for artifact in merge.import_signatures(ctx.ledger, folder):
            reporter.report.notes.append(f"collect: recorded {artifact.path}")
    if not json:
        for note in reporter.report.notes:
            Console(stderr=True).print(f"  {note}")
    report = run_stages(pipeline.ci_phase(phase), ctx, reporter)
    finish(report, json, {"release": str(ctx.dist_dir), "manifest": str(ctx.ledger.path)})
