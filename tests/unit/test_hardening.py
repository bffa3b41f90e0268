"""The hardening read from a binary agrees with binutils' readelf and llvm-readobj, on binaries built with and
without each feature by real toolchains (gcc, lld-link, ld64.lld); a required feature a binary lacks refuses it."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from opencode_release.build import targets
from opencode_release.build.inspection import hardening, inspect, macho, pe
from opencode_release.core import config_build
from opencode_release.core.errors import CheckFailed

pytestmark = pytest.mark.integration

_C = (
    "#include <stdio.h>\n#include <string.h>\n"
    'int main(int argc, char **argv) { char b[64]; strcpy(b, argc > 1 ? argv[1] : "x"); printf("%s\\n", b); '
    "return 0; }\n"
)
_HARD = ["-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIE", "-pie", "-Wl,-z,relro,-z,now"]
_SOFT = ["-O0", "-fno-stack-protector", "-fno-PIE", "-no-pie", "-Wl,-z,norelro", "-Wl,-z,execstack"]
_PARTIAL = ["-O2", "-fPIE", "-pie", "-Wl,-z,relro,-z,lazy"]


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def elves(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("hardening")
    (work / "main.c").write_text(_C)
    made = {}
    for name, flags in (("hard", _HARD), ("soft", _SOFT), ("partial", _PARTIAL), ("static", ["-O2", "-static"])):
        made[name] = work / name
        _run("gcc", *flags, "-o", str(made[name]), str(work / "main.c"))
    return made


def _readelf(path: Path) -> dict[str, bool]:
    """The same features as binutils' readelf shows them (an implementation of its own, independent of ours)."""
    header, program, dynamic = (_run("readelf", "-W", flag, str(path)) for flag in ("-h", "-l", "-d"))
    symbols = _run("readelf", "-W", "--dyn-syms", str(path))
    stack = re.search(r"GNU_STACK\s+(?:\S+\s+){5}(\S+)", program)
    relro = "GNU_RELRO" in program
    return {
        "pie": "DYN (Position-Independent Executable file)" in header,
        "nx": stack is not None and "E" not in stack.group(1),
        "relro": relro,
        "full-relro": relro and ("BIND_NOW" in dynamic or re.search(r"FLAGS_1\).*\bNOW\b", dynamic) is not None),
        "stack-protector": re.search(r"UND __stack_chk_fail\b", symbols) is not None,
        "fortify": re.search(r"UND __\w+_chk\b", symbols.replace("__stack_chk_fail", "")) is not None,
    }


@pytest.mark.parametrize("name", ["hard", "soft", "partial"])
def test_elf_hardening_agrees_with_readelf(elves: dict[str, Path], name: str) -> None:
    ours = hardening.elf(elves[name])
    assert {k: ours[k] for k in _readelf(elves[name])} == _readelf(elves[name])


def test_the_built_variants_differ_in_every_elf_feature(elves: dict[str, Path]) -> None:
    hard, soft = hardening.elf(elves["hard"]), hardening.elf(elves["soft"])
    for name in ("pie", "nx", "relro", "full-relro", "stack-protector", "fortify"):
        assert hard[name] is True and soft[name] is False, name
    assert hardening.elf(elves["partial"])["relro"] is True
    assert hardening.elf(elves["partial"])["full-relro"] is False


def test_a_static_binary_does_not_show_its_stack_protector_and_is_refused_when_one_is_required(
    elves: dict[str, Path],
) -> None:
    facts, findings = inspect(elves["static"], targets.get("linux-x86_64-gnu"), required=("stack-protector",))
    assert facts["hardening"]["stack-protector"] == hardening.UNKNOWN
    assert [(f.check, f.message) for f in findings if f.check == "hardening"] == [
        (
            "hardening",
            "static lacks stack-protector (unknown), which build.hardening requires; build with the compiler and "
            "linker options that give it, or leave it out of build.hardening",
        )
    ]


