"""The images area's stages: `image` (the OCI layout) and `publish-image` (the push, when configured)."""

from __future__ import annotations

import os
import shutil
from typing import Any

from ..core import oci
from ..core.config_images import ImageSettings, binary_path, platform_of
from ..core.errors import LedgerError, StageError
from ..core.fsio import write_atomic
from ..core.ledger import Artifact, ArtifactKind
from ..core.names import SIMULATED_RUNNER
from ..core.stage import Context, Stage
from . import _libc, carried_libc, layout, publish

DEFAULT_TARGETS = ImageSettings().targets
FOLDER = "oci"
LAYOUT = f"{FOLDER}/layout"
IMAGE_KINDS = (
    ArtifactKind.IMAGE_INDEX,
    ArtifactKind.IMAGE_MANIFEST,
    ArtifactKind.IMAGE_BLOB,
    ArtifactKind.IMAGE_LAYOUT,
)


def image_binaries(ctx: Context) -> list[Artifact]:
    """The release's binaries of the configured image targets (thin builds only: one per platform)."""
    wanted = ctx.settings.images.targets
    found = [b for b in ctx.ledger.by_kind(ArtifactKind.BINARY) if b.target in wanted]
    return sorted(found, key=lambda b: wanted.index(b.target or ""))


class NeedsLibc(StageError):
    """A dynamically linked binary, and no images.libc-package to carry its C library."""


def _root_files(ctx: Context, binary: Artifact, entrypoint: str) -> tuple[list[layout.RootFile], dict[str, Any] | None]:
    inspection = binary.facts.get("inspection")
    if not isinstance(inspection, dict) or "static" not in inspection:
        raise StageError(f"{binary.path}: no inspection facts (static, interpreter); run the inspect stage first")
    files = [layout.RootFile(entrypoint, ctx.ledger.file(binary).read_bytes(), 0o755)]
    if inspection["static"]:
        return files, None
    interpreter = inspection.get("interpreter")
    package = ctx.settings.images.libc_package
    if not package:
        suggested = "musl" if "ld-musl" in str(interpreter) else "libc6"
        raise NeedsLibc(
            f"{binary.path}: dynamically linked (interpreter {interpreter}), and an image without a base has no "
            f'libc for it; set images.libc-package = "{suggested}" to carry this machine\'s (recorded in the '
            "SBOM), or make images of static binaries"
        )
    _, architecture = platform_of(binary.target or "")
    needed = list(inspection.get("needed", []))
    # CI: what the target's build job carried from its native runner; else this machine's package.
    libc = carried_libc.carried(ctx.ledger, binary.target or "", package)
    if libc is not None:
        _libc.check_holds(libc, interpreter, needed)
    else:
        libc = _libc.host_libc(package, architecture, interpreter, needed)
    clash = [f.path for f in libc.files if f.path == entrypoint]
    if clash:
        raise StageError(f"images.binary-path {entrypoint}: is a file of {package}; choose another path")
    return files + list(libc.files), libc.facts()


def _clear(ctx: Context) -> None:
    """A rerun with other targets (or none left) leaves no stale image file or record behind."""
    for old in [a for a in ctx.ledger.artifacts if a.kind in IMAGE_KINDS]:
        ctx.ledger.remove(old.id)
    shutil.rmtree(ctx.dist_dir / FOLDER, ignore_errors=True)


