"""Universal Mach-O merge, checked with llvm-lipo on thin binaries linked by ld64.lld."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from opencode_release.build.inspection import macho
from opencode_release.core.errors import CheckFailed
from tests import binaries

pytestmark = pytest.mark.integration
LIPO = "llvm-lipo-14"


@pytest.fixture(scope="session")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return binaries.shared(tmp_path_factory)


def _lipo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIPO, *args], capture_output=True, text=True, check=False)


def test_thin_facts_from_the_linker(bins: dict[str, Path]) -> None:
    arm = macho.inspect(bins["macho-arm64"])
    assert not arm.fat and arm.archs == ("arm64",)
    assert arm.slices[0].min_macos == "12.0" and arm.slices[0].code_signature
    assert macho.inspect(bins["macho-x86_64-macos11"]).slices[0].min_macos == "11.0"
    assert not macho.inspect(bins["macho-arm64-unsigned"]).slices[0].code_signature


def test_universal_passes_lipo_and_thins_back_to_the_original_bytes(bins: dict[str, Path], tmp_path: Path) -> None:
    fat = tmp_path / "opencode"
    facts = macho.make_universal([bins["macho-arm64"], bins["macho-x86_64"]], fat)
    assert facts.fat and facts.archs == ("x86_64", "arm64")
    info = _lipo("-info", str(fat))
    assert info.returncode == 0 and info.stdout.split(":")[-1].split() == ["x86_64", "arm64"]
    assert _lipo(str(fat), "-verify_arch", "arm64", "x86_64").returncode == 0
    assert _lipo(str(fat), "-verify_arch", "i386").returncode == 1
    for arch, original in (("arm64", "macho-arm64"), ("x86_64", "macho-x86_64")):
        thin = tmp_path / f"thin-{arch}"
        assert _lipo(str(fat), "-thin", arch, "-output", str(thin)).returncode == 0
        assert thin.read_bytes() == bins[original].read_bytes()
    # fat_arch records (big endian): cputype, subtype, offset, size, align (a power of two).
    records = [struct.unpack_from(">iIIII", fat.read_bytes(), 8 + 20 * i) for i in range(2)]
    assert [(r[0], r[4]) for r in records] == [(macho.CPU_TYPE_X86_64, 12), (macho.CPU_TYPE_ARM64, 14)]
    by_arch = {s.arch: s for s in facts.slices}
    assert by_arch["arm64"].offset % (1 << 14) == 0 and by_arch["x86_64"].offset % (1 << 12) == 0
    # Same bytes as llvm's own lipo makes from the same inputs.
    made = tmp_path / "by-lipo"
    assert _lipo("-create", str(bins["macho-arm64"]), str(bins["macho-x86_64"]), "-output", str(made)).returncode == 0
    assert made.read_bytes() == fat.read_bytes()


def test_order_of_inputs_does_not_matter(bins: dict[str, Path], tmp_path: Path) -> None:
    one = macho.make_universal([bins["macho-arm64"], bins["macho-x86_64"]], tmp_path / "a")
    two = macho.make_universal([bins["macho-x86_64"], bins["macho-arm64"]], tmp_path / "b")
    assert one == two and (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_refuses_non_macho_input_and_writes_nothing(bins: dict[str, Path], tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with pytest.raises(CheckFailed, match=r"pe-x86_64: not a Mach-O file \(magic 0x4d5a"):
        macho.make_universal([bins["macho-arm64"], bins["pe-x86_64"]], dest)
    assert not dest.exists()


def test_refuses_a_duplicate_architecture(bins: dict[str, Path], tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with pytest.raises(CheckFailed, match=r"macho-arm64-unsigned: architecture arm64 is also in .*macho-arm64$"):
        macho.make_universal([bins["macho-arm64"], bins["macho-arm64-unsigned"]], dest)
    assert not dest.exists()


def test_refuses_a_fat_input(bins: dict[str, Path], tmp_path: Path) -> None:
    fat = tmp_path / "fat"
    macho.make_universal([bins["macho-arm64"], bins["macho-x86_64"]], fat)
    with pytest.raises(CheckFailed, match=r"fat: already a universal \(fat\) binary; give the thin builds"):
        macho.make_universal([fat, bins["macho-x86_64"]], tmp_path / "out")
    assert not (tmp_path / "out").exists()
