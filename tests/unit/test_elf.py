"""ELF inspection against binaries compiled here by gcc, with floors we choose."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from opencode_release.build import elf
from opencode_release.errors import CheckFailed

PLAIN = "int main(void) { return 0; }\n"
# arc4random arrived in glibc 2.36: calling it raises the floor to 2.36.
ARC4 = "#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 1); }\n"


def _compile(tmp_path: Path, name: str, source: str, *flags: str) -> Path:
    c_file = tmp_path / f"{name}.c"
    c_file.write_text(source)
    out = tmp_path / name
    subprocess.run(["gcc", "-O1", "-o", str(out), str(c_file), *flags], check=True)
    return out


def test_plain_program_floor_is_libc_start_main(tmp_path: Path) -> None:
    facts = elf.inspect(_compile(tmp_path, "plain", PLAIN))
    assert facts.arch == "x86_64"
    assert facts.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert facts.needed == ("libc.so.6",)
    assert facts.glibc_floor == "2.34"
    assert facts.floor_symbol == "__libc_start_main@GLIBC_2.34"
    assert not facts.static


def test_newer_symbol_raises_the_floor_and_is_named(tmp_path: Path) -> None:
    facts = elf.inspect(_compile(tmp_path, "arc4", ARC4))
    assert facts.glibc_floor == "2.36"
    assert facts.floor_symbol == "arc4random@GLIBC_2.36"


def test_static_program_has_no_floor(tmp_path: Path) -> None:
    facts = elf.inspect(_compile(tmp_path, "static", PLAIN, "-static"))
    assert facts.static and facts.interpreter is None and facts.glibc_floor is None


def test_shared_library_without_glibc_versions(tmp_path: Path) -> None:
    lib = _compile(tmp_path, "libx.so", "int f(int x) { return x + 1; }\n", "-shared", "-fPIC", "-nostdlib")
    facts = elf.inspect(lib)
    assert facts.glibc_floor is None and facts.needed == ()


def test_non_elf_is_refused_with_its_path(tmp_path: Path) -> None:
    bogus = tmp_path / "not-elf"
    bogus.write_bytes(b"MZ\x90\x00 a PE file perhaps")
    assert not elf.is_elf(bogus)
    with pytest.raises(CheckFailed, match="not-elf: not a readable ELF file"):
        elf.inspect(bogus)
