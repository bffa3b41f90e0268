"""The one ordered list of stages. Only this module knows the order."""

from __future__ import annotations

from ..attest.digests import ChecksumStage
from ..attest.signing import SignStage
from ..attest.stages import InTotoStage, ProvenanceStage, SbomStage
from ..attest.verify_stage import VerifyStage
from ..build.stages import BuildStage, InspectStage, PackageStage, SmokeStage, UniversalStage
from ..manifests.stages import (
    AptRepoStage,
    DebStage,
    HomebrewStage,
    IndexUploadStage,
    PythonDistsStage,
    WingetStage,
)
from ..stage import Stage
from .preflight import PreflightStage


def release_stages() -> list[Stage]:
    return [
        PreflightStage(),  # refuse early: tree, tag, version, toolchain
        BuildStage(),  # Nuitka onefile for the targets this machine builds
        UniversalStage(),  # darwin-universal from the thin arm64 + x86_64 builds, once both are in
        InspectStage(),  # binary facts (arch, libc floor) checked against the target
        SmokeStage(),  # --version and the handshake from an empty environment
        PackageStage(),  # deterministic tar.gz / zip per target
        DebStage(),  # a deterministic .deb per Linux gnu architecture
        AptRepoStage(),  # the channel suite's apt repository, signed with gpg
        HomebrewStage(),  # Formula/<name>.rb from the macOS universal and Linux gnu archives
        WingetStage(),  # winget-pkgs manifests from the Windows zip archives
        PythonDistsStage(),  # the product's wheel and sdist (python -m build)
        ChecksumStage(),  # SHA256SUMS / SHA512SUMS over the deliverables
        SbomStage(),  # CycloneDX 1.5 per binary and archive, from the compilation report
        ProvenanceStage(),  # SLSA v1.0 statement over every deliverable
        InTotoStage(),  # in-toto links per step (step keys) and the layout (owner key)
        SignStage(),  # Sigstore bundle per uploadable artifact, each verified right after signing
        VerifyStage(),  # the distributor's verify-release over the ledger; a failure stops before publishing
        IndexUploadStage(),  # wheel and sdist to the configured package index (skipped without index.url)
    ]


# Named subsets for the tasks that run part of the pipeline.
SUBSETS: dict[str, tuple[str, ...]] = {
    "build": ("build", "inspect", "smoke"),
    "package": ("package", "checksum"),
    "manifests": ("deb", "apt-repo", "homebrew", "winget", "python-dists", "checksum"),
    "index": ("index-upload",),
    "attest": ("sbom", "provenance", "intoto"),
}


def stages_named(names: tuple[str, ...]) -> list[Stage]:
    return [s for s in release_stages() if s.name in names]
