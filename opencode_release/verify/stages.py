"""The pipeline's verify stage: the distributor's verification, run before anything is published."""

from __future__ import annotations

from pathlib import Path

from ..core.config import Settings
from ..core.errors import UsageError, VerificationError
from ..core.ledger import ArtifactKind
from ..core.stage import Context, Stage
from . import identity_policy, policy_template
from .identity_policy import Policy, Trust
from .release import verify_folder


def local_trusted_root_path(state_dir: Path) -> Path:
    return state_dir / "sigstore" / "trusted_root.json"


def release_trust(
    settings: Settings, instance: str, state_dir: Path, channel: str | None = None
) -> tuple[Trust, Policy]:
    """What this project's own releases are verified with: its instance, and the product's identity
    policy (its file, else the one `init` would write), as its distributors verify them."""
    if instance in identity_policy.INSTANCES:
        trust = identity_policy.load_trusted_root(instance, None, local_trusted_root_path(state_dir))
        section = instance
    else:  # a private instance's client trust config
        path = settings.path(instance)
        if not path.is_file():
            raise UsageError(f"{path}: no such trust config")
        trust = identity_policy.parse_trusted_root(path.read_bytes(), str(path))
        section = "production"
    where, text = policy_template.product_policy(settings)
    return trust, identity_policy.load_policy(section, where, {}, channel, text=text)


class VerifyStage(Stage):
    name = "verify"
    description = "verify every artifact as a distributor would, before anything is published"
    consumes = (ArtifactKind.SIGSTORE_BUNDLE,)
    always_run = True

    def skip(self, ctx: Context) -> str | None:
        return None if ctx.ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE) else "nothing signed yet"

    def run(self, ctx: Context) -> None:
        trust, policy = release_trust(ctx.settings, ctx.instance, ctx.state_dir, ctx.ledger.channel)
        # A release with a release statement is verified from it, as a distributor would; one
        # without (CI's merged release before its attest job) from the ledger, strict about
        # provenance and SBOM statements once the release has any.
        listed = bool(ctx.ledger.by_kind(ArtifactKind.RELEASE_STATEMENT))
        rows = verify_folder(ctx.ledger.root, ctx.ledger, trust, policy, require_statement=listed)
        for row in rows:
            if not row.ok:
                raise VerificationError(row.artifact, row.check or "", row.reason or "")
        source = "its signed release statement" if listed else "the ledger (no release statement)"
        ctx.reporter.note(f"{len(rows)} files verified against {trust.source}, starting from {source}")
