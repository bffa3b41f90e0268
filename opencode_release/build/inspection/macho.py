"""Mach-O: read thin and fat headers, and merge thin slices into a universal binary.

A universal (fat) file is a big-endian header, one `fat_arch` record per
slice, then each slice's bytes unchanged at an offset aligned for its
architecture. Keeping the slices byte-for-byte is what keeps their code
signatures valid: a signature covers its own slice only, never the fat header.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.errors import CheckFailed
from ...core.fsio import write_atomic

MH_MAGIC_64 = 0xFEEDFACF
MH_CIGAM_64 = 0xCFFAEDFE
MH_MAGIC = 0xFEEDFACE
MH_CIGAM = 0xCEFAEDFE
FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF

CPU_TYPE_X86_64 = 0x01000007
CPU_TYPE_ARM64 = 0x0100000C
ARCH_NAMES = {CPU_TYPE_X86_64: "x86_64", CPU_TYPE_ARM64: "arm64"}
# Page size of each architecture: a slice must start on one (lipo uses the same).
ALIGN = {"arm64": 14, "x86_64": 12}
# Slice order in the output: what lipo writes, so tools that take the first slice agree.
ORDER = ("x86_64", "arm64")

LC_CODE_SIGNATURE = 0x1D
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32
PLATFORM_MACOS = 1
MH_EXECUTE = 2


@dataclass(frozen=True, slots=True)
class SliceFacts:
    arch: str
    filetype: int
    min_macos: str | None  # from LC_BUILD_VERSION (or the older LC_VERSION_MIN_MACOSX)
    code_signature: bool
    offset: int = 0
    size: int = 0
    flags: int = 0  # the mach header's flags (MH_PIE, MH_ALLOW_STACK_EXECUTION: hardening.py)

    def to_json(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "min_macos": self.min_macos,
            "code_signature": self.code_signature,
            "executable": self.filetype == MH_EXECUTE,
        }


@dataclass(frozen=True, slots=True)
class MachOFacts:
    fat: bool
    slices: tuple[SliceFacts, ...]

    @property
    def archs(self) -> tuple[str, ...]:
        return tuple(s.arch for s in self.slices)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "macho",
            "fat": self.fat,
            "archs": list(self.archs),
            "slices": [s.to_json() for s in self.slices],
        }


def _version(packed: int) -> str:
    # xxxx.yy.zz nibbles, as in <mach-o/loader.h>
    major, minor, patch = packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


def _magic(data: bytes) -> int:
    return int(struct.unpack_from(">I", data, 0)[0]) if len(data) >= 4 else 0


def is_macho(data: bytes) -> bool:
    return _magic(data) in (MH_MAGIC_64, MH_CIGAM_64, MH_MAGIC, MH_CIGAM) or _is_fat(data)


def _is_fat(data: bytes) -> bool:
    # Java class files share 0xCAFEBABE; their next word (a version) is large.
    if _magic(data) not in (FAT_MAGIC, FAT_MAGIC_64) or len(data) < 8:
        return False
    count: int = struct.unpack_from(">I", data, 4)[0]
    return 0 < count < 32


def thin_facts(data: bytes, where: str, offset: int = 0) -> SliceFacts:
    """Facts of one 64-bit little-endian Mach-O image (all that macOS still runs)."""
    if len(data) < 32 or struct.unpack_from("<I", data, 0)[0] != MH_MAGIC_64:
        raise CheckFailed(f"{where}: not a 64-bit little-endian Mach-O image")
    cputype, _sub, filetype, ncmds, sizeofcmds, flags = struct.unpack_from("<iIIIII", data, 4)
    arch = ARCH_NAMES.get(cputype & 0xFFFFFFFF, f"cputype-{cputype & 0xFFFFFFFF:#x}")
    min_macos: str | None = None
    signed = False
    cursor = 32
    end = 32 + sizeofcmds
    if end > len(data):
        raise CheckFailed(f"{where}: load commands run past the end of the file")
    for _ in range(ncmds):
        cmd, cmdsize = struct.unpack_from("<II", data, cursor)
        if cmdsize < 8 or cursor + cmdsize > end:
            raise CheckFailed(f"{where}: malformed load command {cmd:#x} at offset {cursor}")
        if cmd == LC_BUILD_VERSION:
            platform, minos = struct.unpack_from("<II", data, cursor + 8)
            if platform == PLATFORM_MACOS:
                min_macos = _version(minos)
        elif cmd == LC_VERSION_MIN_MACOSX and min_macos is None:
            min_macos = _version(struct.unpack_from("<I", data, cursor + 8)[0])
        elif cmd == LC_CODE_SIGNATURE:
            dataoff, datasize = struct.unpack_from("<II", data, cursor + 8)
            signed = datasize > 0 and dataoff + datasize <= len(data)
        cursor += cmdsize
    return SliceFacts(arch, filetype, min_macos, signed, offset, len(data), flags)


def _fat_entries(data: bytes, where: str) -> list[tuple[int, int, int, int]]:
    """(cputype, offset, size, align) per slice of a fat file."""
    magic, count = struct.unpack_from(">II", data, 0)
    wide = magic == FAT_MAGIC_64
    record, fmt = (32, ">iIQQI") if wide else (20, ">iIIII")
    entries = []
    for index in range(count):
        cputype, _sub, offset, size, align = struct.unpack_from(fmt, data, 8 + index * record)
        if offset + size > len(data):
            raise CheckFailed(f"{where}: slice {index} runs past the end of the file")
        entries.append((cputype & 0xFFFFFFFF, offset, size, align))
    return entries


def inspect_bytes(data: bytes, where: str) -> MachOFacts:
    if _is_fat(data):
        slices = tuple(
            thin_facts(data[offset : offset + size], f"{where} (slice {index})", offset)
            for index, (_cpu, offset, size, _align) in enumerate(_fat_entries(data, where))
        )
        return MachOFacts(fat=True, slices=slices)
    return MachOFacts(fat=False, slices=(thin_facts(data, where),))


def inspect(path: Path) -> MachOFacts:
    return inspect_bytes(path.read_bytes(), str(path))


def _align_up(value: int, power: int) -> int:
    step = 1 << power
    return (value + step - 1) // step * step


def universal_bytes(thin: Sequence[tuple[str, bytes]]) -> bytes:
    """A fat file from thin images, each given as (name for messages, bytes)."""
    if len(thin) < 2:
        raise CheckFailed("a universal binary needs at least two thin binaries")
    slices: dict[str, tuple[str, bytes, SliceFacts]] = {}
    for where, data in thin:
        if _is_fat(data):
            raise CheckFailed(f"{where}: already a universal (fat) binary; give the thin builds")
        if not is_macho(data):
            raise CheckFailed(f"{where}: not a Mach-O file (magic {_magic(data):#010x})")
        facts = thin_facts(data, where)
        if facts.arch not in ALIGN:
            raise CheckFailed(f"{where}: architecture {facts.arch} is not one of {', '.join(ORDER)}")
        if facts.arch in slices:
            raise CheckFailed(f"{where}: architecture {facts.arch} is also in {slices[facts.arch][0]}")
        slices[facts.arch] = (where, data, facts)
    ordered = [slices[arch] for arch in ORDER if arch in slices]
    header = struct.pack(">II", FAT_MAGIC, len(ordered))
    records: list[bytes] = []
    offset = 8 + 20 * len(ordered)
    placed: list[tuple[int, bytes]] = []
    for where, data, facts in ordered:
        align = ALIGN[facts.arch]
        offset = _align_up(offset, align)
        if offset + len(data) >= 1 << 32:
            raise CheckFailed(f"{where}: too large for a 32-bit fat header")
        cputype, subtype = struct.unpack_from("<iI", data, 4)
        records.append(struct.pack(">iIIII", cputype, subtype, offset, len(data), align))
        placed.append((offset, data))
        offset += len(data)
    out = bytearray(header + b"".join(records))
    for start, data in placed:
        out.extend(b"\0" * (start - len(out)))
        out.extend(data)
    return bytes(out)


def make_universal(inputs: Sequence[Path], dest: Path) -> MachOFacts:
    """Write the fat binary atomically; nothing is written when an input is refused."""
    merged = universal_bytes([(str(p), p.read_bytes()) for p in inputs])
    write_atomic(dest, merged)
    return inspect_bytes(merged, str(dest))
