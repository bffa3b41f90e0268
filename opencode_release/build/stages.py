"""The build area's stages: build, inspect, smoke, package."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import shutil
import tempfile
from pathlib import Path

from ..core import names
from ..core.errors import CheckFailed
from ..core.ledger import ArtifactKind
from ..core.stage import Context, Stage
from . import archives, environment, inspection, nuitka, smoke, targets
from .inspection import elf, macho

# `ci --simulate` runs every build job on this one machine, which compiles only its own target: the
# simulation hands the other targets' jobs a binary and report made beforehand (the test suite's
# fixtures) in $OPENCODE_RELEASE_PREBUILT/<target>/. The ledger says so (fact `prebuilt`).
PREBUILT = "OPENCODE_RELEASE_PREBUILT"
# Set on a simulated runner (`ci --simulate` sets it for every job, the `docker run` stand-in in its
# "container"): the build ran on this host, not in the pinned image, so the image's glibc floor
# cannot hold. The floor is then checked against this host's glibc, the one that plays the image:
# a binary needing more than the host has is still refused. Only the inspecting process's own
# environment counts: the binary's `simulated_runner` fact, which a build job writes into its partial
# ledger, is a record and waives nothing.
SIMULATED_RUNNER = names.SIMULATED_RUNNER


def simulated_host_glibc() -> str | None:
    """This host's glibc version when this process runs on a simulated runner; else None."""
    if not os.environ.get(SIMULATED_RUNNER):
        return None
    library, version = platform.libc_ver()
    return version if library == "glibc" and version else None


def _within(floor: object, glibc: str) -> bool:
    return isinstance(floor, str) and elf.version_tuple(floor) <= elf.version_tuple(glibc)


def prebuilt(target: str) -> Path | None:
    root = os.environ.get(PREBUILT)
    folder = Path(root) / target if root else None
    return folder if folder is not None and (folder / "nuitka-report.xml").is_file() else None


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
        # The installed compiler, not a copy of the pin: a Nuitka upgrade must rebuild.
        nuitka_version = importlib.metadata.version("nuitka")
        built = f"{ctx.ledger.version} {','.join(ctx.build_targets)} nuitka-{nuitka_version}"
        requirements, _ = environment.requirements_of(ctx.settings)
        isolated = hashlib.sha256(requirements).hexdigest() if ctx.settings.build.isolated else "pipeline"
        return f"{_tree_digest(package)} {built} {ctx.settings.entry_point} env-{isolated}"

    def run(self, ctx: Context) -> None:
        package = ctx.settings.path(ctx.settings.package)
        for name in ctx.build_targets:
            target = targets.get(name)
            # The compiler's work folder (copied source, SCons files, the unpacked payload) lives
            # outside the release folder and goes when the build ends: nothing of it is published.
            isolated = ctx.settings.build.isolated and prebuilt(name) is None
            build_env = environment.ensure(ctx.settings, name, ctx.state_dir) if isolated else None
            with tempfile.TemporaryDirectory(prefix=f"opencode-nuitka-{name}-") as work:
                given = prebuilt(name)
                flags = nuitka.hardening_flags(target, ctx.settings.build.hardening)
                if given is not None:
                    exe = given / binary_name(ctx, target)
                    result = nuitka.BuildResult(exe, given / "nuitka-report.xml", given / "nuitka-report.xml")
                else:
                    with ctx.reporter.progress(f"nuitka {target.name} (about a minute cold)", None):
                        result = nuitka.build(
                            package,
                            ctx.ledger.version,
                            Path(work),
                            ctx.settings.name,
                            target,
                            ctx.epoch,
                            ctx.settings.entry_point,
                            build_env,
                            flags,
                        )
                dest = ctx.dist_dir / name
                dest.mkdir(parents=True, exist_ok=True)
                binary = dest / binary_name(ctx, target)
                shutil.copy2(result.binary, binary)
                archives.ensure_executable(binary)
                report = dest / "nuitka-report.xml"
                shutil.copy2(result.report, report)
                facts: dict[str, object] = dict(nuitka.report_facts(report))
                if build_env is not None:
                    facts["build_environment"] = {**build_env.facts(), "lock": build_env.lock_text().decode()}
                if given is not None:
                    facts["prebuilt"] = True
                else:  # what the compiler was told to give (PW.6); the inspect stage reads what it gave
                    facts["hardening_flags"] = flags
                if os.environ.get(SIMULATED_RUNNER):
                    facts["simulated_runner"] = True
                built = ctx.ledger.record(binary, ArtifactKind.BINARY, target=name, facts=facts)
                # The onefile payload's libraries are readable only here: their inspection is
                # carried to the inspect stage with the digest of the bytes it describes.
                payload = result.binary.parent / f"{package.name}.dist"
                if payload.is_dir():
                    facts, _ = inspection.inspect(binary, target, payload)
                    ctx.ledger.update_facts(built.id, {"inspection": {**facts, "sha256": built.sha256}})
            ctx.ledger.record(report, ArtifactKind.BUILD_REPORT, target=name, relations={"report_of": [built.id]})
            ctx.reporter.note(f"{target.name}: {binary.relative_to(ctx.dist_dir)} ({built.size:,} bytes)")


