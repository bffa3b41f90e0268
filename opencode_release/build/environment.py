"""The product's own build environment: a virtual environment per product and target.

It holds exactly what the product needs at run time: its lock file (pip
requirements, hashes allowed) when it has one, else its declared
`[project].dependencies`, and nothing of the pipeline's own packages. Nuitka
compiles inside it (its interpreter, its site-packages), with only the
compiler itself (and the compressor it uses) on PYTHONPATH, so a package the
pipeline happens to have installed never slips into a binary or its SBOM.
Environments are kept by a digest of what went in, in the state folder.

What each installed distribution declares about itself (license, home page, the archive's
hashes pip recorded) is read inside the environment and recorded with it, so the SBOM
describes the distributions that were compiled in, not the pipeline's copies of them.
pip and venv run with the documented allowlist (core/environment.py), never the caller's
environment: a PIP_* variable, PIP_CONFIG_FILE or PYTHONPATH there would change what is
installed (or run code in pip). pip still reads the machine's and the user's pip
configuration files (/etc/pip.conf, ~/.config/pip/pip.conf), where an index belongs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import Settings
from ..core.environment import minimal
from ..core.errors import StageError

# The compiler's own packages, made importable next to (not inside) the environment.
COMPILER_PACKAGES = ("nuitka", "zstandard")
# Run inside the environment (-I): each distribution's name, version and the metadata fields an
# SBOM reads; a `License` that is the whole license text is not worth recording.
_LIST_PACKAGES = """
import importlib.metadata as m, json
FIELDS = ("License-Expression", "License", "Classifier", "Home-page", "Project-URL")
found = {}
for d in m.distributions():
    meta = d.metadata
    if not meta["Name"] or meta["Name"] in found:  # the first on the path is the one imported
        continue
    fields = {f: [str(v) for v in meta.get_all(f) or []] for f in FIELDS}
    fields["Classifier"] = [c for c in fields["Classifier"] if c.startswith("License ::")]
    fields["License"] = [v for v in fields["License"] if "\\n" not in v.strip() and len(v) <= 200]
    found[meta["Name"]] = {
        "version": d.version,
        "metadata": {f: v for f, v in fields.items() if v},
        "direct_url": d.read_text("direct_url.json") or "",
    }
print(json.dumps(sorted((name, info) for name, info in found.items())))
"""
# Bumped when what an environment's record holds changes: older records are remade.
_RECORD_FORMAT = b"environment-record/2"
# pip's own settings, set rather than inherited (the caller's PIP_* never reach pip).
_PIP_SETTINGS = {"PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@dataclass(frozen=True, slots=True)
class BuildEnvironment:
    python: Path  # the environment's interpreter: Nuitka runs on it
    compiler_path: Path  # a folder holding only the compiler's packages (PYTHONPATH)
    source: str  # what it was made from: the lock file's name or "[project].dependencies"
    requirements: bytes  # those exact bytes
    packages: tuple[tuple[str, str], ...]  # (name, version) installed in it
    # name -> {"metadata": {field: [values]}, "direct_url": text}: what each declares about itself
    declared: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False)

    def lock_text(self) -> bytes:
        """What is installed, one `name==version` a line: the lock the provenance and SBOM record."""
        return "".join(f"{name}=={version}\n" for name, version in self.packages).encode()

    def facts(self) -> dict[str, object]:
        return {
            "source": self.source,
            "requirements_sha256": hashlib.sha256(self.requirements).hexdigest(),
            "packages": [{"name": n, "version": v, **self.declared.get(n, {})} for n, v in self.packages],
        }


def requirements_of(settings: Settings) -> tuple[bytes, str]:
    lock = settings.path(settings.build.lock) if settings.build.lock else None
    if lock is not None and lock.is_file():
        return lock.read_bytes(), settings.build.lock
    return "".join(f"{d}\n" for d in settings.dependencies).encode(), "[project].dependencies"


def _interpreter(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _compiler_path(state_dir: Path) -> Path:
    """Links to the pipeline's compiler packages, and nothing else."""
    folder = state_dir / "build-envs" / "compiler"
    folder.mkdir(parents=True, exist_ok=True)
    for name in COMPILER_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise StageError(f"build environment: the compiler package {name} is not installed; run ./setup.sh")
        target = Path(next(iter(spec.submodule_search_locations)))
        link = folder / name
        if link.is_symlink() and link.resolve() != target.resolve():
            link.unlink()
        if not link.exists():
            link.symlink_to(target, target_is_directory=True)
    return folder


def ensure(settings: Settings, target: str, state_dir: Path) -> BuildEnvironment:
    """The environment for `target`: reused when the same requirements made it, created otherwise."""
    requirements, source = requirements_of(settings)
    key_parts = [requirements, sys.version.encode(), target.encode(), _RECORD_FORMAT]
    key = hashlib.sha256(b"\0".join(key_parts)).hexdigest()[:16]
    folder = state_dir / "build-envs" / f"{settings.name}-{target}-{key}"
    record = folder / "opencode-release-environment.json"
    compiler = _compiler_path(state_dir)
    if record.is_file():
        data = json.loads(record.read_text(encoding="utf-8"))
        return _made(folder, compiler, source, requirements, data["packages"])
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _run([sys.executable, "-m", "venv", "--without-pip", str(partial)], "create the virtual environment")
    if requirements.strip():
        wanted = partial / "requirements.txt"
        wanted.write_bytes(requirements)
        command = [sys.executable, "-m", "pip", "--python", str(_interpreter(partial)), "install", "--no-input"]
        command += ["--disable-pip-version-check", "-q", "-r", str(wanted)]
        if b"--hash" in requirements:
            command += ["--require-hashes", "--no-deps"]  # a lock pins everything: install exactly it
        _run(command, f"install {source} ({settings.source_file})")
    listed = json.loads(_run([str(_interpreter(partial)), "-I", "-c", _LIST_PACKAGES], "list what it holds"))
    record_text = json.dumps({"source": source, "packages": listed}, indent=2) + "\n"
    (partial / record.name).write_text(record_text, encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)  # a venv finds its site-packages relative to its interpreter: moving it is safe
    return _made(folder, compiler, source, requirements, listed)


def _made(folder: Path, compiler: Path, source: str, requirements: bytes, listed: Any) -> BuildEnvironment:
    packages = tuple((str(name), str(info["version"])) for name, info in listed)
    declared = {
        str(name): {"metadata": info.get("metadata", {}), "direct_url": info.get("direct_url", "")}
        for name, info in listed
    }
    return BuildEnvironment(_interpreter(folder), compiler, source, requirements, packages, declared)


def _run(command: list[str], what: str) -> str:
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        env=minimal(set_=_PIP_SETTINGS),
    )
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise StageError(f"build environment: could not {what}: {tail}")
    return proc.stdout
