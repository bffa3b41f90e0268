"""Tasks of the manifests area: distributor manifests from an existing release folder."""

from __future__ import annotations

from invoke.context import Context as InvokeContext
from invoke.tasks import task

from ..release import pipeline, session
from ..release.session import Request
from ._common import finish, handles_errors, settings

_HELP = {
    "project": "product folder or pyproject.toml (default: ./product)",
    "version": "release version (default: the product's version)",
    "snapshot": "a local snapshot: the apt repository is signed with a throwaway key",
    "channel": "stable, lts or nightly (the apt suite)",
    "dry_run": "show what would run; change nothing",
    "json": "print a JSON report on stdout",
}


@task(help=_HELP)
@handles_errors
def manifests(
    c: InvokeContext,
    project: str | None = None,
    version: str | None = None,
    snapshot: bool = False,
    channel: str = "stable",
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """Distributor manifests from dist/<version>: .deb, apt repository, Homebrew, winget; then checksums."""
    cfg = settings(project)
    request = Request(version=version, channel=channel, snapshot=snapshot, targets=(), dry_run=dry_run, quiet=json)
    ctx, report = session.run(cfg, pipeline.stages_named(pipeline.SUBSETS["manifests"]), request)
    finish(report, json, {"release": str(ctx.dist_dir), "manifests": str(ctx.dist_dir / "manifests")})


@task(name="upload-index", help={k: _HELP[k] for k in ("project", "version", "dry_run", "json")})
@handles_errors
def upload_index(
    c: InvokeContext, project: str | None = None, version: str | None = None, dry_run: bool = False, json: bool = False
) -> None:
    """Upload the release's wheel and sdist to index.url with twine (password: $OPENCODE_INDEX_PASSWORD)."""
    cfg = settings(project)
    request = Request(version=version, targets=(), dry_run=dry_run, quiet=json)
    _, report = session.run(cfg, pipeline.stages_named(pipeline.SUBSETS["index"]), request)
    finish(report, json, {"index": cfg.index.url or "(none configured)"})
