"""What the sbom stage reads from the ledger (build reports, host facts) and writes back (SBOMs, statements)."""

from __future__ import annotations

import json
from pathlib import Path

from cyclonedx.model.bom import Bom

from ..core.errors import LedgerError, StageError
from ..core.fsio import write_atomic
from ..core.ledger import Artifact, ArtifactKind
from ..core.stage import Context
from . import _buildhost, _cdx_validate, sbom, statements
from . import _compilation as compilation


def build_report_for(ctx: Context, binary: Artifact) -> Artifact:
    """The compilation report recorded for a binary (partial ledgers carry theirs)."""
    reports = [
        r
        for r in ctx.ledger.by_kind(ArtifactKind.BUILD_REPORT, target=binary.target)
        if not r.related("report_of") or binary.id in r.related("report_of")
    ]
    if not reports:
        raise LedgerError(
            f"{binary.path}: no build-report artifact for target {binary.target}; "
            "rebuild it (`invoke build`) or merge the partial ledger that has it"
        )
    report = reports[0]
    if not ctx.ledger.verify_file(report):
        raise LedgerError(f"{report.path}: missing or changed since it was recorded; rebuild target {binary.target}")
    return report


def host_details(ctx: Context, binary: Artifact, report: compilation.CompilationReport) -> sbom.HostDetails:
    environment = binary.facts.get("build_environment")
    if isinstance(environment, dict):
        # Compiled in the product's own environment: what its distributions declared there, on
        # whichever machine built it (the build recorded it with the binary).
        details = {
            d.name: _buildhost.build_environment_details(environment, d.name, d.version) for d in report.distributions
        }
    elif binary.target in ctx.build_targets:  # compiled in this interpreter (build.isolated = false)
        details = {d.name: _buildhost.distribution_details(d.name, d.version) for d in report.distributions}
    else:
        details = {}
    distributions = {k: v for k, v in details.items() if v is not None}
    if binary.target not in ctx.build_targets:
        ctx.reporter.note(
            f"{binary.path}: built on another machine; Debian packages (and, without a recorded build "
            "environment, licenses) come only from the machine that built it"
        )
        return sbom.HostDetails(distributions=distributions)
    compiler = str(binary.facts.get("c_compiler") or report.c_compiler)
    return sbom.HostDetails(
        distributions=distributions,
        debian=_buildhost.debian_packages([lib.source_path for lib in report.libraries]),
        compiler_version=_buildhost.compiler_version(compiler),
    )


def product_of(ctx: Context) -> sbom.Product:
    s = ctx.settings
    return sbom.Product(s.name, ctx.ledger.version, s.description, s.homepage, s.license)


def write_sbom(path: Path, document: str) -> None:
    """Strict CycloneDX 1.5 validation first: an invalid SBOM stops the release, nothing written."""
    reason = _cdx_validate.problem(document)
    if reason is not None:
        raise StageError(f"{path.name}: not valid CycloneDX 1.5 (strict) {reason}; nothing written")
    write_atomic(path, document.encode())


def record_sbom(ctx: Context, subject: Artifact, bom: Bom) -> None:
    path = ctx.ledger.file(subject).with_name(subject.name + sbom.SBOM_SUFFIX)
    document = sbom.serialize(bom)
    write_sbom(path, document)
    recorded = ctx.ledger.record(
        path,
        ArtifactKind.SBOM,
        target=subject.target,
        relations={"sbom_of": [subject.id]},
        facts={"format": "CycloneDX", "spec_version": "1.5", "components": len(bom.components)},
    )
    write_sbom_statement(ctx, subject, recorded, document)


def write_sbom_statement(ctx: Context, subject: Artifact, sbom_artifact: Artifact, document: str) -> None:
    """`<subject>.sbom.intoto.json`: the SBOM as the predicate of a statement about the subject's digest."""
    data = statements.encode(statements.sbom_statement(subject, json.loads(document)))
    path = ctx.ledger.file(subject).with_name(subject.name + statements.SBOM_STATEMENT_SUFFIX)
    statements.check_sbom_statement(data, path.name, subject, document.encode())
    write_atomic(path, data)
    ctx.ledger.record(
        path,
        ArtifactKind.ATTESTATION,
        target=subject.target,
        relations={"attests": [subject.id], "sbom": [sbom_artifact.id]},
        facts={"predicate_type": statements.CYCLONEDX_PREDICATE},
    )


def program_of(ctx: Context, binary: Artifact) -> sbom.Program:
    report_artifact = build_report_for(ctx, binary)
    report = compilation.parse(ctx.ledger.file(report_artifact))
    return sbom.Program(binary, report, report_artifact, host_details(ctx, binary, report))
