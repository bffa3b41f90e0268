"""The one ordered list of stages. Only this module knows the order."""

from __future__ import annotations

from ..attest.stages import (
    ChecksumStage,
    InTotoStage,
    ProvenanceStage,
    ReleaseStatementStage,
    SbomStage,
    SignStage,
)
from ..build.stages import BuildStage, InspectStage, PackageStage, SmokeStage, UniversalStage
from ..core.errors import UsageError
from ..core.stage import Stage
from ..images.stages import ImagePublishStage, ImageStage
from ..manifests.stages import AptRepoStage, DebStage, HomebrewStage, IndexUploadStage, PythonDistsStage, WingetStage
from ..verify.stages import VerifyStage
from .stages import PreflightStage, PublishStage
from .verified_folder import VerifiedFolderStage


def release_stages() -> list[Stage]:
    return [
        PreflightStage(),  # refuse early: tree, tag, version, toolchain
        BuildStage(),  # Nuitka onefile for the targets this machine builds
        UniversalStage(),  # darwin-universal from the thin arm64 + x86_64 builds, once both are in
        InspectStage(),  # binary facts (arch, libc floor) checked against the target
        SmokeStage(),  # --version and the handshake from an empty environment
        PackageStage(),  # deterministic tar.gz / zip per target
        ImageStage(),  # OCI image layout (no base) of the images.targets binaries, one index over them
        DebStage(),  # a deterministic .deb per Linux gnu architecture
        AptRepoStage(),  # the channel suite's apt repository, signed with gpg
        HomebrewStage(),  # Formula/<name>.rb from the macOS universal and Linux gnu archives
        WingetStage(),  # winget-pkgs manifests from the Windows zip archives
        PythonDistsStage(),  # the product's wheel and sdist (python -m build)
        ChecksumStage(),  # SHA256SUMS / SHA512SUMS over the deliverables
        SbomStage(),  # CycloneDX 1.5 per binary and archive, from the compilation report
        ProvenanceStage(),  # SLSA v1.0 statement over every deliverable
        InTotoStage(),  # in-toto links per step (step keys) and the layout (owner key)
        ReleaseStatementStage(),  # every file of the release, with digest and ledger record, in one statement
        SignStage(),  # Sigstore bundle per uploadable artifact, each verified right after signing
        VerifyStage(),  # the distributor's verify-release over the ledger; a failure stops before publishing
        IndexUploadStage(),  # wheel and sdist to the configured package index (skipped without index.url)
        PublishStage(),  # channel repository: files, index, TUF targets, snapshot, timestamp; nightly retention
        ImagePublishStage(),  # the image, its tags and evidence to images.registry (skipped without one)
    ]


# What a user may leave out with --skip (a real release still runs what its channel requires).
SKIPPABLE = (
    "smoke",
    "deb",
    "apt-repo",
    "homebrew",
    "winget",
    "python-dists",
    "sign",
    "verify",
    "index-upload",
    "publish",
    "publish-image",
)


def check_skips(names: tuple[str, ...]) -> tuple[str, ...]:
    """The stages to leave out; skipping `sign` leaves out `verify`, which checks the signatures."""
    unknown = [n for n in names if n not in SKIPPABLE]
    if unknown:
        raise UsageError(
            f"--skip {','.join(unknown)}: not a stage that can be left out; expected {', '.join(SKIPPABLE)}"
        )
    chosen = tuple(dict.fromkeys(names))
    return (*chosen, "verify") if "sign" in chosen and "verify" not in chosen else chosen


# Named subsets for the tasks that run part of the pipeline.
SUBSETS: dict[str, tuple[str, ...]] = {
    "build": ("build", "inspect", "smoke"),
    "package": ("package", "checksum"),
    "manifests": ("deb", "apt-repo", "homebrew", "winget", "python-dists", "checksum"),
    "index": ("index-upload",),
    "attest": ("sbom", "provenance", "intoto"),
    "publish": ("publish",),
}


def stages_named(names: tuple[str, ...]) -> list[Stage]:
    return [s for s in release_stages() if s.name in names]


# CI runs the pipeline in pieces (build/ci_workflow.py): each build job runs
# SUBSETS["build"] for its target; the merge job (`invoke collect`) what comes
# after the build and before signing; CI's attest job signs with no project
# code (docs/slsa.md); the publish job runs what comes after signing.
NOT_AFTER_A_MERGE = ("preflight", "build", "smoke")
SIGNING = ("provenance", "intoto", "release-statement", "sign")
# Stages that need a publishing secret (the apt repository's key) run in the publish job, whose
# environment holds it, never in the merge job beside everything pip installed there.
NEEDS_A_PUBLISHING_SECRET = ("apt-repo",)


def ci_phase(phase: str) -> list[Stage]:
    stages = [s for s in release_stages() if s.name not in NOT_AFTER_A_MERGE]
    names = [s.name for s in stages]
    signing = [names.index(n) for n in SIGNING if n in names]
    first, last = (min(signing), max(signing)) if signing else (len(stages), len(stages) - 1)
    keyed = [s for s in stages if s.name in NEEDS_A_PUBLISHING_SECRET]
    if phase == "merge":
        return [s for s in stages[:first] if s not in keyed]
    if phase == "publish":
        # Verify first, over exactly what the attest job signed. The apt repository comes after:
        # it is signed with a key the signing jobs never see (gpg), and covered by TUF and its own
        # InRelease signature, not by the release statement signed before it existed; so the folder
        # the tag's GitHub Release carries for the quarterly packet is packed before it.
        after = stages[last + 1 :]
        checks = [s for s in after if s.name == "verify"]
        return [*checks, VerifiedFolderStage(), *keyed, *(s for s in after if s not in checks)]
    raise ValueError(f"unknown CI phase {phase!r}; expected merge or publish")