class UniversalStage(Stage):
    name = "universal"
    description = "merge the thin macOS builds (arm64, x86_64) into darwin-universal"
    consumes = (ArtifactKind.BINARY,)

    def skip(self, ctx: Context) -> str | None:
        universal = targets.get("darwin-universal")
        if universal.name not in ctx.settings.targets:
            return "darwin-universal is not a target of this release"
        missing = [t for t in universal.merged_from if not ctx.ledger.by_kind(ArtifactKind.BINARY, target=t)]
        if missing:
            return f"waiting for the thin builds of {', '.join(missing)} (`invoke collect`)"
        return None

    def run(self, ctx: Context) -> None:
        universal = targets.get("darwin-universal")
        thin = [ctx.ledger.by_kind(ArtifactKind.BINARY, target=t)[0] for t in universal.merged_from]
        for artifact in thin:
            if not ctx.ledger.verify_file(artifact):
                raise CheckFailed(f"{artifact.path}: differs from its ledger record; collect it again")
        dest = ctx.dist_dir / universal.name / binary_name(ctx, universal)
        made = macho.make_universal([ctx.ledger.file(a) for a in thin], dest)
        archives.ensure_executable(dest)
        facts = {"merged_from": {a.target: a.sha256 for a in thin}, "archs": list(made.archs)}
        # No build report of its own: `merged_from` leads to the thin builds' reports.
        recorded = ctx.ledger.record(
            dest,
            ArtifactKind.BINARY,
            target=universal.name,
            relations={"merged_from": [a.id for a in thin]},
            facts=facts,
        )
        ctx.reporter.note(f"{recorded.path}: {'+'.join(made.archs)} ({recorded.size:,} bytes)")


class InspectStage(Stage):
    name = "inspect"
    description = "read each binary's facts and check them against its target"
    consumes = (ArtifactKind.BINARY,)

    def run(self, ctx: Context) -> None:
        refused: list[str] = []
        host_glibc = simulated_host_glibc()
        for artifact in sorted(ctx.ledger.by_kind(ArtifactKind.BINARY), key=lambda a: a.id):
            if artifact.target is None:
                continue
            target = targets.get(artifact.target)
            # The onefile payload was seen only by the build (here or on its runner): that
            # inspection of the same bytes (recorded with their digest) carries its floor.
            earlier = artifact.facts.get("inspection")
            carried = earlier if isinstance(earlier, dict) and earlier.get("sha256") == artifact.sha256 else None
            facts, findings = inspection.inspect(
                ctx.ledger.file(artifact), target, None, carried, ctx.settings.build.hardening
            )
            facts["sha256"] = artifact.sha256
            for finding in findings:
                if ctx.snapshot and finding.check in inspection.WAIVABLE_IN_SNAPSHOT:
                    ctx.reporter.warn(f"{artifact.path}: {finding.message} (snapshot: recorded, not refused)")
                elif host_glibc and finding.check == "glibc-floor" and _within(facts.get("glibc_floor"), host_glibc):
                    ctx.reporter.warn(
                        f"{artifact.path}: {finding.message} (simulated runner: within this host's glibc "
                        f"{host_glibc}, which plays the image)"
                    )
                else:
                    refused.append(f"{artifact.path}: {finding.message}")
            facts["checks"] = {c: "failed" if any(f.check == c for f in findings) else "passed" for c in target.checks}
            ctx.ledger.update_facts(artifact.id, {"inspection": facts})
        if refused:
            # Every wrong binary at once: a CI matrix that went wrong goes wrong for several.
            raise CheckFailed("; ".join(refused))
        ctx.reporter.note(f"{len(ctx.ledger.by_kind(ArtifactKind.BINARY))} binaries match their targets")


class SmokeStage(Stage):
    name = "smoke"
    description = "run each binary built here: --version, then the configured handshake and commands"
    consumes = (ArtifactKind.BINARY,)

    def skip(self, ctx: Context) -> str | None:
        return None if ctx.build_targets else "no binary of this machine's target to run"

    def fingerprint(self, ctx: Context) -> str:
        return repr(ctx.settings.smoke)

    def run(self, ctx: Context) -> None:
        checks = ctx.settings.smoke
        for name in ctx.build_targets:
            for artifact in ctx.ledger.by_kind(ArtifactKind.BINARY, target=name):
                if artifact.facts.get("prebuilt"):
                    # another machine's binary, handed over by the simulation: it cannot run here
                    ctx.reporter.warn(f"{artifact.path}: prebuilt for {name}; not run on this machine")
                    continue
                result = smoke.smoke(ctx.ledger.file(artifact), ctx.ledger.version, checks)
                ctx.ledger.update_facts(artifact.id, {"smoke": result})
                done = ["handshake ok"] if checks.handshake else []
                done += [f"{len(checks.commands)} commands ok"] if checks.commands else []
                ctx.reporter.note(f"{artifact.path}: {result['version_output']}" + "".join(f"; {d}" for d in done))


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
                dest,
                ArtifactKind.ARCHIVE,
                target=target.name,
                relations={"archive_of": [artifact.id]},
                facts={"format": target.archive},
            )