@pytest.mark.parametrize("feature", ["pie", "nx", "full-relro", "stack-protector", "fortify"])
def test_a_binary_without_a_required_feature_is_refused(elves: dict[str, Path], feature: str) -> None:
    target = targets.get("linux-x86_64-gnu")
    facts, findings = inspect(elves["soft"], target, required=(feature,))
    assert [f.check for f in findings if f.check == "hardening"] == ["hardening"]
    assert f"soft lacks {feature}," in next(f.message for f in findings if f.check == "hardening")
    assert facts["hardening_required"] == [feature]
    _, fine = inspect(elves["hard"], target, required=(feature,))
    assert [f for f in fine if f.check == "hardening"] == []


def _pe(work: Path, name: str, *options: str) -> Path:
    (work / "w.s").write_text(".globl main\nmain:\n  xorl %eax, %eax\n  retq\n")
    _run("llvm-mc", "-triple=x86_64-pc-windows-msvc", "-filetype=obj", str(work / "w.s"), "-o", str(work / "w.o"))
    out = work / f"{name}.exe"
    _run("lld-link", "/subsystem:console", "/entry:main", "/machine:x64", *options, f"/out:{out}", str(work / "w.o"))
    return out


@pytest.mark.parametrize(
    "options", [(), ("/dynamicbase:no", "/nxcompat:no", "/highentropyva:no"), ("/guard:cf",)], ids=str
)
def test_pe_hardening_agrees_with_llvm_readobj(tmp_path: Path, options: tuple[str, ...]) -> None:
    binary = _pe(tmp_path, "tool", *options)
    shown = _run("llvm-readobj", "--file-headers", str(binary))
    ours = hardening.pe_features(pe.inspect(binary))
    assert ours["pie"] == ("IMAGE_DLL_CHARACTERISTICS_DYNAMIC_BASE" in shown)
    assert ours["nx"] == ("IMAGE_DLL_CHARACTERISTICS_NX_COMPAT" in shown)
    assert ours["high-entropy-va"] == ("IMAGE_DLL_CHARACTERISTICS_HIGH_ENTROPY_VA" in shown)
    assert ours["cfg"] == ("IMAGE_DLL_CHARACTERISTICS_GUARD_CF" in shown)
    assert ours["relro"] is None  # an ELF feature: not asked of a PE
    assert ours["pie"] is (not options or options == ("/guard:cf",))
    assert ours["cfg"] is (options == ("/guard:cf",))  # lld-link marks CFG only when asked


@pytest.mark.parametrize("options", [(), ("-no_pie",)], ids=str)
def test_macho_hardening_agrees_with_llvm_readobj(tmp_path: Path, options: tuple[str, ...]) -> None:
    (tmp_path / "m.s").write_text(".globl _main\n_main:\n  xorl %eax, %eax\n  retq\n")
    obj, out = tmp_path / "m.o", tmp_path / "tool"
    _run("llvm-mc", "-triple=x86_64-apple-macos12.0", "-filetype=obj", str(tmp_path / "m.s"), "-o", str(obj))
    _run("ld64.lld-14", "-arch", "x86_64", "-platform_version", "macos", "12.0", "12.0", "-e", "_main", *options,
         "-o", str(out), str(obj))  # fmt: skip
    shown = _run("llvm-readobj", "--file-headers", str(out))
    ours = hardening.macho_features(macho.inspect(out))
    assert ours["pie"] == ("MH_PIE" in shown) == (not options)
    assert ours["nx"] == ("MH_ALLOW_STACK_EXECUTION" not in shown)
    _facts, findings = inspect(out, targets.get("darwin-x86_64"), required=("pie",))
    assert [f.check for f in findings if f.check == "hardening"] == ([] if not options else ["hardening"])


def test_the_settings_name_exactly_the_features_the_inspector_reads() -> None:
    assert config_build.HARDENING_FEATURES == hardening.FEATURES


