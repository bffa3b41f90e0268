"""Task of the attest area: SBOMs, provenance and in-toto over an existing release."""

from __future__ import annotations

from invoke.context import Context as InvokeContext
from invoke.tasks import task

from ..core.ledger import MANIFEST_NAME, Ledger
from ..release import pipeline, session
from ..release.session import Request
from ._common import finish, handles_errors, settings

__all_tasks__ = ["attest"]


@task(
    help={
        "project": "product folder or pyproject.toml (default: ./product)",
        "version": "release version (default: the product's version)",
        "snapshot": "a local snapshot: local keys and builder id",
        "dry_run": "show what would run; change nothing",
        "json": "print a JSON report on stdout",
    }
)
@handles_errors
def attest(
    c: InvokeContext,
    project: str | None = None,
    version: str | None = None,
    snapshot: bool = False,
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """SBOMs, provenance and in-toto evidence for an existing dist/<version> (builds nothing)."""
    cfg = settings(project)
    chosen = version or cfg.version
    # Refuse before anything is written: attest never starts a release.
    Ledger.load(session.release_dir(cfg, chosen) / MANIFEST_NAME)
    request = Request(version=chosen, snapshot=snapshot, dry_run=dry_run, quiet=json)
    ctx, report = session.run(cfg, pipeline.stages_named(pipeline.SUBSETS["attest"]), request)
    finish(report, json, {"release": str(ctx.dist_dir), "manifest": str(ctx.ledger.path)})