class ImageStage(Stage):
    name = "image"
    description = "a minimal OCI image (no base) of each Linux binary of images.targets, and their index"
    consumes = (ArtifactKind.BINARY,)

    def skip(self, ctx: Context) -> str | None:
        if image_binaries(ctx):
            return None
        return f"no binary of images.targets ({', '.join(ctx.settings.images.targets) or 'none'}) in this release"

    def fingerprint(self, ctx: Context) -> str:
        s = ctx.settings
        return (
            f"image/1 {sorted(s.images.targets)} {binary_path(s.images, s.name)} {s.images.libc_package} "
            f"{s.license} {s.repository} {ctx.ledger.source} "
            f"{sorted(a.sha256 for a in ctx.ledger.by_kind(ArtifactKind.IMAGE_LIBC))}"
        )

    def run(self, ctx: Context) -> None:
        s, ledger = ctx.settings, ctx.ledger
        entrypoint = binary_path(s.images, s.name)
        tags = layout.labels(
            name=s.name,
            version=ledger.version,
            revision=ledger.source.commit,
            source=s.repository or ledger.source.repository,
            licenses=s.license,
            epoch=ctx.epoch,
        )
        built: list[tuple[Artifact, layout.Image, dict[str, Any] | None]] = []
        for binary in image_binaries(ctx):
            if not ledger.verify_file(binary):
                raise LedgerError(f"{binary.path}: missing or changed since it was recorded; rerun its stage")
            try:
                files, libc = _root_files(ctx, binary, entrypoint)
            except NeedsLibc as exc:
                if s.images.targets != DEFAULT_TARGETS:
                    raise  # asked for by name: refused
                # The default asks for images only of what can run alone: a release never fails for one.
                ctx.reporter.warn(f"{exc}; no image of {binary.target}")
                continue
            image = layout.build_image(
                files, platform=platform_of(binary.target or ""), entrypoint=entrypoint, labels=tags, epoch=ctx.epoch
            )
            built.append((binary, image, libc))
        if not built:
            _clear(ctx)
            return
        index = layout.build_index([image for _, image, _ in built], tags)
        self._write(ctx, built, index, entrypoint)

    def _write(
        self,
        ctx: Context,
        built: list[tuple[Artifact, layout.Image, dict[str, Any] | None]],
        index: bytes,
        entrypoint: str,
    ) -> None:
        ledger, root = ctx.ledger, ctx.dist_dir
        _clear(ctx)
        blobs = {oci.sha256_digest(index): index}
        for _, image, _ in built:
            blobs.update(image.blobs())
        for digest, data in sorted(blobs.items()):
            path = root / LAYOUT / "blobs" / "sha256" / digest.split(":", 1)[1]
            write_atomic(path, data)
            ledger.record(path, ArtifactKind.IMAGE_BLOB, facts={"digest": digest})
        for name, data in (
            ("oci-layout", layout.LAYOUT_VERSION),
            ("index.json", layout.layout_index(index, ledger.version)),
        ):
            write_atomic(root / LAYOUT / name, data)
            ledger.record(root / LAYOUT / name, ArtifactKind.IMAGE_LAYOUT)
        stem = f"{ctx.settings.name}-{ledger.version}"
        manifest_ids = []
        for binary, image, libc in built:
            path = root / FOLDER / f"{stem}-{binary.target}.image-manifest.json"
            write_atomic(path, image.manifest)
            facts: dict[str, Any] = {
                "digest": image.digest,
                "media_type": oci.MANIFEST,
                "platform": "/".join(image.platform),
                "entrypoint": entrypoint,
                "layer": oci.sha256_digest(image.layer),
                "config": oci.sha256_digest(image.config),
                "user": f"{layout.USER_ID}:{layout.USER_ID}",
            }
            if libc is not None:
                facts["libc"] = libc
            recorded = ledger.record(
                path,
                ArtifactKind.IMAGE_MANIFEST,
                target=binary.target,
                relations={"image_of": [binary.id]},
                facts=facts,
            )
            manifest_ids.append(recorded.id)
            ctx.reporter.note(f"{path.name}: {image.digest} ({'/'.join(image.platform)}, {len(image.layer)} bytes)")
        index_path = root / FOLDER / f"{stem}.image-index.json"
        write_atomic(index_path, index)
        digest = oci.sha256_digest(index)
        ledger.record(
            index_path,
            ArtifactKind.IMAGE_INDEX,
            relations={"index_of": manifest_ids},
            facts={"digest": digest, "media_type": oci.INDEX, "ref_name": ledger.version},
        )
        ctx.reporter.note(f"{LAYOUT}/: image index {digest} over {len(built)} platform(s)")


def configured_registry(ctx: Context) -> str:
    return ctx.settings.images.registry


def simulation_note(where: str) -> str | None:
    """Why a simulated CI run (ci --simulate, on this machine) does not push to `where`: it is not loopback."""
    host = where.split("/", 1)[0]
    if os.environ.get(SIMULATED_RUNNER) and host.rsplit(":", 1)[0] not in oci.LOOPBACK:
        return f"a simulated CI run pushes no image to {host}: point images.registry at a loopback registry"
    return None


class ImagePublishStage(Stage):
    name = "publish-image"
    description = "push the OCI image, its tags and its evidence (OCI referrers) to images.registry"
    always_run = True  # idempotent: the same release pushes the same digests, and a moved version tag is refused

    def skip(self, ctx: Context) -> str | None:
        where = configured_registry(ctx)
        if not where:
            return "no images.registry configured"
        if not ctx.ledger.by_kind(ArtifactKind.IMAGE_INDEX):
            return "no image in this release"
        return simulation_note(where)

    def run(self, ctx: Context) -> None:
        where = oci.Reference.parse(configured_registry(ctx), what="a registry repository (images.registry)")
        if where.tag or where.digest:
            raise StageError(f"images.registry {where}: name the repository only; the tags come from the release")
        plan = publish.push(ctx.ledger, publish.plan(ctx.ledger, where.repo), oci.Registry.of(where))
        ctx.reporter.note(
            f"{where.repo}@{plan.index.facts['digest']} as {', '.join(plan.tags)}, "
            f"{len(plan.referrers)} referrers ({', '.join(sorted(set(plan.attached.values())))})"
        )
