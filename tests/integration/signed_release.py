"""A signed snapshot release for the signing and verification tests.

Until the attestation stages (issue 3) are in the pipeline, the SBOM, its
statement and the provenance are written here, in the conventions every stage
shares; when the release already has them they are used as they are.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from opencode_release.attest.stages import ChecksumStage, ReleaseStatementStage, SignStage
from opencode_release.core import config
from opencode_release.core.formats import canonical_json
from opencode_release.core.ledger import Artifact, ArtifactKind, Ledger
from opencode_release.core.names import local_builder_id
from opencode_release.release import session

REPOSITORY = "https://github.com/opencode/opencode"
BUILDER_ID = local_builder_id(REPOSITORY, "opencode")
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA = "https://slsa.dev/provenance/v1"
CYCLONEDX = "https://cyclonedx.org/bom"


def release_root(product: Path) -> Path:
    return product.parent / "dist" / "1.4.0"


def copy_release(built_product: Path, into: Path) -> Path:
    root = into / "work"
    shutil.copytree(
        built_product.parent, root, symlinks=True, ignore=shutil.ignore_patterns("build.lock", "built.ok", ".work")
    )
    return root / "product"


def statement(subjects: list[Artifact], predicate_type: str, predicate: dict[str, Any]) -> bytes:
    return canonical_json(
        {
            "_type": STATEMENT_TYPE,
            "predicateType": predicate_type,
            "predicate": predicate,
            "subject": [{"name": a.name, "digest": {"sha256": a.sha256}} for a in subjects],
        }
    )


def provenance_predicate(ledger: Ledger, builder: str = BUILDER_ID, repository: str = REPOSITORY) -> dict[str, Any]:
    return {
        "buildDefinition": {
            "buildType": "https://opencode.example.org/release/v1",
            "externalParameters": {
                "repository": repository,
                "ref": ledger.source.ref or "refs/heads/main",
                "version": ledger.version,
            },
            "internalParameters": {},
            "resolvedDependencies": [{"uri": f"git+{repository}", "digest": {"gitCommit": ledger.source.commit}}],
        },
        "runDetails": {"builder": {"id": builder}, "metadata": {"invocationId": "test"}},
    }


def add_attestations(ledger: Ledger) -> None:
    """SBOM + SBOM statement per archive, one provenance over the deliverables."""
    archives = ledger.by_kind(ArtifactKind.ARCHIVE)
    if not ledger.by_kind(ArtifactKind.ATTESTATION):
        for archive in archives:
            sbom_path = ledger.file(archive).with_name(archive.name + ".cdx.json")
            sbom_path.write_bytes(
                canonical_json(
                    {
                        "bomFormat": "CycloneDX",
                        "specVersion": "1.5",
                        "version": 1,
                        "metadata": {"component": {"name": archive.name}},
                    }
                )
            )
            sbom = ledger.record(
                sbom_path, ArtifactKind.SBOM, target=archive.target, relations={"sbom_of": [archive.id]}
            )
            body = statement([archive], CYCLONEDX, json.loads(sbom_path.read_bytes()))
            path = ledger.file(archive).with_name(archive.name + ".sbom.intoto.json")
            path.write_bytes(body)
            ledger.record(
                path,
                ArtifactKind.ATTESTATION,
                target=archive.target,
                relations={"attests": [archive.id], "sbom": [sbom.id]},
                facts={"predicate_type": CYCLONEDX},
            )
    if not ledger.by_kind(ArtifactKind.PROVENANCE):
        path = ledger.root / "provenance.intoto.json"
        path.write_bytes(statement(list(archives), SLSA, provenance_predicate(ledger)))
        ledger.record(path, ArtifactKind.PROVENANCE, relations={"provenance_of": [a.id for a in archives]})
    ledger.save()


def sign(product: Path) -> Ledger:
    """Attestations (when the release has none), the release statement, and every bundle."""
    add_attestations(Ledger.load(release_root(product)))
    return resign(product)


def resign(product: Path) -> Ledger:
    """The release statement over the ledger as it is now, and every file signed again."""
    settings = config.load(product / "pyproject.toml")
    stages = [ReleaseStatementStage(), SignStage()]
    ctx, _ = session.run(settings, stages, session.Request(snapshot=True, quiet=True))
    return ctx.ledger


def fake_signed(into: Path) -> Path:
    """A small signed release without a Nuitka build: one fake archive (tests/fake_release.py),
    SHA256SUMS, an SBOM and its statement, provenance, the release statement, every bundle.
    Returns the product folder; the release is release_root(product)."""
    from tests.fake_release import fake_release

    ctx = fake_release(into, only=("linux-x86_64-gnu",))
    session.run(ctx.settings, [ChecksumStage()], session.Request(snapshot=True, quiet=True))
    sign(ctx.settings.project_dir)
    return ctx.settings.project_dir


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
