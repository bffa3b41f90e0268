"""The identity policy of one product, from its repository and local signing identity.

`opencode-release init` writes it beside the product's pyproject.toml (the product ships it to
its distributors, who pass `--policy FILE`; in a checkout `verify-release --project DIR` reads
it); the packaged `identity-policy.toml` is this text for the sample product, and a test keeps
the two equal. Per instance, and per channel within it: the reusable build.yml (what signs in
CI), called for a version tag (stable, lts) or on the default branch (nightly), with the Fulcio claims
GitHub-built certificates carry; the quarterly packet's signer (`procurement`: nightly.yml on the
default branch); `[local]` is the embedded instance of a maintainer's machine.
"""

from __future__ import annotations

import json

from ..core.config import Settings
from ..core.errors import UsageError
from ..core.names import local_builder_id
from .identity_policy import POLICY_FILE

HEADER = """\
# Who may sign {product} releases, and what their provenance must say, per
# Sigstore instance and, within it, per channel. `opencode-release verify`
# reads this file ({read_by}) unless --policy FILE or flags
# override a field. A value with `*` is a pattern over the whole string, `*`
# standing for any characters except `/` (a lone `*` matches anything);
# anything else must match exactly. A channel's table overrides its instance's
# values.
#
# Certificate rules (checked by sigstore-python on the signing certificate):
#   identity, issuer, and the Fulcio extensions of a GitHub-built release:
#   build-signer-uri (the workflow that signed), source-repository-uri,
#   source-repository-ref, runner-environment. A key left out is not checked.
# Provenance rules (checked on the signed SLSA statement):
#   builder-id, source-repository, source-ref.
"""
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
TAG_REF = "refs/tags/v*"
MAIN_REF = "refs/heads/main"
# Per channel: the workflow that signs, the ref it runs for, and a comment.
_CHANNELS = (
    (
        "stable",
        "build.yml",
        TAG_REF,
        "The reusable build.yml, called by release.yml for a version tag, signs through GitHub's OIDC: the\n"
        "# certificate names it (Build Signer URI and SAN), not its caller, so a certificate minted for a job\n"
        "# of the calling workflow alone is refused (SLSA Build L3, docs/slsa.md).",
    ),
    ("lts", "build.yml", TAG_REF, ""),
    (
        "nightly",
        "build.yml",
        MAIN_REF,
        "The reusable build.yml, called by the scheduled nightly.yml on the default branch.",
    ),
    (
        "procurement",
        "nightly.yml",
        MAIN_REF,
        "The quarterly procurement packet (not a release: no provenance), signed by nightly.yml's\n"
        "# procurement-sign job on the default branch (build/ci_procurement.py); verify it with --channel procurement.",
    ),
)


def _value(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string for these characters


def _workflow(repository: str, workflow: str, ref: str) -> list[str]:
    signer = f"{repository}/.github/workflows/{workflow}@{ref}"
    return [
        f"identity = {_value(signer)}",
        f"build-signer-uri = {_value(signer)}",
        f"source-repository-ref = {_value(ref)}",
        f"source-ref = {_value(ref)}",
        f"builder-id = {_value(signer)}",
    ]


def _instance(name: str, repository: str, channels: tuple[str, ...], lead: list[str]) -> list[str]:
    lines = [f"[{name}]", *lead]
    lines += [
        f"issuer = {_value(GITHUB_ISSUER)}",
        f"source-repository = {_value(repository)}",
        f"source-repository-uri = {_value(repository)}",
        'runner-environment = "github-hosted"',
    ]
    if name == "production":
        lines.append("# Until a channel is known (verify FILE without --channel), a release tag is required.")
    lines += _workflow(repository, "build.yml", TAG_REF)
    for channel, workflow, ref, comment in _CHANNELS:
        if channel in channels:
            lines += ["", f"[{name}.{channel}]", *([f"# {comment}"] if comment else [])]
            lines += _workflow(repository, workflow, ref)
    return [*lines, ""]


def render(product: str, repository: str, local_identity: str, local_issuer: str, builder_id: str, read_by: str) -> str:
    """The policy text; `read_by` says where `verify` finds it (for the header)."""
    if not repository:
        raise UsageError(
            f"{product}: no source repository ([project.urls] Repository); the identity policy pins it: add it"
        )
    repository = repository.rstrip("/")
    lines = [HEADER.format(product=product, read_by=read_by)]
    lines += _instance("production", repository, ("stable", "lts", "nightly", "procurement"), [])
    lines += _instance("staging", repository, ("nightly", "procurement"), [])
    lines += [
        "[local]",
        "# Snapshot releases signed by the embedded local instance on a maintainer's machine.",
        "# Its certificates carry GitHub's extensions only when its OIDC token has GitHub's claims.",
        f"identity = {_value(local_identity)}",
        f"issuer = {_value(local_issuer)}",
        f"source-repository = {_value(repository)}",
        'source-ref = "*"',
        f"builder-id = {_value(builder_id)}",
    ]
    return "\n".join(lines) + "\n"


PRODUCT_READ_BY = "shipped with the product: --policy FILE; in a checkout, --project DIR"
PACKAGED_READ_BY = "shipped with the package"


def for_product(settings: Settings, read_by: str = PRODUCT_READ_BY) -> str:
    """The policy of the product these settings release (the local identity its snapshots sign with)."""
    local = settings.signing.instance == "local"
    return render(
        settings.name,
        settings.repository,
        settings.signing.identity if local else f"release@{settings.name}.local",
        settings.signing.issuer if local else "http://127.0.0.1/oidc",
        local_builder_id(settings.repository, settings.name),
        read_by,
    )


def product_policy(settings: Settings) -> tuple[str, str]:
    """(where, text): the product's own policy file beside its pyproject.toml, else the one `init`
    would write for these settings."""
    path = settings.project_dir / POLICY_FILE
    if path.is_file():
        try:
            return str(path), path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: not a readable policy file: {exc}") from None
    return f"{path} (not written yet: derived from {settings.source_file})", for_product(settings)
