"""Real binaries for every target, made by real toolchains during the test run.

- Mach-O thin arm64 and x86_64: `llvm-mc` + `ld64.lld-14` (apt `lld`), with an
  LC_BUILD_VERSION from `-platform_version macos` and ld64.lld's ad-hoc code
  signature (default on arm64, `-adhoc_codesign` on x86_64).
- PE x64 and arm64: `llvm-mc` + `lld-link`, console subsystem (and a GUI one).
- ELF gnu: `zig cc` (PyPI `ziglang`, pinned) against glibc 2.28 calling
  `statx`, which glibc added in 2.28, so the floor is exactly 2.28; and
  against glibc 2.34, whose `__libc_start_main@GLIBC_2.34` is a known too-new floor.
- ELF musl: x86_64 static with zig's musl; aarch64 dynamic, with musl's loader
  as interpreter, linked by `ld.lld` against a small libc.so stub.

Built once per test run and shared by the xdist workers (a lock, as for the
Nuitka build in conftest); the tests only read them.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

_MAC_ARM64 = ".globl _main\n.p2align 2\n_main:\n  mov w0, #0\n  ret\n"
_MAC_X86_64 = ".globl _main\n_main:\n  xorl %eax, %eax\n  retq\n"
_WIN_X86_64 = ".globl main\nmain:\n  xorl %eax, %eax\n  retq\n"
_WIN_ARM64 = ".globl main\nmain:\n  mov w0, #0\n  ret\n"
STATX_SOURCE = r"""#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
int main(int argc, char **argv) {
  struct statx sx;
  (void)argc;
  printf("%d\n", statx(AT_FDCWD, argv[0], 0, STATX_SIZE, &sx));
  return 0;
}
"""
_HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
_STUB_LIBC = ".globl puts\n.type puts,@function\nputs:\n  ret\n"
_MUSL_MAIN = ".globl _start\n_start:\n  bl puts\n  mov x8, #93\n  mov x0, #0\n  svc #0\n"


def _run(*cmd: str, cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")


def _asm(work: Path, name: str, triple: str, text: str) -> Path:
    source = work / f"{name}.s"
    source.write_text(text)
    obj = work / f"{name}.o"
    _run("llvm-mc", f"-triple={triple}", "-filetype=obj", str(source), "-o", str(obj), cwd=work)
    return obj


def _macho(work: Path, out: Path, arch: str, minos: str = "12.0", sign: bool = True) -> None:
    triple = {"arm64": "arm64-apple-macos", "x86_64": "x86_64-apple-macos"}[arch] + minos
    obj = _asm(work, f"mac-{arch}-{minos}", triple, _MAC_ARM64 if arch == "arm64" else _MAC_X86_64)
    # arm64 is signed ad hoc by default (the kernel runs nothing unsigned there).
    signing = ["-adhoc_codesign"] if sign else ["-no_adhoc_codesign"]
    _run(
        "ld64.lld-14",
        "-arch",
        arch,
        "-platform_version",
        "macos",
        minos,
        minos,
        "-e",
        "_main",
        *signing,
        "-o",
        str(out),
        str(obj),
        cwd=work,
    )


def _pe(work: Path, out: Path, arch: str, subsystem: str = "console") -> None:
    triple, machine, text = {
        "x86_64": ("x86_64-pc-windows-msvc", "x64", _WIN_X86_64),
        "arm64": ("aarch64-pc-windows-msvc", "arm64", _WIN_ARM64),
    }[arch]
    obj = _asm(work, f"win-{arch}", triple, text)
    _run("lld-link", f"/subsystem:{subsystem}", "/entry:main", f"/machine:{machine}", f"/out:{out}", str(obj), cwd=work)


def _zig(work: Path, out: Path, target: str, source: str) -> None:
    c_file = work / f"{out.name}.c"
    c_file.write_text(source)
    _run(sys.executable, "-m", "ziglang", "cc", "-target", target, "-Os", "-s", "-o", str(out), str(c_file), cwd=work)


def _musl_dynamic(work: Path, out: Path) -> None:
    stub = _asm(work, "libc-stub", "aarch64-linux-musl", _STUB_LIBC)
    libc = work / "libc.so"
    _run("ld.lld", "-shared", "-soname", "libc.so", "-o", str(libc), str(stub), cwd=work)
    main = _asm(work, "musl-main", "aarch64-linux-musl", _MUSL_MAIN)
    _run("ld.lld", "--dynamic-linker", "/lib/ld-musl-aarch64.so.1", "-o", str(out), str(main), str(libc), cwd=work)


RECIPES: dict[str, Callable[[Path, Path], None]] = {
    "macho-arm64": lambda w, o: _macho(w, o, "arm64"),
    "macho-x86_64": lambda w, o: _macho(w, o, "x86_64"),
    "macho-x86_64-macos11": lambda w, o: _macho(w, o, "x86_64", minos="11.0"),
    "macho-arm64-unsigned": lambda w, o: _macho(w, o, "arm64", sign=False),
    "pe-x86_64": lambda w, o: _pe(w, o, "x86_64"),
    "pe-arm64": lambda w, o: _pe(w, o, "arm64"),
    "pe-x86_64-gui": lambda w, o: _pe(w, o, "x86_64", "windows"),
    "elf-x86_64-gnu-2.28": lambda w, o: _zig(w, o, "x86_64-linux-gnu.2.28", STATX_SOURCE),
    "elf-aarch64-gnu-2.28": lambda w, o: _zig(w, o, "aarch64-linux-gnu.2.28", STATX_SOURCE),
    "elf-x86_64-gnu-2.34": lambda w, o: _zig(w, o, "x86_64-linux-gnu.2.34", _HELLO),
    "elf-x86_64-musl-static": lambda w, o: _zig(w, o, "x86_64-linux-musl", _HELLO),
    "elf-aarch64-musl-dynamic": lambda w, o: _musl_dynamic(w, o),
}

# The binary each target's fixture release uses (darwin-universal is merged).
FOR_TARGET = {
    "darwin-arm64": "macho-arm64",
    "darwin-x86_64": "macho-x86_64",
    "windows-x86_64": "pe-x86_64",
    "windows-arm64": "pe-arm64",
    "linux-x86_64-gnu": "elf-x86_64-gnu-2.28",
    "linux-aarch64-gnu": "elf-aarch64-gnu-2.28",
    "linux-x86_64-musl": "elf-x86_64-musl-static",
    "linux-aarch64-musl": "elf-aarch64-musl-dynamic",
}


def build_all(root: Path) -> dict[str, Path]:
    """Build every recipe once under `root` (shared by workers); returns name -> file."""
    root.mkdir(parents=True, exist_ok=True)
    done = root / "binaries.json"
    with (root / "binaries.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            work = root / "work"
            work.mkdir(exist_ok=True)
            out = root / "bin"
            out.mkdir(exist_ok=True)
            for name, recipe in RECIPES.items():
                recipe(work, out / name)
            done.write_text(json.dumps(sorted(RECIPES)))
    return {name: root / "bin" / name for name in json.loads(done.read_text())}


def shared(factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(factory.getbasetemp().parent / "shared-binaries")


_OS_NAMES = {"darwin": "Darwin", "windows": "Windows", "linux": "Linux"}


def nuitka_like_report(target: str, os: str, arch: str, version: str = "1.4.0") -> str:
    """A minimal compilation report in Nuitka 4.3.3's shape, for a fixture built by another toolchain.

    It carries what later stages read from a real one (the SBOM: Python,
    compiler, the product's distribution, the root module); a real report of
    the host build is in the shared Nuitka fixture.
    """
    return f"""<?xml version='1.0' encoding='utf8'?>
<nuitka-compilation-report nuitka_version="4.3.3" nuitka_commercial_version="not installed" mode="onefile" \
completion="yes">
  <scons_environment c_compiler="clang" the_cc_name="clang" the_compiler="clang" />
  <module name="__main__" kind="PythonMainModule" usage="root_module" reason="Root module" \
source_path="${{cwd}}/src/opencode_cli/__main__.py">
    <distribution-usages>
      <distribution-usage name="opencode-cli" />
    </distribution-usages>
  </module>
  <module name="opencode_cli" kind="CompiledPythonPackage" usage="import path parent" \
reason="Instructed by user to follow to all modules." source_path="${{cwd}}/src/opencode_cli/__init__.py" \
distribution="opencode-cli">
  </module>
  <python python_exe="${{sys.prefix}}/bin/python" python_flavor="CPython Official" python_version="3.11.9" \
os_name="{_OS_NAMES[os]}" os_release="fixture" arch_name="{arch}" filesystem_encoding="utf-8">
  </python>
  <distributions>
    <distribution name="opencode-cli" version="{version}" installer="pip" />
  </distributions>
  <user-data>
    <target>{target}</target>
  </user-data>
</nuitka-compilation-report>
"""
