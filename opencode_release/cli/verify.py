"""`verify` and `verify-release`: what a distributor runs, offline, from the installed package."""

from __future__ import annotations

from pathlib import Path

from invoke.context import Context as InvokeContext
from invoke.tasks import task
from rich.console import Console
from rich.table import Table

from ..core.errors import ReleaseError, UsageError
from ..core.names import BUNDLE_SUFFIX
from ..verify import identity_policy
from ..verify import release as verification
from ..verify.release import Report
from ..verify.stages import local_trusted_root_path
from ._common import emit_json, handles_errors, project_file, settings

_HELP = {
    "instance": "trust: production (default; sigstore's shipped root, offline), staging or local",
    "trusted_root": "trust: a Sigstore trusted root (or client trust config) JSON file",
    "policy": "policy TOML (default: the packaged verify/identity-policy.toml); its [instance] section applies",
    "identity": "expected signer identity (exact, or a pattern with *)",
    "issuer": "expected OIDC issuer of the identity",
    "source_repository": "expected source repository in the provenance",
    "source_ref": "expected source ref (exact, or a pattern such as refs/tags/v*)",
    "builder_id": "expected builder id in the provenance",
    "project": "product folder, for --instance local (default: ./product)",
    "json": "print a JSON report on stdout",
}


def _local_root(project: str | None) -> Path:
    try:
        if project or project_file(None).is_file():
            cfg = settings(project)
            return local_trusted_root_path(cfg.path(cfg.state_dir))
    except ReleaseError:
        pass
    return local_trusted_root_path(Path(".opencode-release"))


def _trust(
    instance: str | None,
    trusted_root: str | None,
    policy: str | None,
    project: str | None,
    overrides: dict[str, str | None],
) -> tuple[identity_policy.TrustedRoot, identity_policy.Policy]:
    name = instance or "production"
    if name not in identity_policy.INSTANCES:
        raise UsageError(f"--instance {name!r}: expected one of {', '.join(identity_policy.INSTANCES)}")
    root = identity_policy.load_trusted_root(name, trusted_root, _local_root(project) if name == "local" else None)
    return root, identity_policy.load_policy(name, policy, overrides)


def _show(report: Report, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": report.ok, "artifacts": [r.to_json() for r in report.rows]})
    else:
        table = Table(title="verification")
        for column in ("artifact", "kind", "result", "checks / reason"):
            table.add_column(column)
        for row in report.rows:
            if row.ok:
                table.add_row(row.artifact, row.kind, "[green]ok[/green]", f"{len(row.passed)} checks")
            else:
                table.add_row(row.artifact, row.kind, f"[red]FAILED {row.check}[/red]", row.reason or "")
        Console(stderr=True).print(table)
    failure = report.first_failure()
    if failure is not None:
        raise failure


_FLAGS = (
    "instance",
    "trusted_root",
    "policy",
    "identity",
    "issuer",
    "source_repository",
    "source_ref",
    "builder_id",
    "project",
    "json",
)


@task(
    help={
        "artifact": "the file to verify",
        "bundle": "its Sigstore bundle (default: ARTIFACT.sigstore.json)",
        **{k: _HELP[k] for k in _FLAGS},
    }
)
@handles_errors
def verify(
    c: InvokeContext,
    artifact: str,
    bundle: str | None = None,
    instance: str | None = None,
    trusted_root: str | None = None,
    policy: str | None = None,
    identity: str | None = None,
    issuer: str | None = None,
    source_repository: str | None = None,
    source_ref: str | None = None,
    builder_id: str | None = None,
    project: str | None = None,
    json: bool = False,
) -> None:
    """Verify one artifact against its Sigstore bundle (and SHA256SUMS beside it, if it lists it)."""
    root, rules = _trust(
        instance,
        trusted_root,
        policy,
        project,
        {
            "identity": identity,
            "issuer": issuer,
            "source_repository": source_repository,
            "source_ref": source_ref,
            "builder_id": builder_id,
        },
    )
    path = Path(artifact)
    bundle_path = Path(bundle) if bundle else path.with_name(path.name + BUNDLE_SUFFIX)
    report = verification.verify_files([(path, bundle_path)], root, rules)
    _show(report, json)


@task(
    help={"path": "a release folder, its release-manifest.json, or a channel folder", **{k: _HELP[k] for k in _FLAGS}}
)
@handles_errors
def verify_release(
    c: InvokeContext,
    path: str,
    instance: str | None = None,
    trusted_root: str | None = None,
    policy: str | None = None,
    identity: str | None = None,
    issuer: str | None = None,
    source_repository: str | None = None,
    source_ref: str | None = None,
    builder_id: str | None = None,
    project: str | None = None,
    json: bool = False,
) -> None:
    """Verify every artifact of a release: digests, bundles, transparency log, provenance, SBOM statements."""
    root, rules = _trust(
        instance,
        trusted_root,
        policy,
        project,
        {
            "identity": identity,
            "issuer": issuer,
            "source_repository": source_repository,
            "source_ref": source_ref,
            "builder_id": builder_id,
        },
    )
    _show(verification.verify_release(Path(path), root, rules), json)
