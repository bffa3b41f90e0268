"""The manifests area's stages: .deb, the signed apt repository, Homebrew, winget, wheel/sdist and their upload.

Everything is made from the ledger's archives and recorded back into the
ledger, under `<release>/manifests/`. Targets whose archive this release does
not hold (built on another runner, not merged yet) are skipped with a note.
"""

from __future__ import annotations

import datetime as dt

from ..core.errors import CheckFailed
from ..core.formats import gzip_bytes
from ..core.fsio import write_atomic
from ..core.ledger import Artifact, ArtifactKind
from ..core.stage import Context, Stage
from ..core.versions import Version
from . import apt_repo, apt_signing, deb, gpg, homebrew, package_index, winget
from .common import (
    MANIFESTS,
    archive_for,
    copyright_holder,
    download_url,
    glibc_floor,
    member_path,
    project_version,
    read_members,
    synopsis,
)

APT = f"{MANIFESTS}/apt"
# Linux gnu targets and their Debian architectures (musl builds are not for Debian).
DEB_ARCHES = {"linux-x86_64-gnu": "amd64", "linux-aarch64-gnu": "arm64"}


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
            members = read_members(archive_path, settings.name, "LICENSE")
            binary = members.get(settings.name)
            if binary is None:
                raise CheckFailed(f"{archive.path}: has no {settings.name} binary; rerun the package stage")
            license_text = members.get("LICENSE")
            if license_text is None:
                license_path = settings.project_dir / "LICENSE"
                if not license_path.is_file():
                    raise CheckFailed(f"{license_path}: missing; a .deb must carry the license text")
                license_text = license_path.read_bytes()
            info = deb.PackageInfo(
                package=settings.name,
                version=version.debian(),
                architecture=arch,
                maintainer=settings.apt.maintainer,
                section=settings.apt.section,
                synopsis=synopsis(settings.description, settings.name),
                description=(
                    f"{settings.description.strip().rstrip('.')}. A single self-contained "
                    f"binary, {settings.name}, built from {settings.repository or 'source'}."
                ),
                homepage=settings.homepage,
                depends=f"libc6 (>= {glibc_floor(ctx, archive)})",
            )
            doc = f"usr/share/doc/{info.package}"
            text = license_text.decode()
            files: list[deb.InstalledFile] = [
                (f"usr/bin/{settings.name}", binary, True),
                (
                    f"{doc}/copyright",
                    deb.copyright_file(
                        info,
                        settings.repository,
                        copyright_holder(text, f"{settings.name} authors"),
                        settings.license,
                        text,
                    ),
                    False,
                ),
                # A version without a Debian revision is a native package: changelog.gz, not changelog.Debian.gz.
                (
                    f"{doc}/changelog.gz",
                    gzip_bytes(
                        deb.changelog(
                            info,
                            apt_repo.suite_for(ctx.ledger.channel, version.line),
                            ctx.epoch,
                            f"Release {ctx.ledger.version} of {settings.name}.",
                        )
                    ),
                    False,
                ),
                (
                    f"usr/share/lintian/overrides/{info.package}",
                    _LINTIAN_OVERRIDES.format(package=info.package, binary=settings.name).encode(),
                    False,
                ),
            ]
            dest = ctx.dist_dir / APT / info.pool_path
            built = deb.build(info, files, dest, ctx.epoch)
            ctx.ledger.record(
                dest,
                ArtifactKind.DEB,
                target=target,
                relations={"deb_of": [archive.id]},
                facts={
                    "deb_arch": arch,
                    "debian_version": info.version,
                    "sha512": built.sha512,
                    "control": built.control,
                    "pool_path": info.pool_path,
                },
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
        return f"{ctx.ledger.channel}|{ctx.snapshot}|{ctx.settings.apt.key_id}|valid-{ctx.settings.apt.valid_days}"

    def run(self, ctx: Context) -> None:
        with apt_signing.signer(ctx.settings, snapshot=ctx.snapshot, state_dir=ctx.state_dir) as signer:
            self._index(ctx, signer)

    def _index(self, ctx: Context, signer: gpg.Signer) -> None:
        settings = ctx.settings
        version = Version.parse(ctx.ledger.version)
        suite = apt_repo.suite_for(ctx.ledger.channel, version.line)
        root = ctx.dist_dir / APT
        debs = ctx.ledger.by_kind(ArtifactKind.DEB)
        entries = [_pool_entry(ctx, a) for a in debs]
        info = apt_repo.SuiteInfo(
            suite=suite,
            architectures=tuple(sorted({a for t, a in DEB_ARCHES.items() if t in settings.targets})),
            origin=settings.name,
            label=settings.name,
            epoch=ctx.epoch,
            # from the signing time, not the source's: a replayed old InRelease must expire
            valid_until=int(ctx.clock().timestamp()) + settings.apt.valid_days * 86400,
            description=f"{settings.name} {suite} packages",
        )
        result = apt_repo.index_suite(root, info, entries)
        inrelease, detached = gpg.sign_release(signer, root / "dists" / suite / "Release")
        keys = gpg.export_public_key(signer, root / f"{settings.name}-archive-keyring.gpg")
        deb_ids = [a.id for a in debs]
        for path in [*result.written, inrelease, detached]:
            ctx.ledger.record(
                path,
                ArtifactKind.APT_INDEX,
                relations={"index_of": deb_ids},
                facts={"suite": suite, "signed_by": signer.key},
            )
        for path in keys:
            ctx.ledger.record(path, ArtifactKind.APT_INDEX, facts={"role": "public-key", "fingerprint": signer.key})
        ctx.reporter.note(f"suite {suite}: {result.packages} package(s), signed by {signer.key}")


def _pool_entry(ctx: Context, artifact: Artifact) -> apt_repo.PoolEntry:
    control, sha512 = artifact.facts.get("control"), artifact.facts.get("sha512")
    pool_path = artifact.facts.get("pool_path")
    if not isinstance(control, dict) or not isinstance(sha512, str) or not isinstance(pool_path, str):
        raise CheckFailed(f"{artifact.id}: the ledger lacks its control fields or sha512; rerun the deb stage")
    # A size check, not a re-hash: the checksum stage re-reads every deliverable anyway.
    path = ctx.ledger.file(artifact)
    if not path.is_file() or path.stat().st_size != artifact.size:
        raise CheckFailed(f"{artifact.path}: missing or changed since the deb stage recorded it; rerun the deb stage")
    return apt_repo.PoolEntry(
        pool_path, artifact.size, artifact.sha256, sha512, {str(k): str(v) for k, v in control.items()}
    )


class HomebrewStage(Stage):
    name = "homebrew"
    description = "the Homebrew formula (tap layout) from the macOS and Linux archives"
    consumes = (ArtifactKind.ARCHIVE,)

    def fingerprint(self, ctx: Context) -> str:
        s = ctx.settings
        return "|".join(
            (s.homebrew.formula, s.channels.download_url, s.homepage, s.description, s.license, ctx.ledger.channel)
        )

    def run(self, ctx: Context) -> None:
        settings = ctx.settings
        downloads: dict[str, homebrew.Download] = {}
        used: list[str] = []
        for platform, target in homebrew.PLATFORMS.items():
            archive = archive_for(ctx, target)
            if archive is None:
                ctx.reporter.note(f"{target}: no archive in this release; the formula has no {platform} block")
                continue
            downloads[platform] = homebrew.Download(download_url(ctx, archive.name, archive.sha256), archive.sha256)
            used.append(archive.id)
        if not downloads:
            ctx.reporter.note("no macOS or Linux gnu archive in this release; no Homebrew formula")
            return
        info = homebrew.FormulaInfo(
            name=settings.homebrew.formula,
            desc=synopsis(settings.description, settings.name),
            homepage=settings.homepage,
            version=ctx.ledger.version,
            license=settings.license,
            binary=settings.name,
            downloads=downloads,
        )
        dest = ctx.dist_dir / MANIFESTS / "homebrew" / "Formula" / f"{info.name}.rb"
        write_atomic(dest, homebrew.formula(info).encode())
        missing = sorted(set(homebrew.PLATFORMS) - set(downloads))
        ctx.ledger.record(
            dest,
            ArtifactKind.HOMEBREW_FORMULA,
            relations={"manifest_of": used},
            facts={"tap": settings.homebrew.tap, "platforms": sorted(downloads), "missing": missing},
        )
        ctx.reporter.note(
            f"{dest.relative_to(ctx.dist_dir)}: {', '.join(sorted(downloads))}"
            + (f"; missing {', '.join(missing)}" if missing else "")
        )


class WingetStage(Stage):
    name = "winget"
    description = "winget manifests (version, installer, defaultLocale) from the Windows zip archives"
    consumes = (ArtifactKind.ARCHIVE,)

    def fingerprint(self, ctx: Context) -> str:
        s = ctx.settings
        return "|".join(
            (
                s.winget.identifier,
                s.winget.publisher,
                s.winget.manifest_version,
                s.channels.download_url,
                s.homepage,
                s.description,
                s.license,
                ctx.ledger.channel,
            )
        )

    def run(self, ctx: Context) -> None:
        settings = ctx.settings
        manifest_version = winget.check_manifest_version(settings.winget.manifest_version, str(settings.source_file))
        installers: list[winget.Installer] = []
        used: list[str] = []
        for target, arch in winget.ARCHES.items():
            archive = archive_for(ctx, target)
            if archive is None:
                ctx.reporter.note(f"{target}: no archive in this release; no {arch} installer")
                continue
            exe = member_path(ctx.ledger.file(archive), f"{settings.name}.exe")
            if exe is None:
                raise CheckFailed(f"{archive.path}: has no {settings.name}.exe; rerun the package stage")
            installers.append(
                winget.Installer(
                    arch, download_url(ctx, archive.name, archive.sha256), archive.sha256, exe.replace("/", "\\")
                )
            )
            used.append(archive.id)
        if not installers:
            ctx.reporter.note("no Windows archive in this release; no winget manifest")
            return
        identifier = settings.winget.identifier
        info = winget.PackageInfo(
            identifier=identifier,
            version=ctx.ledger.version,
            publisher=settings.winget.publisher,
            name=identifier.split(".")[-1],
            license=settings.license,
            short_description=settings.description or settings.name,
            homepage=settings.homepage,
            moniker=settings.name,
            installers=tuple(installers),
            manifest_version=manifest_version,
            release_date=dt.datetime.fromtimestamp(ctx.epoch, dt.UTC).date().isoformat(),
        )
        files = winget.manifests(info)
        winget.check_consistency(files)
        folder = ctx.dist_dir / MANIFESTS / "winget" / winget.folder(identifier, ctx.ledger.version)
        for file_name, text in files.items():
            write_atomic(folder / file_name, text.encode())
            ctx.ledger.record(
                folder / file_name,
                ArtifactKind.WINGET_MANIFEST,
                relations={"manifest_of": used},
                facts={"manifest_version": manifest_version, "identifier": identifier},
            )
        ctx.reporter.note(
            f"{folder.relative_to(ctx.dist_dir)}: {len(files)} files, {', '.join(i.architecture for i in installers)}"
        )


class PythonDistsStage(Stage):
    name = "python-dists"
    description = "the product's wheel and sdist (python -m build)"

    def skip(self, ctx: Context) -> str | None:
        declared = project_version(ctx)
        if declared != ctx.ledger.version:
            return (
                f"the product's [project] version {declared} is not the release version {ctx.ledger.version}; no wheel"
            )
        return None

    # The wheel and sdist come from the source alone: built while Nuitka compiles.
    early = True

    def fingerprint(self, ctx: Context) -> str:
        return ctx.settings.source_file.read_text(encoding="utf-8")

    def prepare(self, ctx: Context) -> package_index.Dists:
        # Into the release folder at once: nothing reads it but through the ledger, and `run`
        # records these files only in its turn.
        return package_index.build(ctx.settings.project_dir, ctx.dist_dir / "python", ctx.epoch)

    def run(self, ctx: Context) -> None:
        built = ctx.prepared(self)
        if built is None:
            with ctx.reporter.progress("python -m build", None):
                built = self.prepare(ctx)
        else:
            ctx.reporter.note("built alongside the compile")
        ctx.ledger.record(built.wheel, ArtifactKind.WHEEL)
        ctx.ledger.record(built.sdist, ArtifactKind.SDIST)
        ctx.reporter.note(f"{built.wheel.name}, {built.sdist.name}")


class IndexUploadStage(Stage):
    name = "index-upload"
    description = "upload the wheel and sdist to the configured package index (twine)"
    consumes = (ArtifactKind.WHEEL, ArtifactKind.SDIST)

    def skip(self, ctx: Context) -> str | None:
        if not ctx.settings.index.url:
            return "no package index configured (index.url)"
        if not ctx.ledger.by_kind(ArtifactKind.WHEEL):
            return "no wheel in this release"
        return None

    def fingerprint(self, ctx: Context) -> str:
        return f"{ctx.settings.index.url}|{ctx.settings.index.username}"

    def run(self, ctx: Context) -> None:
        dists = (*ctx.ledger.by_kind(ArtifactKind.WHEEL), *ctx.ledger.by_kind(ArtifactKind.SDIST))
        for artifact in dists:
            if not ctx.ledger.verify_file(artifact):
                raise CheckFailed(f"{artifact.path}: changed since it was recorded; rerun the python-dists stage")
        files = [ctx.ledger.file(a) for a in dists]
        package_index.upload(ctx.settings.index.url, ctx.settings.index.username, files)
        ctx.reporter.note(f"uploaded {', '.join(p.name for p in files)} to {ctx.settings.index.url}")
