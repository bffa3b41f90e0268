"""The pipeline's verify stage: the distributor's verification, run before anything is published."""

from __future__ import annotations

from pathlib import Path

from ..core.config import Settings
from ..core.errors import UsageError, VerificationError
from ..core.ledger import ArtifactKind
from ..core.stage import Context, Stage
from . import identity_policy
from .identity_policy import Policy, TrustedRoot
from .release import verify_ledger


def local_trusted_root_path(state_dir: Path) -> Path:
    return state_dir / "sigstore" / "trusted_root.json"


def release_trust(settings: Settings, instance: str, state_dir: Path) -> tuple[TrustedRoot, Policy]:
    """What this project's own releases are verified with: its instance and signing identity."""
    if instance in identity_policy.INSTANCES:
        root = identity_policy.load_trusted_root(instance, None, local_trusted_root_path(state_dir))
        section = instance
    else:  # a private instance's client trust config
        path = settings.path(instance)
        if not path.is_file():
            raise UsageError(f"{path}: no such trust config")
        root = identity_policy.parse_trusted_root(path.read_bytes(), str(path))
        section = "production"
    overrides: dict[str, str | None] = {"source_repository": settings.repository or None}
    if section == "local":
        overrides.update(identity=settings.signing.identity, issuer=settings.signing.issuer)
    return root, identity_policy.load_policy(section, None, overrides)


class VerifyStage(Stage):
    name = "verify"
    description = "verify every artifact as a distributor would, before anything is published"
    consumes = (ArtifactKind.SIGSTORE_BUNDLE,)
    always_run = True

    def skip(self, ctx: Context) -> str | None:
        return None if ctx.ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE) else "nothing signed yet"

    def run(self, ctx: Context) -> None:
        root, policy = release_trust(ctx.settings, ctx.instance, ctx.state_dir)
        # Strict about provenance and SBOM statements once the release has any.
        rows = verify_ledger(ctx.ledger, root, policy, require_attestations=False)
        for row in rows:
            if not row.ok:
                raise VerificationError(row.artifact, row.check or "", row.reason or "")
        ctx.reporter.note(f"{len(rows)} artifacts verified against {root.source}")