def test_the_onefile_program_seen_at_build_time_is_held_to_the_same_requirement(elves: dict[str, Path]) -> None:
    # The payload is gone after the build job: its program's mitigations come with the carried inspection.
    carried = {"payload_hardening": {"opencode.bin": hardening.elf(elves["soft"])}}
    facts, findings = inspect(elves["hard"], targets.get("linux-x86_64-gnu"), None, carried, ("nx",))
    assert facts["payload_hardening"] == carried["payload_hardening"]
    assert [f.message for f in findings if f.check == "hardening"] == [
        "opencode.bin (in the onefile payload) lacks nx, which build.hardening requires; build with the compiler "
        "and linker options that give it, or leave it out of build.hardening"
    ]


def test_a_cut_elf_file_is_one_line_naming_it(tmp_path: Path, elves: dict[str, Path]) -> None:
    cut = tmp_path / "cut"
    cut.write_bytes(elves["hard"].read_bytes()[:100])
    with pytest.raises(CheckFailed, match=r"cut: its hardening cannot be read \(not a readable ELF file: "):
        hardening.elf(cut)


def test_an_elf_without_section_headers_is_read_from_its_dynamic_segment(
    tmp_path: Path, elves: dict[str, Path]
) -> None:
    # A binary stripped of its section headers (sstrip) still has PT_DYNAMIC: BIND_NOW is read from there, and
    # with no .dynsym to read imports from, what needs them is unknown rather than guessed.
    headless = tmp_path / "headless"
    data = bytearray(elves["hard"].read_bytes())
    struct.pack_into("<Q", data, 0x28, 0)  # e_shoff
    struct.pack_into("<HH", data, 0x3C, 0, 0)  # e_shnum, e_shstrndx
    headless.write_bytes(bytes(data))
    assert "There are no sections" in _run("readelf", "-W", "-S", str(headless))
    ours = hardening.elf(headless)
    shown = _readelf(headless)
    assert {k: ours[k] for k in ("pie", "nx", "relro", "full-relro")} == {
        k: shown[k] for k in ("pie", "nx", "relro", "full-relro")
    }
    assert ours["full-relro"] is True
    assert ours["stack-protector"] == ours["fortify"] == hardening.UNKNOWN


def _macho(work: Path, arch: str, allow_stack_execution: bool) -> Path:
    (work / "m.s").write_text(".globl _main\n_main:\n  ret\n")
    obj, out = work / f"{arch}.o", work / f"{arch}-{allow_stack_execution}"
    _run("llvm-mc", f"-triple={arch}-apple-macos12.0", "-filetype=obj", str(work / "m.s"), "-o", str(obj))
    _run("ld64.lld-14", "-arch", arch, "-platform_version", "macos", "12.0", "12.0", "-e", "_main",
         "-o", str(out), str(obj))  # fmt: skip
    if allow_stack_execution:  # ld64.lld does not implement -allow_stack_execute: set the header's bit as ld64 does
        data = bytearray(out.read_bytes())
        (flags,) = struct.unpack_from("<I", data, 24)
        struct.pack_into("<I", data, 24, flags | 0x20000)
        out.write_bytes(bytes(data))
    return out


def test_a_macho_slice_allowing_stack_execution_lacks_nx_for_the_universal_binary(tmp_path: Path) -> None:
    flagged = _macho(tmp_path, "x86_64", allow_stack_execution=True)
    assert "MH_ALLOW_STACK_EXECUTION" in _run("llvm-readobj", "--file-headers", str(flagged))
    assert hardening.macho_features(macho.inspect(flagged))["nx"] is False
    universal = tmp_path / "universal"
    clean = _macho(tmp_path, "arm64", allow_stack_execution=False)
    _run("llvm-lipo-14", "-create", str(flagged), str(clean), "-output", str(universal))
    assert hardening.macho_features(macho.inspect(clean))["nx"] is True
    assert hardening.macho_features(macho.inspect(universal))["nx"] is False  # one slice is enough to lack it
    _facts, findings = inspect(universal, targets.get("darwin-universal"), required=("nx",))
    assert [f.check for f in findings if f.check == "hardening"] == ["hardening"]
