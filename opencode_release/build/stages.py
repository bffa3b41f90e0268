"""The build area's stages: build, inspect, smoke, package."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from ..artifacts import ArtifactKind
from ..errors import CheckFailed
from ..stage import Context, Stage
from . import archives, elf, nuitka, smoke, targets

WORK = ".work"


def binary_name(ctx: Context, target: targets.Target) -> str:
    return f"{ctx.settings.name}{target.exe_suffix}"


def archive_stem(ctx: Context, target: str) -> str:
    return f"{ctx.settings.name}-{ctx.ledger.version}-{target}"


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class BuildStage(Stage):
    name = "build"
    description = "compile the product with Nuitka (onefile) for this machine's target"

    def skip(self, ctx: Context) -> str | None:
        return None if ctx.build_targets else "no target of this release builds on this machine"

    def fingerprint(self, ctx: Context) -> str:
        package = ctx.settings.path(ctx.settings.package)
        return f"{_tree_digest(package)} {ctx.ledger.version} {','.join(ctx.build_targets)} nuitka-4.3.3"

    def run(self, ctx: Context) -> None:
        package = ctx.settings.path(ctx.settings.package)
        for name in ctx.build_targets:
            target = targets.get(name)
            work = ctx.dist_dir / WORK / name
            with ctx.reporter.progress(f"nuitka {target.name} (about a minute cold)", None):
                result = nuitka.build(package, ctx.ledger.version, work, ctx.settings.name, target, ctx.epoch)
            dest = ctx.dist_dir / name
            dest.mkdir(parents=True, exist_ok=True)
            binary = dest / binary_name(ctx, target)
            shutil.copy2(result.binary, binary)
            archives.ensure_executable(binary)
            report = dest / "nuitka-report.xml"
            shutil.copy2(result.report, report)
            payload = result.binary.parent / f"{package.name}.dist"
            facts = nuitka.report_facts(report)
            if payload.is_dir():
                facts["payload_dir"] = payload.relative_to(ctx.dist_dir).as_posix()
            built = ctx.ledger.record(binary, ArtifactKind.BINARY, target=name, facts=facts)
            ctx.ledger.record(report, ArtifactKind.BUILD_REPORT, target=name, relations={"report_of": [built.id]})
            ctx.reporter.note(f"{target.name}: {binary.relative_to(ctx.dist_dir)} ({built.size:,} bytes)")


class InspectStage(Stage):
    name = "inspect"
    description = "read each binary's facts and check them against its target"
    consumes = (ArtifactKind.BINARY,)

    def run(self, ctx: Context) -> None:
        for artifact in ctx.ledger.by_kind(ArtifactKind.BINARY):
            if artifact.target is None:
                continue
            target = targets.get(artifact.target)
            if target.binary_format != "elf":
                # Mach-O and PE facts travel with partial ledgers from their runners.
                continue
            facts = _elf_facts(ctx, artifact.path, artifact.facts.get("payload_dir"))
            problem = _check_elf(target, facts)
            if problem and ctx.snapshot:
                ctx.reporter.warn(f"{artifact.path}: {problem} (snapshot: recorded, not refused)")
            elif problem:
                raise CheckFailed(f"{artifact.path}: {problem}")
            ctx.ledger.update_facts(artifact.id, {"inspection": facts})


def _elf_facts(ctx: Context, path: str, payload_dir: object) -> dict[str, object]:
    main = elf.inspect(ctx.dist_dir / path)
    facts: dict[str, object] = main.to_json()
    # A onefile unpacks a payload (libpython, extension modules, bundled
    # libraries) whose needs count as the binary's own.
    floor, symbol, where = main.glibc_floor, main.floor_symbol, path
    bundled: list[str] = []
    if isinstance(payload_dir, str) and (ctx.dist_dir / payload_dir).is_dir():
        for file in sorted((ctx.dist_dir / payload_dir).rglob("*")):
            if not file.is_file() or not elf.is_elf(file):
                continue
            inner = elf.inspect(file)
            if file.name.startswith("lib") and ".so" in file.name:
                bundled.append(file.name)
            if inner.glibc_floor and (floor is None or elf.version_tuple(inner.glibc_floor) > elf.version_tuple(floor)):
                floor, symbol, where = inner.glibc_floor, inner.floor_symbol, file.name
    facts.update(glibc_floor=floor, glibc_floor_symbol=symbol, glibc_floor_file=where, bundled_libraries=bundled)
    return facts


def _check_elf(target: targets.Target, facts: dict[str, object]) -> str | None:
    if facts["arch"] != target.arch:
        return f"architecture {facts['arch']} does not match target {target.name} ({target.arch})"
    floor = facts.get("glibc_floor")
    too_new = (
        target.libc == "gnu" and target.glibc_floor is not None and isinstance(floor, str)
        and elf.version_tuple(floor) > elf.version_tuple(target.glibc_floor)
    )
    if too_new:
        return (
            f"needs glibc {floor} (symbol {facts.get('glibc_floor_symbol')} in "
            f"{facts.get('glibc_floor_file')}), above the {target.name} floor {target.glibc_floor}; "
            f"build it in {target.container}"
        )
    if target.libc == "musl" and floor is not None:
        return f"requires glibc {floor} but {target.name} is a musl target"
    return None


class SmokeStage(Stage):
    name = "smoke"
    description = "run each binary built here: --version and the stdio handshake"
    consumes = (ArtifactKind.BINARY,)

    def skip(self, ctx: Context) -> str | None:
        return None if ctx.build_targets else "no binary of this machine's target to run"

    def run(self, ctx: Context) -> None:
        for name in ctx.build_targets:
            for artifact in ctx.ledger.by_kind(ArtifactKind.BINARY, target=name):
                result = smoke.smoke(ctx.ledger.file(artifact), ctx.ledger.version)
                ctx.ledger.update_facts(artifact.id, {"smoke": result})
                ctx.reporter.note(f"{artifact.path}: {result['version_output']}; handshake ok")


class PackageStage(Stage):
    name = "package"
    description = "deterministic archives (tar.gz, zip) of each binary"
    consumes = (ArtifactKind.BINARY,)

    def run(self, ctx: Context) -> None:
        license_file = ctx.settings.project_dir / "LICENSE"
        for artifact in ctx.ledger.by_kind(ArtifactKind.BINARY):
            if artifact.target is None:
                continue
            target = targets.get(artifact.target)
            stem = archive_stem(ctx, target.name)
            entries = [archives.Entry(ctx.ledger.file(artifact), f"{stem}/{artifact.name}")]
            if license_file.is_file():
                entries.append(archives.Entry(license_file, f"{stem}/LICENSE"))
            dest = ctx.dist_dir / f"{stem}.{target.archive}"
            archives.make(target.archive, entries, dest, ctx.epoch)
            ctx.ledger.record(
                dest, ArtifactKind.ARCHIVE, target=target.name,
                relations={"archive_of": [artifact.id]}, facts={"format": target.archive},
            )
