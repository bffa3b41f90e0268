"""The targets of the mission: where each builds and what its binary must be.

Nuitka cannot cross-compile, so every target names the native runner (and
container image) it builds on; this machine builds only the target it is.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from ..core.errors import TargetError


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    os: str  # linux | darwin | windows
    arch: str  # x86_64 | aarch64 | arm64 | universal
    libc: str | None  # gnu | musl | None
    runner: str  # GitHub Actions runner label
    container: str | None  # image the build runs in, for the Linux floors
    python: str  # how Python is provided on that runner (for people)
    archive: str  # tar.gz | zip
    binary_format: str  # elf | macho | pe
    # What InspectStage checks on this target's binary (see build/inspection.py).
    checks: tuple[str, ...] = ()
    # The most recent glibc the binary may require (gnu targets only).
    glibc_floor: str | None = None
    # The oldest macOS the binary must run on (LC_BUILD_VERSION minos).
    min_macos: str | None = None
    # darwin-universal is merged from thin builds, not compiled.
    merged_from: tuple[str, ...] = ()
    nuitka_options: tuple[str, ...] = ()
    # How CI gets Python: `actions/setup-python` with this architecture, or the
    # container's interpreter at this path.
    setup_python_arch: str | None = None
    python_exe: str | None = None
    # Shell lines run in the build job before the build (container preparation).
    prepare: tuple[str, ...] = ()

    @property
    def exe_suffix(self) -> str:
        return ".exe" if self.os == "windows" else ""

    @property
    def built_natively(self) -> bool:
        return not self.merged_from

    @property
    def binary_archs(self) -> tuple[str, ...]:
        """Architectures the binary must contain, as its format names them."""
        if self.merged_from:
            return tuple(sorted(TARGETS[t].binary_archs[0] for t in self.merged_from))
        return (self.arch,)

    @property
    def deb_arch(self) -> str | None:
        if self.os != "linux" or self.libc != "gnu":
            return None
        return {"x86_64": "amd64", "aarch64": "arm64"}[self.arch]


_MANYLINUX = "quay.io/pypa/manylinux_2_28_{arch}"
_MUSLLINUX = "quay.io/pypa/musllinux_1_2_{arch}"
_CONTAINER_PY = "/opt/python/cp311-cp311/bin/python3.11"
# manylinux ships libpython.a separately so that wheels never link it by accident;
# Nuitka's onefile wants it (static libpython), so the build unpacks it first.
_UNPACK_STATIC_LIBPYTHON = ("tar -C /opt/_internal -xf /opt/_internal/static-libs-for-embedding-only.tar.xz",)
_MACHO_CHECKS = ("format", "arch", "min-macos", "code-signature", "hardening")
_PE_CHECKS = ("format", "arch", "console-subsystem", "hardening")
_GNU_CHECKS = ("format", "arch", "glibc-floor", "hardening")
_MUSL_CHECKS = ("format", "arch", "no-glibc", "hardening")
# Nuitka signs ad hoc on macOS; the minimum is what the CPython build supports.
_MACOS_MIN = "12.0"

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "darwin-x86_64",
            "darwin",
            "x86_64",
            None,
            "macos-15-intel",
            None,
            "actions/setup-python 3.11 (x64)",
            "tar.gz",
            "macho",
            _MACHO_CHECKS,
            min_macos=_MACOS_MIN,
            nuitka_options=("--macos-target-arch=x86_64",),
            setup_python_arch="x64",
        ),
        Target(
            "darwin-arm64",
            "darwin",
            "arm64",
            None,
            "macos-14",
            None,
            "actions/setup-python 3.11 (arm64)",
            "tar.gz",
            "macho",
            _MACHO_CHECKS,
            min_macos=_MACOS_MIN,
            nuitka_options=("--macos-target-arch=arm64",),
            setup_python_arch="arm64",
        ),
        Target(
            "darwin-universal",
            "darwin",
            "universal",
            None,
            "ubuntu-24.04",
            None,
            "none: merged from the thin builds",
            "tar.gz",
            "macho",
            _MACHO_CHECKS,
            min_macos=_MACOS_MIN,
            merged_from=("darwin-arm64", "darwin-x86_64"),
        ),
        Target(
            "windows-x86_64",
            "windows",
            "x86_64",
            None,
            "windows-2022",
            None,
            "actions/setup-python 3.11 (x64)",
            "zip",
            "pe",
            _PE_CHECKS,
            nuitka_options=("--assume-yes-for-downloads",),
            setup_python_arch="x64",
        ),
        Target(
            "windows-arm64",
            "windows",
            "arm64",
            None,
            "windows-11-arm",
            None,
            "actions/setup-python 3.11 (arm64, native)",
            "zip",
            "pe",
            _PE_CHECKS,
            nuitka_options=("--assume-yes-for-downloads",),
            setup_python_arch="arm64",
        ),
        Target(
            "linux-x86_64-gnu",
            "linux",
            "x86_64",
            "gnu",
            "ubuntu-24.04",
            _MANYLINUX.format(arch="x86_64"),
            f"{_CONTAINER_PY} in manylinux_2_28 (static libpython unpacked)",
            "tar.gz",
            "elf",
            _GNU_CHECKS,
            glibc_floor="2.28",
            python_exe=_CONTAINER_PY,
            prepare=_UNPACK_STATIC_LIBPYTHON,
        ),
        Target(
            "linux-aarch64-gnu",
            "linux",
            "aarch64",
            "gnu",
            "ubuntu-24.04-arm",
            _MANYLINUX.format(arch="aarch64"),
            f"{_CONTAINER_PY} in manylinux_2_28 (static libpython unpacked)",
            "tar.gz",
            "elf",
            _GNU_CHECKS,
            glibc_floor="2.28",
            python_exe=_CONTAINER_PY,
            prepare=_UNPACK_STATIC_LIBPYTHON,
        ),
        Target(
            "linux-x86_64-musl",
            "linux",
            "x86_64",
            "musl",
            "ubuntu-24.04",
            _MUSLLINUX.format(arch="x86_64"),
            f"{_CONTAINER_PY} in musllinux_1_2 (Alpine)",
            "tar.gz",
            "elf",
            _MUSL_CHECKS,
            python_exe=_CONTAINER_PY,
        ),
        Target(
            "linux-aarch64-musl",
            "linux",
            "aarch64",
            "musl",
            "ubuntu-24.04-arm",
            _MUSLLINUX.format(arch="aarch64"),
            f"{_CONTAINER_PY} in musllinux_1_2 (Alpine)",
            "tar.gz",
            "elf",
            _MUSL_CHECKS,
            python_exe=_CONTAINER_PY,
        ),
    )
}


def get(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise TargetError(f"unknown target {name!r}; expected one of {', '.join(TARGETS)}") from None


def host() -> Target:
    """The target this machine builds natively."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(machine)
    if arch is None:
        raise TargetError(f"this machine's architecture {machine!r} is not a release target")
    if system == "linux":
        libc = "musl" if platform.libc_ver()[0] != "glibc" else "gnu"
        return TARGETS[f"linux-{arch}-{libc}"]
    if system == "darwin":
        return TARGETS["darwin-arm64" if arch == "aarch64" else "darwin-x86_64"]
    if system == "windows":
        return TARGETS[f"windows-{arch.replace('aarch64', 'arm64')}"]
    raise TargetError(f"this machine's system {system!r} is not a release target")


def check_buildable_here(name: str) -> Target:
    """The target, if this machine can build it; otherwise say where it builds."""
    target = get(name)
    here = host()
    if target.name == here.name:
        return target
    if target.merged_from:
        raise TargetError(
            f"target {name} is not compiled: it is merged from {' and '.join(target.merged_from)} "
            "by `invoke collect` after those builds come back"
        )
    where = f"runner {target.runner}" + (f" in container {target.container}" if target.container else "")
    raise TargetError(
        f"target {name} cannot be built on this {here.name} machine (Nuitka does not cross-compile); "
        f"it builds on the {where} of the generated CI workflow (`invoke ci --write`)"
    )
