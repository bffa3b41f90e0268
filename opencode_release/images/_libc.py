"""The C library a gnu image carries: the shared libraries of one Debian package of this machine.

dpkg says which files the package installed and at which version; only the
shared objects directly in a library folder (`/lib/<triplet>/libc.so.6`,
`/lib64/ld-linux-x86-64.so.2`, ...) are taken, each at the path dpkg lists it
under and with its content (a symlink's target's bytes), so the binary's
interpreter and its DT_NEEDED names resolve inside the image as on the host.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.environment import minimal
from ..core.errors import StageError, ToolMissingError
from .layout import RootFile

_LIBRARY = re.compile(r"/(usr/)?lib(64|32)?(/[a-z0-9_]+-linux-[a-z0-9_]+)?/[^/]+\.so(\.[0-9]+)*")


@dataclass(frozen=True, slots=True)
class Libc:
    package: str
    version: str
    architecture: str  # Debian's name, which for amd64 and arm64 is the OCI one too
    files: tuple[RootFile, ...]
    vendor: str = "debian"  # whose archive the package is from: the purl's namespace (CI's runners: ubuntu)

    def facts(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "architecture": self.architecture,
            "vendor": self.vendor,
            "purl": f"pkg:deb/{self.vendor}/{self.package}@{self.version}?arch={self.architecture}",
            "files": [f.path for f in self.files],
        }


def vendor(os_release: Path = Path("/etc/os-release")) -> str:
    """The distribution (os-release ID: debian, ubuntu, ...) whose package the image carries; debian if unsaid."""
    try:
        text = os_release.read_text(encoding="utf-8")
    except OSError:
        return "debian"
    found = re.search(r"^ID=\"?([a-z0-9._-]+)\"?$", text, re.M)
    return found.group(1) if found else "debian"


def _dpkg(*args: str, missing_ok: bool = False) -> str:
    """dpkg-query's answer; with missing_ok, "" for a package dpkg does not know (instead of refusing)."""
    tool = shutil.which(args[0])
    if tool is None:
        raise ToolMissingError(f"{args[0]}: not found; a gnu image takes its libc from this machine's Debian packages")
    done = subprocess.run([tool, *args[1:]], capture_output=True, text=True, check=False, env=minimal())
    if done.returncode != 0 and missing_ok:
        return ""
    if done.returncode != 0:
        raise StageError(f"{' '.join(args)}: {done.stderr.strip() or 'failed'}; is the package installed?")
    return done.stdout


def host_libc(package: str, architecture: str, interpreter: str | None, needed: list[str]) -> Libc:
    # PACKAGE:ARCH: a C library is Multi-Arch: same, so a machine may hold it for several architectures
    # (dpkg-query -W of the bare name then lists each); the image takes the one of its own.
    qualified = f"{package}:{architecture}"
    answer = _dpkg("dpkg-query", "-W", "-f=${db:Status-Status} ${Version} ${Architecture}", qualified, missing_ok=True)
    if len(answer.split()) != 3 or answer.split()[0] != "installed":
        raise StageError(
            f"images.libc-package {package}: not installed for {architecture} on this machine; build that image "
            f"where the package is installed for its architecture (apt-get install {qualified})"
        )
    _, version, found_arch = answer.split()
    if found_arch != architecture:
        raise StageError(
            f"images.libc-package {package}: this machine has it for {found_arch}, the image is {architecture}; "
            "build that image where the package is installed for its architecture"
        )
    files: dict[str, RootFile] = {}
    for line in _dpkg("dpkg-query", "-L", qualified).splitlines():
        path = Path(line.strip())
        if is_library(str(path)) and path.is_file():
            files[str(path)] = RootFile(str(path), path.read_bytes(), 0o755)
    libc = Libc(package, version, found_arch, tuple(files[p] for p in sorted(files)), vendor())
    check_holds(libc, interpreter, needed)
    return libc


def is_library(path: str) -> bool:
    """A shared object directly in a library folder: what an image's C library may consist of."""
    return _LIBRARY.fullmatch(path) is not None


def check_holds(libc: Libc, interpreter: str | None, needed: list[str]) -> None:
    """The package holds the binary's interpreter and every library it needs."""
    paths = {f.path for f in libc.files}
    names = {p.rsplit("/", 1)[-1] for p in paths}
    if interpreter and interpreter not in paths:
        raise StageError(
            f"images.libc-package {libc.package}: holds no {interpreter}, the binary's interpreter; name the "
            "package with the dynamic loader (libc6 for glibc)"
        )
    missing = sorted(n for n in needed if n not in names)
    if missing:
        raise StageError(f"images.libc-package {libc.package}: holds no {', '.join(missing)}, which the binary needs")
