"""The attest area's stages: sbom, provenance, intoto."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cyclonedx.model.bom import Bom

from ..artifacts import Artifact, ArtifactKind, write_atomic
from ..errors import LedgerError, StageError
from ..stage import Context, Stage
from . import buildhost, cdx_validate, compilation, intoto, provenance, pydist, sbom, statements


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
    if binary.target not in ctx.build_targets:
        ctx.reporter.note(
            f"{binary.path}: built on another machine; licenses and Debian packages "
            "come only from the machine that built it"
        )
        return sbom.HostDetails()
    details = {d.name: buildhost.distribution_details(d.name, d.version) for d in report.distributions}
    compiler = str(binary.facts.get("c_compiler") or report.c_compiler)
    return sbom.HostDetails(
        distributions={k: v for k, v in details.items() if v is not None},
        debian=buildhost.debian_packages([lib.source_path for lib in report.libraries]),
        compiler_version=buildhost.compiler_version(compiler),
    )


def product_of(ctx: Context) -> sbom.Product:
    s = ctx.settings
    return sbom.Product(s.name, ctx.ledger.version, s.description, s.homepage, s.license)


def write_sbom(path: Path, document: str) -> None:
    """Strict CycloneDX 1.5 validation first: an invalid SBOM stops the release, nothing written."""
    reason = cdx_validate.problem(document)
    if reason is not None:
        raise StageError(f"{path.name}: not valid CycloneDX 1.5 (strict) {reason}; nothing written")
    write_atomic(path, document.encode())


class SbomStage(Stage):
    name = "sbom"
    description = "CycloneDX 1.5 SBOM of each binary, archive and .deb (from the compilation report) and its statement"
    consumes = (
        ArtifactKind.BINARY,
        ArtifactKind.ARCHIVE,
        ArtifactKind.DEB,
        ArtifactKind.WHEEL,
        ArtifactKind.SDIST,
        ArtifactKind.BUILD_REPORT,
    )

    def skip(self, ctx: Context) -> str | None:
        kinds = (ArtifactKind.BINARY, ArtifactKind.WHEEL, ArtifactKind.SDIST)
        return None if any(ctx.ledger.by_kind(k) for k in kinds) else "no binary or Python distribution in the ledger"

    def fingerprint(self, ctx: Context) -> str:
        # What the documents depend on besides the consumed artifacts: their layout and the product table.
        return f"sbom/3 {product_of(ctx)} {sorted(ctx.build_targets)}"

    def run(self, ctx: Context) -> None:
        # The validator's imports (~0.1 s of CPU) run while dpkg answers for the binaries' libraries.
        with ThreadPoolExecutor(1, thread_name_prefix="cdx-validator") as pool:
            pool.submit(cdx_validate.validator)
            self._write_all(ctx)

    def _write_all(self, ctx: Context) -> None:
        product = product_of(ctx)
        binaries = [b for b in ctx.ledger.by_kind(ArtifactKind.BINARY) if b.target]
        archives = ctx.ledger.by_kind(ArtifactKind.ARCHIVE)
        debs = ctx.ledger.by_kind(ArtifactKind.DEB)
        programs: dict[str, sbom.Program] = {}
        with ctx.reporter.progress("SBOMs", len(binaries) + len(archives) + len(debs)) as bar:
            for binary in sorted(binaries, key=lambda b: (bool(b.related("merged_from")), b.id)):
                if binary.related("merged_from"):
                    # A universal binary holds the thin builds: their reports say what is inside.
                    parts = [
                        programs[i] if i in programs else program_of(ctx, ctx.ledger.get(i))
                        for i in binary.related("merged_from")
                    ]
                else:
                    parts = [programs.setdefault(binary.id, program_of(ctx, binary))]
                holders = [a for a in archives if binary.id in a.related("archive_of")]
                # A .deb is made from an archive: it holds the same binary.
                holders += [d for d in debs if set(d.related("deb_of")) & {a.id for a in holders}]
                for subject in [binary, *holders]:
                    merged_inside = subject is not binary and bool(binary.related("merged_from"))
                    bom = sbom.make_bom(product, subject, parts, ctx.epoch, via=binary if merged_inside else None)
                    record_sbom(ctx, subject, bom)
                    bar.advance()
            for dist in ctx.ledger.by_kind(ArtifactKind.WHEEL) + ctx.ledger.by_kind(ArtifactKind.SDIST):
                record_sbom(ctx, dist, pydist.make_dist_bom(product, dist, ctx.ledger.file(dist), ctx.epoch))


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


class ProvenanceStage(Stage):
    name = "provenance"
    description = "SLSA v1.0 provenance (in-toto statement) over every deliverable"
    consumes = (*provenance.DELIVERABLE_KINDS, ArtifactKind.BUILD_REPORT, ArtifactKind.BINARY)

    def skip(self, ctx: Context) -> str | None:
        return None if provenance.deliverables(ctx.ledger) else "no deliverable in the ledger"

    def fingerprint(self, ctx: Context) -> str:
        run = provenance.current_run(ctx.ledger, dt.datetime.now(dt.UTC), snapshot=ctx.snapshot)
        lock = hashlib.sha256(provenance.build_lock()).hexdigest()
        return (
            f"provenance/1 {run.builder_id} {ctx.snapshot} {ctx.ledger.channel} {sorted(ctx.settings.targets)} "
            f"{sorted(ctx.build_targets)} {ctx.ledger.source} {lock}"
        )

    def run(self, ctx: Context) -> None:
        started = dt.datetime.now(dt.UTC)
        subjects = provenance.deliverables(ctx.ledger)
        for artifact in subjects:
            if not ctx.ledger.verify_file(artifact):
                raise LedgerError(f"{artifact.path}: missing or changed since it was recorded; rerun its stage")
        document = provenance.make_provenance(
            ctx.ledger,
            targets=ctx.settings.targets,
            build_targets=ctx.build_targets,
            snapshot=ctx.snapshot,
            run=provenance.current_run(ctx.ledger, started, snapshot=ctx.snapshot),
        )
        data = statements.encode(document)
        provenance.verify_against_ledger(data, provenance.PROVENANCE_NAME, ctx.ledger)
        path = ctx.dist_dir / provenance.PROVENANCE_NAME
        write_atomic(path, data)
        builder = document["predicate"]["runDetails"]["builder"]["id"]
        ctx.ledger.record(
            path,
            ArtifactKind.PROVENANCE,
            relations={"provenance_of": [a.id for a in subjects]},
            facts={"predicate_type": provenance.SLSA_PREDICATE, "builder_id": builder},
        )
        ctx.reporter.note(f"{path.name}: {len(subjects)} subjects, builder {builder}")


class InTotoStage(Stage):
    name = "intoto"
    description = "in-toto links (build, package, sbom, provenance) signed by step keys, and the owner's layout"
    consumes = tuple(sorted(set().union(*intoto.STEP_PRODUCTS.values())))

    def skip(self, ctx: Context) -> str | None:
        return None if ctx.ledger.by_kind(ArtifactKind.PROVENANCE) else "no provenance yet"

    def fingerprint(self, ctx: Context) -> str:
        sources = intoto.source_materials(ctx.settings.project_dir, ctx.settings.package)
        configured = os.environ.get(intoto.KEYS_ENV) or ctx.settings.signing.keys_dir
        return (
            f"intoto/1 {ctx.snapshot} {json.dumps(sources, sort_keys=True)} {configured} "
            f"{ctx.settings.lifecycle.evidence_days}"
        )

    def run(self, ctx: Context) -> None:
        s = ctx.settings
        folder = intoto.configured_keys(s.signing.keys_dir, s.project_dir)
        if folder is None and not ctx.snapshot:
            raise intoto.no_keys_error()
        keys = intoto.load_keys(folder or ctx.state_dir / "in-toto-keys", generate=folder is None)
        sources = intoto.source_materials(s.project_dir, s.package)
        checked: intoto.Checked = {}
        links = {step: intoto.make_link(ctx.ledger, step, sources, checked) for step in intoto.STEPS}
        expires = dt.datetime.fromtimestamp(ctx.epoch, dt.UTC) + dt.timedelta(days=s.lifecycle.evidence_days)
        layout = intoto.make_layout(ctx.ledger, keys, links, s.package, expires)
        out = ctx.dist_dir / intoto.FOLDER
        link_ids = []
        for step in intoto.STEPS:
            path = out / intoto.link_name(step, keys[step])
            write_atomic(path, intoto.sign(links[step], keys[step]))
            made = [a.id for a in intoto.step_products(ctx.ledger, step)]
            link_ids.append(
                ctx.ledger.record(
                    path,
                    ArtifactKind.INTOTO_LINK,
                    relations={"link_of": made},
                    facts={"step": step, "keyid": keys[step].keyid},
                ).id
            )
        layout_path = out / intoto.LAYOUT_NAME
        write_atomic(layout_path, intoto.sign(layout, keys[intoto.OWNER]))
        recorded = ctx.ledger.record(
            layout_path,
            ArtifactKind.INTOTO_LAYOUT,
            relations={"layout_of": link_ids},
            facts={"keyid": keys[intoto.OWNER].keyid, "expires": layout.expires},
        )
        key_path = out / intoto.OWNER_KEY_NAME
        write_atomic(key_path, keys[intoto.OWNER].public_pem())
        ctx.ledger.record(
            key_path,
            ArtifactKind.INTOTO_LAYOUT,
            relations={"key_of": [recorded.id]},
            facts={"role": "layout-owner-public-key", "keyid": keys[intoto.OWNER].keyid},
        )
        command = intoto.verify_command(layout_path.relative_to(ctx.dist_dir), key_path.relative_to(ctx.dist_dir))
        ctx.reporter.note(
            f"{intoto.FOLDER}/: {len(link_ids)} links and {intoto.LAYOUT_NAME}; "
            f"check with `cd {ctx.dist_dir} && {' '.join(command)}`"
        )
