"""The manifests area's stages: .deb packages and the signed apt repository.

Everything is made from the ledger's archives and recorded back into the
ledger, under `<release>/manifests/`. Targets whose archive this release does
not hold (built on another runner, not merged yet) are skipped with a note.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from pathlib import Path

from ..artifacts import Artifact, ArtifactKind
from ..errors import CheckFailed
from ..stage import Context, Stage
from ..versions import Version
from . import apt_repo, deb, gpg

MANIFESTS = "manifests"
APT = f"{MANIFESTS}/apt"
# Linux gnu targets and their Debian architectures (musl builds are not for Debian).
DEB_ARCHES = {"linux-x86_64-gnu": "amd64", "linux-aarch64-gnu": "arm64"}
# The floor of the gnu targets' build containers (manylinux_2_28), when no inspection says more.
GLIBC_FLOOR = "2.28"


def archive_for(ctx: Context, target: str) -> Artifact | None:
    found = ctx.ledger.by_kind(ArtifactKind.ARCHIVE, target=target)
    return found[0] if found else None


def read_member(path: Path, basename: str) -> bytes | None:
    """The bytes of the archive member named `basename` (in whatever folder), or None."""
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.rsplit("/", 1)[-1] == basename:
                    return archive.read(name)
        return None
    with tarfile.open(path, "r:*") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.rsplit("/", 1)[-1] == basename:
                handle = tar.extractfile(member)
                return handle.read() if handle else None
    return None


def _glibc_floor(ctx: Context, archive: Artifact) -> str:
    for binary_id in archive.related("archive_of"):
        if binary_id in ctx.ledger:
            inspection = ctx.ledger.get(binary_id).facts.get("inspection")
            if isinstance(inspection, dict) and isinstance(inspection.get("glibc_floor"), str):
                return str(inspection["glibc_floor"])
    return GLIBC_FLOOR


def _copyright_holder(license_text: str, fallback: str) -> str:
    match = re.search(r"^Copyright (?:\([cC]\) )?(.+)$", license_text, flags=re.M)
    return match.group(1).strip() if match else fallback


def _synopsis(description: str, name: str) -> str:
    # Debian policy: a noun phrase without a leading article, the package name or a final period.
    text = re.sub(r"^(?:The|A|An) ", "", description.strip().rstrip("."))
    text = re.sub(rf"^{re.escape(name)}(?:'s)?\b\s*", "", text, flags=re.I)
    return text or "command-line interface"


class DebStage(Stage):
    name = "deb"
    description = "a deterministic .deb per Linux gnu architecture"
    consumes = (ArtifactKind.ARCHIVE,)

    def skip(self, ctx: Context) -> str | None:
        if not any(t in DEB_ARCHES for t in ctx.settings.targets):
            return "no Linux gnu target in this release"
        return None

    def fingerprint(self, ctx: Context) -> str:
        apt = ctx.settings.apt
        return f"{apt.maintainer}|{apt.section}|{ctx.settings.description}|{ctx.settings.homepage}|deb-1"

    def run(self, ctx: Context) -> None:
        settings = ctx.settings
        version = Version.parse(ctx.ledger.version)
        for target, arch in DEB_ARCHES.items():
            if target not in settings.targets:
                continue
            archive = archive_for(ctx, target)
            if archive is None:
                ctx.reporter.note(f"{target}: no archive in this release; no {arch} .deb")
                continue
            archive_path = ctx.ledger.file(archive)
            binary = read_member(archive_path, settings.name)
            if binary is None:
                raise CheckFailed(f"{archive.path}: has no {settings.name} binary; rerun the package stage")
            license_text = read_member(archive_path, "LICENSE")
            if license_text is None:
                license_path = settings.project_dir / "LICENSE"
                if not license_path.is_file():
                    raise CheckFailed(f"{license_path}: missing; a .deb must carry the license text")
                license_text = license_path.read_bytes()
            info = deb.PackageInfo(
                package=settings.name, version=version.debian(), architecture=arch,
                maintainer=settings.apt.maintainer, section=settings.apt.section,
                synopsis=_synopsis(settings.description, settings.name),
                description=(f"{settings.description.strip().rstrip('.')}. A single self-contained "
                             f"binary, {settings.name}, built from {settings.repository or 'source'}."),
                homepage=settings.homepage, depends=f"libc6 (>= {_glibc_floor(ctx, archive)})",
            )
            doc = f"usr/share/doc/{info.package}"
            text = license_text.decode()
            files: list[deb.InstalledFile] = [
                (f"usr/bin/{settings.name}", binary, True),
                (f"{doc}/copyright", deb.copyright_file(
                    info, settings.repository, _copyright_holder(text, f"{settings.name} authors"),
                    settings.license, text), False),
                # A version without a Debian revision is a native package: changelog.gz, not changelog.Debian.gz.
                (f"{doc}/changelog.gz", deb.gzip_bytes(deb.changelog(
                    info, apt_repo.suite_for(ctx.ledger.channel, version.line), ctx.epoch,
                    f"Release {ctx.ledger.version} of {settings.name}.")), False),
                (f"usr/share/lintian/overrides/{info.package}", _LINTIAN_OVERRIDES.format(
                    package=info.package, binary=settings.name).encode(), False),
            ]
            dest = ctx.dist_dir / APT / info.pool_path
            built = deb.build(info, files, dest, ctx.epoch)
            ctx.ledger.record(
                dest, ArtifactKind.DEB, target=target, relations={"deb_of": [archive.id]},
                facts={"deb_arch": arch, "debian_version": info.version, "sha512": built.sha512,
                       "control": built.control, "pool_path": info.pool_path},
            )
            ctx.reporter.note(f"{target}: {info.pool_path} ({built.size:,} bytes)")


# The CLI documents itself with --help; it ships no manual page (yet).
_LINTIAN_OVERRIDES = """\
{package}: no-manual-page [usr/bin/{binary}]
"""


class AptRepoStage(Stage):
    name = "apt-repo"
    description = "the signed apt repository of this release's channel suite"
    consumes = (ArtifactKind.DEB,)

    def skip(self, ctx: Context) -> str | None:
        return None if ctx.ledger.by_kind(ArtifactKind.DEB) else "no .deb in this release"

    def fingerprint(self, ctx: Context) -> str:
        return f"{ctx.ledger.channel}|{ctx.snapshot}|{ctx.settings.apt.key_id}"

    def run(self, ctx: Context) -> None:
        settings = ctx.settings
        version = Version.parse(ctx.ledger.version)
        suite = apt_repo.suite_for(ctx.ledger.channel, version.line)
        root = ctx.dist_dir / APT
        debs = ctx.ledger.by_kind(ArtifactKind.DEB)
        if ctx.snapshot and not settings.apt.key_id:
            signer = gpg.snapshot_signer(ctx.state_dir, f"{settings.name} snapshot archive key "
                                         f"<{_email(settings.apt.maintainer)}>")
        else:
            signer = gpg.configured_signer(settings.apt.key_id, str(settings.source_file))
        entries = [_pool_entry(ctx, a) for a in debs]
        info = apt_repo.SuiteInfo(
            suite=suite, architectures=tuple(sorted({a for t, a in DEB_ARCHES.items() if t in settings.targets})),
            origin=settings.name, label=settings.name, epoch=ctx.epoch,
            description=f"{settings.name} {suite} packages",
        )
        result = apt_repo.index_suite(root, info, entries)
        inrelease, detached = gpg.sign_release(signer, root / "dists" / suite / "Release")
        keys = gpg.export_public_key(signer, root / f"{settings.name}-archive-keyring.gpg")
        deb_ids = [a.id for a in debs]
        for path in [*result.written, inrelease, detached]:
            ctx.ledger.record(path, ArtifactKind.APT_INDEX, relations={"index_of": deb_ids},
                              facts={"suite": suite, "signed_by": signer.key})
        for path in keys:
            ctx.ledger.record(path, ArtifactKind.APT_INDEX, facts={"role": "public-key", "fingerprint": signer.key})
        ctx.reporter.note(f"suite {suite}: {result.packages} package(s), signed by {signer.key}")


def _email(maintainer: str) -> str:
    match = re.search(r"<([^>]+)>", maintainer)
    return match.group(1) if match else maintainer


def _pool_entry(ctx: Context, artifact: Artifact) -> apt_repo.PoolEntry:
    control, sha512 = artifact.facts.get("control"), artifact.facts.get("sha512")
    pool_path = artifact.facts.get("pool_path")
    if not isinstance(control, dict) or not isinstance(sha512, str) or not isinstance(pool_path, str):
        raise CheckFailed(f"{artifact.id}: the ledger lacks its control fields or sha512; rerun the deb stage")
    # A size check, not a re-hash: the checksum stage re-reads every deliverable anyway.
    path = ctx.ledger.file(artifact)
    if not path.is_file() or path.stat().st_size != artifact.size:
        raise CheckFailed(f"{artifact.path}: missing or changed since the deb stage recorded it; rerun the deb stage")
    return apt_repo.PoolEntry(pool_path, artifact.size, artifact.sha256, sha512,
                              {str(k): str(v) for k, v in control.items()})

