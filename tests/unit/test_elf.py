"""ELF inspection against binaries compiled here by gcc, with floors we choose."""

from __future__ import annotations

import random
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from opencode_release.build.inspection import elf
from opencode_release.core.errors import CheckFailed
from tests.binaries import STATX_SOURCE

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


@pytest.mark.parametrize(
    ("zig_target", "arch", "loader"),
    [
        ("arm-linux-gnueabihf.2.28", "arm", "/lib/ld-linux-armhf.so.3"),  # ELF32, little-endian
        ("s390x-linux-gnu.2.28", "s390", "/lib/ld64.so.1"),  # ELF64, big-endian (statx: glibc 2.28)
    ],
)
def test_other_word_sizes_and_byte_orders(tmp_path: Path, zig_target: str, arch: str, loader: str) -> None:
    source = tmp_path / "statx.c"
    source.write_text(STATX_SOURCE)
    out = tmp_path / zig_target
    subprocess.run(
        [sys.executable, "-m", "ziglang", "cc", "-target", zig_target, "-Os", "-s", "-o", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    facts = elf.inspect(out)
    assert (facts.arch, facts.interpreter, facts.needed) == (arch, loader, ("libc.so.6",))
    # statx arrived in glibc 2.28 on every architecture.
    assert (facts.glibc_floor, facts.floor_symbol) == ("2.28", "statx@GLIBC_2.28")


def test_truncated_elf_is_refused_with_its_path(tmp_path: Path) -> None:
    whole = _compile(tmp_path, "plain", PLAIN).read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(whole[:200])  # the header survives; the tables it points at do not
    with pytest.raises(CheckFailed, match="cut: not a readable ELF file"):
        elf.inspect(cut)


def test_agrees_with_pyelftools_on_real_shared_objects(built_product: Path) -> None:
    """Differential check against an independent parser, over ~40 real shared objects and the onefile.

    The onefile's unpacked payload no longer outlives the build (its work folder is temporary),
    so the shared objects are the build host's own: the libraries a payload is made of."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
    from elftools.elf.sections import SymbolTableSection

    host = Path(sysconfig.get_config_var("LIBDIR") or "/usr/lib")
    libraries = sorted({*host.glob("lib*.so*"), *Path("/usr/lib/x86_64-linux-gnu").glob("lib*.so.*")})
    onefile = next((built_product.parent / "dist").glob("*/linux-x86_64-gnu/opencode"))
    files = [onefile, *[f for f in libraries if f.is_file() and not f.is_symlink() and elf.is_elf(f)][:40]]
    assert len(files) >= 10
    for file in files:
        facts = elf.inspect(file)
        with file.open("rb") as handle:
            other = ELFFile(handle)
            needed = tuple(
                str(getattr(t, "needed", ""))
                for s in other.iter_sections()
                if isinstance(s, DynamicSection)
                for t in s.iter_tags()
                if t.entry.d_tag == "DT_NEEDED"
            )
            verneed, versym = other.get_section_by_name(".gnu.version_r"), other.get_section_by_name(".gnu.version")
            dynsym = other.get_section_by_name(".dynsym")
            floors: dict[tuple[int, ...], set[tuple[str, str]]] = {}
            if (
                isinstance(verneed, GNUVerNeedSection)
                and isinstance(versym, GNUVerSymSection)
                and isinstance(dynsym, SymbolTableSection)
            ):
                names = {
                    aux["vna_other"]: aux.name
                    for _, auxes in verneed.iter_versions()
                    for aux in auxes
                    if aux.name.startswith("GLIBC_") and aux.name[6:7].isdigit()
                }
                for index, symbol in enumerate(dynsym.iter_symbols()):
                    ndx = versym.get_symbol(index)["ndx"]
                    if isinstance(ndx, int) and ndx in names:
                        key = elf.version_tuple(names[ndx][6:])
                        floors.setdefault(key, set()).add((symbol.name, names[ndx]))
        assert facts.needed == needed, file.name
        if floors:
            top = max(floors)
            assert facts.glibc_floor == ".".join(map(str, top)), file.name
            assert facts.floor_symbol == "@".join(min(floors[top])), file.name
        else:
            assert facts.floor_symbol is None, file.name


def test_corrupt_files_give_facts_or_a_clear_refusal(tmp_path: Path) -> None:
    """Binaries come back from CI runners: no corruption may crash or hang the reader."""
    whole = bytearray(_compile(tmp_path, "plain", PLAIN).read_bytes())
    rng = random.Random(7)
    target = tmp_path / "corrupt"
    refused = 0
    for attempt in range(1000):
        damaged = bytearray(whole)
        # Half the time only the first 4 KiB, where the headers and their offsets live.
        reach = len(damaged) if attempt % 2 else 4096
        for _ in range(rng.randint(1, 16)):
            damaged[rng.randrange(reach)] = rng.randrange(256)
        target.write_bytes(bytes(damaged))
        try:
            assert isinstance(elf.inspect(target), elf.ElfFacts)
        except CheckFailed as exc:
            assert str(exc).startswith(f"{target}: not a readable ELF file: ")
            refused += 1
    assert refused > 0
