"""The attest area's stages: checksum, sbom, provenance, intoto, release-statement, sign."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sigstore.models import Bundle
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from ..core.errors import LedgerError, StageError
from ..core.fsio import concurrently, write_atomic
from ..core.ledger import SUMMED_KINDS, Artifact, ArtifactKind
from ..core.names import PROVENANCE_NAME, SLSA_PROVENANCE_V1, TRUST_ROOT_NAME
from ..core.stage import Context, Stage
from . import (
    _cdx_validate,
    _image_sboms,
    _release_sboms,
    digests,
    intoto,
    provenance,
    pydist_sbom,
    release_statement,
    sbom,
    signing,
    statements,
)


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
        ArtifactKind.IMAGE_MANIFEST,
        ArtifactKind.IMAGE_INDEX,
    )

    def skip(self, ctx: Context) -> str | None:
        kinds = (ArtifactKind.BINARY, ArtifactKind.WHEEL, ArtifactKind.SDIST)
        return None if any(ctx.ledger.by_kind(k) for k in kinds) else "no binary or Python distribution in the ledger"

    def fingerprint(self, ctx: Context) -> str:
        # What the documents depend on besides the consumed artifacts: their layout and the product table.
        return f"sbom/4 {_release_sboms.product_of(ctx)} {sorted(ctx.build_targets)}"

    def run(self, ctx: Context) -> None:
        # The validator's imports (~0.1 s of CPU) run while dpkg answers for the binaries' libraries.
        with ThreadPoolExecutor(1, thread_name_prefix="cdx-validator") as pool:
            pool.submit(_cdx_validate.validator)
            self._write_all(ctx)

    def _write_all(self, ctx: Context) -> None:
        product = _release_sboms.product_of(ctx)
        binaries = [b for b in ctx.ledger.by_kind(ArtifactKind.BINARY) if b.target]
        archives = ctx.ledger.by_kind(ArtifactKind.ARCHIVE)
        debs = ctx.ledger.by_kind(ArtifactKind.DEB)
        programs: dict[str, sbom.Program] = {}
        with ctx.reporter.progress("SBOMs", len(binaries) + len(archives) + len(debs)) as bar:
            for binary in sorted(binaries, key=lambda b: (bool(b.related("merged_from")), b.id)):
                if binary.related("merged_from"):
                    # A universal binary holds the thin builds: their reports say what is inside.
                    parts = [
                        programs[i] if i in programs else _release_sboms.program_of(ctx, ctx.ledger.get(i))
                        for i in binary.related("merged_from")
                    ]
                else:
                    parts = [programs.setdefault(binary.id, _release_sboms.program_of(ctx, binary))]
                holders = [a for a in archives if binary.id in a.related("archive_of")]
                # A .deb is made from an archive: it holds the same binary.
                holders += [d for d in debs if set(d.related("deb_of")) & {a.id for a in holders}]
                for subject in [binary, *holders]:
                    merged_inside = subject is not binary and bool(binary.related("merged_from"))
                    bom = sbom.make_bom(product, subject, parts, ctx.epoch, via=binary if merged_inside else None)
                    _release_sboms.record_sbom(ctx, subject, bom)
                    bar.advance()
            self._write_images(ctx, product, programs)
            for dist in ctx.ledger.by_kind(ArtifactKind.WHEEL) + ctx.ledger.by_kind(ArtifactKind.SDIST):
                _release_sboms.record_sbom(
                    ctx, dist, pydist_sbom.make_dist_bom(product, dist, ctx.ledger.file(dist), ctx.epoch)
                )

    @staticmethod
    def _write_images(ctx: Context, product: sbom.Product, programs: dict[str, sbom.Program]) -> None:
        """Each image manifest's SBOM (its binary's, with the libc it carries) and the index's over them all."""
        parts: dict[str, tuple[Artifact, sbom.Program]] = {}
        for manifest in ctx.ledger.by_kind(ArtifactKind.IMAGE_MANIFEST):
            (binary_id,) = manifest.related("image_of")
            binary = ctx.ledger.get(binary_id)
            program = programs.get(binary_id) or _release_sboms.program_of(ctx, binary)
            parts[manifest.id] = (manifest, program)
            _release_sboms.record_sbom(
                ctx, manifest, _image_sboms.image_bom(product, manifest, [parts[manifest.id]], ctx.epoch)
            )
        for index in ctx.ledger.by_kind(ArtifactKind.IMAGE_INDEX):
            chosen = [parts[i] for i in index.related("index_of") if i in parts]
            if chosen:
                _release_sboms.record_sbom(ctx, index, _image_sboms.image_bom(product, index, chosen, ctx.epoch))


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
        provenance.verify_against_ledger(data, PROVENANCE_NAME, ctx.ledger)
        path = ctx.dist_dir / PROVENANCE_NAME
        write_atomic(path, data)
        builder = document["predicate"]["runDetails"]["builder"]["id"]
        ctx.ledger.record(
            path,
            ArtifactKind.PROVENANCE,
            relations={"provenance_of": [a.id for a in subjects]},
            facts={"predicate_type": SLSA_PROVENANCE_V1, "builder_id": builder},
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


class ChecksumStage(Stage):
    name = "checksum"
    description = "SHA256SUMS and SHA512SUMS over the release's deliverables"
    consumes = SUMMED_KINDS

    def run(self, ctx: Context) -> None:
        summed: list[Artifact] = [a for a in ctx.ledger.artifacts if a.kind in SUMMED_KINDS]
        if not summed:
            ctx.reporter.note("nothing to checksum yet")
            return
        sha256: list[tuple[str, str]] = []
        sha512: list[tuple[str, str]] = []
        with ctx.reporter.progress("hashing", len(summed)) as bar:
            for artifact in summed:
                found = digests.digest_file(ctx.ledger.file(artifact))
                if found.sha256 != artifact.sha256:
                    raise LedgerError(f"{artifact.path}: changed since it was recorded; rerun its stage")
                sha256.append((artifact.path, found.sha256))
                sha512.append((artifact.path, found.sha512))
                ctx.ledger.update_facts(artifact.id, {"sha512": found.sha512})
                bar.advance()
        ids = [a.id for a in summed]
        for file_name, entries in (("SHA256SUMS", sha256), ("SHA512SUMS", sha512)):
            path = ctx.dist_dir / file_name
            write_atomic(path, digests.sums_text(entries).encode())
            ctx.ledger.record(
                path, ArtifactKind.CHECKSUMS, relations={"checksum_of": ids}, facts={"algorithm": file_name[:6].lower()}
            )


class ReleaseStatementStage(Stage):
    name = "release-statement"
    description = "the release statement: every file of the release with its digest and ledger record, to be signed"
    consumes = tuple(sorted(set(ArtifactKind) - release_statement.NOT_LISTED - {ArtifactKind.TRUST_ROOT}))

    def fingerprint(self, ctx: Context) -> str:
        return f"release-statement/1 {ctx.instance} {ctx.ledger.version} {ctx.ledger.channel} {ctx.ledger.source}"

    def skip(self, ctx: Context) -> str | None:
        return None if any(a.kind in signing.SIGNED_KINDS for a in ctx.ledger.artifacts) else "nothing to sign yet"

    def run(self, ctx: Context) -> None:
        for artifact in release_statement.listed(ctx.ledger):
            if artifact.kind != ArtifactKind.TRUST_ROOT and not ctx.ledger.verify_file(artifact):
                raise LedgerError(f"{artifact.path}: missing or changed since it was recorded; rerun its stage")
        # The trusted root the release ships is listed too: it is the signing instance's, written now.
        root_path = ctx.dist_dir / TRUST_ROOT_NAME
        write_atomic(root_path, signing.instance_trusted_root(ctx))
        ctx.ledger.record(root_path, ArtifactKind.TRUST_ROOT, facts={"instance": ctx.instance})
        recorded = release_statement.write(ctx.ledger)
        ctx.reporter.note(f"{recorded.path}: {len(recorded.related('lists'))} files listed")


class SignStage(Stage):
    name = "sign"
    description = "Sigstore bundles for every uploadable artifact, each verified after signing"
    consumes = signing.SIGNED_KINDS

    def fingerprint(self, ctx: Context) -> str:
        wanted = ctx.settings.signing
        log = f"|rekor-v{wanted.rekor_version}" if ctx.instance == "local" else ""
        return f"{ctx.instance}|{wanted.identity}|{wanted.issuer}{log}"

    def skip(self, ctx: Context) -> str | None:
        if not self._targets(ctx):
            return "nothing uploadable to sign yet"
        return None

    @staticmethod
    def _targets(ctx: Context) -> list[Artifact]:
        return sorted((a for a in ctx.ledger.artifacts if a.kind in signing.SIGNED_KINDS), key=lambda a: a.id)

    def run(self, ctx: Context) -> None:
        targets = self._targets(ctx)
        for artifact in targets:
            if not ctx.ledger.verify_file(artifact):
                raise StageError(f"{artifact.path}: changed since it was recorded; rerun its stage")
        written: list[Path] = []
        try:
            self._sign_all(ctx, targets, written)
        except BaseException:
            for path in written:  # a failed signing run leaves nothing behind to publish
                path.unlink(missing_ok=True)
            raise

    def _sign_all(self, ctx: Context, targets: list[Artifact], written: list[Path]) -> None:
        with signing.open_instance(ctx) as instance:
            context = SigningContext.from_trust_config(instance.trust_config)
            verifier = Verifier(trusted_root=instance.trust_config.trusted_root)
            made: list[tuple[Artifact, Bundle]] = []
            with (
                context.signer(instance.token) as signer,
                ctx.reporter.progress(f"signing with {instance.name}", len(targets)) as bar,
            ):
                for artifact in targets:
                    source = ctx.ledger.file(artifact)
                    if artifact.kind in signing.STATEMENT_KINDS:
                        made.append((artifact, signer.sign_dsse(signing.dsse_statement(source, artifact))))
                    else:
                        made.append((artifact, signer.sign_artifact(signing.hashed(artifact))))
                    bar.advance()
            if instance.local is not None:
                reworked = instance.local.finish([bundle.to_json() for _, bundle in made])
                made = [(artifact, Bundle.from_json(raw)) for (artifact, _), raw in zip(made, reworked, strict=True)]
            # One certificate signs them all (the signer caches it); its SAN is the identity to expect.
            identity = signing.certificate_identity(made[0][1])
            expected = policy.Identity(identity=identity, issuer=instance.issuer)
            for artifact, bundle in made:  # every bundle verified before any is written
                signing.verify_bundle(verifier, bundle, artifact, ctx.ledger.file(artifact), expected)
            signed = [(artifact, bundle, signing.bundle_path(ctx, artifact)) for artifact, bundle in made]

            def write(item: tuple[Artifact, Bundle, Path]) -> None:
                _, bundle, out = item
                write_atomic(out, bundle.to_json().encode())
                written.append(out)

            concurrently(write, signed)
            root_path = ctx.dist_dir / TRUST_ROOT_NAME
            shipped = ctx.ledger.by_kind(ArtifactKind.TRUST_ROOT)
            if not shipped:  # no release statement lists one: the release ships the signing instance's
                write_atomic(root_path, signing.pretty_json(instance.trusted_root_json))
                written.append(root_path)
            elif root_path.read_bytes() != signing.pretty_json(instance.trusted_root_json):
                raise StageError(
                    f"{TRUST_ROOT_NAME}: not the trusted root of the instance that signed; rerun release-statement"
                )
        facts: dict[str, Any] = {"instance": instance.name, "identity": identity, "issuer": instance.issuer}
        for artifact, bundle, out in signed:
            entry = bundle.log_entry._inner
            ctx.ledger.record(
                out,
                ArtifactKind.SIGSTORE_BUNDLE,
                target=artifact.target,
                relations={"signature_of": [artifact.id]},
                facts={
                    **facts,
                    "content": "dsse" if artifact.kind in signing.STATEMENT_KINDS else "message_signature",
                    "log_index": int(entry.log_index),
                    "integrated_time": int(entry.integrated_time or 0),
                },
            )
        if not shipped:
            ctx.ledger.record(root_path, ArtifactKind.TRUST_ROOT, facts=facts)
        ctx.reporter.note(
            f"{len(signed)} bundles signed with {instance.name} as {identity} "
            f"and verified; trusted root in {TRUST_ROOT_NAME}"
        )
