"""ELF facts: architecture, interpreter, needed libraries, glibc floor.

The glibc floor is the highest GLIBC_x.y version any imported symbol asks
for; we keep the symbol too, because "needs 2.35" is only actionable when it
says which call raised it.

A onefile payload holds dozens of shared objects (libpython alone imports
thousands of symbols), and every one is read on every release, so this reads
the few tables it needs with `struct` straight from a memory map instead of
decoding whole files: only the names of symbols at the highest version are
ever decoded.
"""

from __future__ import annotations

import mmap
import struct
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.errors import CheckFailed

ELF_MAGIC = b"\x7fELF"
_MACHINES = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm", 243: "riscv", 21: "ppc64", 22: "s390"}
_PT_INTERP = 3
_SHT_DYNAMIC, _SHT_DYNSYM = 6, 11
_SHT_GNU_VERNEED, _SHT_GNU_VERSYM = 0x6FFFFFFE, 0x6FFFFFFF
_DT_NULL, _DT_NEEDED = 0, 1
_VERSYM_INDEX = 0x7FFF  # the top bit only marks a version hidden


@dataclass(frozen=True, slots=True)
class ElfFacts:
    arch: str
    interpreter: str | None
    needed: tuple[str, ...]
    glibc_floor: str | None  # e.g. "2.35"; None when no GLIBC_ version is required
    floor_symbol: str | None  # e.g. "__libc_start_main@GLIBC_2.34"
    static: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "elf",
            "arch": self.arch,
            "interpreter": self.interpreter,
            "needed": list(self.needed),
            "glibc_floor": self.glibc_floor,
            "glibc_floor_symbol": self.floor_symbol,
            "static": self.static,
        }


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == ELF_MAGIC


@dataclass(frozen=True, slots=True)
class _Section:
    type: int
    offset: int
    size: int
    link: int
    info: int


class _Reader:
    """The header tables of one ELF file, 32 or 64 bit, either byte order."""

    def __init__(self, data: bytes | mmap.mmap) -> None:
        if data[:4] != ELF_MAGIC:
            raise ValueError("no ELF magic")
        wide, order = {1: False, 2: True}[data[4]], {1: "<", 2: ">"}[data[5]]
        self.data, self.order, self.wide = data, order, wide
        word = "Q" if wide else "I"
        header = struct.unpack_from(f"{order}HHI{word}{word}{word}IHHHHHH", data, 16)
        self.machine = header[1]
        phoff, shoff = header[4], header[5]
        phentsize, phnum, shentsize, shnum = header[8], header[9], header[10], header[11]
        self.phdrs = [self._phdr(phoff + i * phentsize) for i in range(phnum)]
        self.sections = [self._shdr(shoff + i * shentsize) for i in range(shnum)] if shoff else []

    def _phdr(self, at: int) -> tuple[int, int, int]:
        """(type, file offset, file size) of one program header."""
        if self.wide:
            p_type, _flags, offset, _vaddr, _paddr, filesz = struct.unpack_from(f"{self.order}IIQQQQ", self.data, at)
        else:
            p_type, offset, _vaddr, _paddr, filesz = struct.unpack_from(f"{self.order}IIIII", self.data, at)
        return p_type, offset, filesz

    def _shdr(self, at: int) -> _Section:
        fmt = "IIQQQQII" if self.wide else "IIIIIIII"
        _name, sh_type, _flags, _addr, offset, size, link, info = struct.unpack_from(self.order + fmt, self.data, at)
        return _Section(sh_type, offset, size, link, info)

    def first(self, sh_type: int) -> _Section | None:
        return next((s for s in self.sections if s.type == sh_type), None)

    def string(self, table: _Section, index: int) -> str:
        start = table.offset + index
        end = self.data.find(b"\0", start, table.offset + table.size)
        if end < 0:
            raise ValueError(f"string {index} runs past its table")
        return bytes(self.data[start:end]).decode("utf-8", "replace")

    def interpreter(self) -> str | None:
        for p_type, offset, size in self.phdrs:
            if p_type == _PT_INTERP:
                return bytes(self.data[offset : offset + size]).rstrip(b"\0").decode("utf-8", "replace")
        return None

    def needed(self) -> list[str]:
        names: list[str] = []
        for dynamic in (s for s in self.sections if s.type == _SHT_DYNAMIC):
            strings = self.sections[dynamic.link]
            fmt = f"{self.order}{'qQ' if self.wide else 'iI'}"
            step = struct.calcsize(fmt)
            for at in range(dynamic.offset, dynamic.offset + dynamic.size - step + 1, step):
                tag, value = struct.unpack_from(fmt, self.data, at)
                if tag == _DT_NULL:
                    break
                if tag == _DT_NEEDED:
                    names.append(self.string(strings, value))
        return names

    def required_versions(self) -> dict[int, str]:
        """Version index -> name of every version needed from another object (.gnu.version_r)."""
        verneed = self.first(_SHT_GNU_VERNEED)
        if verneed is None:
            return {}
        strings = self.sections[verneed.link]
        found: dict[int, str] = {}
        at, end = verneed.offset, verneed.offset + verneed.size
        # Entries chain by offsets; each must stay inside the section, so a
        # corrupt chain ends in an error instead of a loop over the whole file.
        for _ in range(verneed.info):
            entry = struct.unpack_from(f"{self.order}HHIII", self.data, _inside(at, end))
            _version, count, _file, aux, following = entry
            aux_at = at + aux
            for _ in range(count):
                _hash, _flags, other, name, aux_next = struct.unpack_from(
                    f"{self.order}IHHII", self.data, _inside(aux_at, end)
                )
                found[other] = self.string(strings, name)
                aux_at += aux_next
            if not following:
                break
            at += following
        return found

    def symbol_versions(self) -> array[int] | None:
        """The version index of each dynamic symbol (.gnu.version), hidden bit cleared."""
        versym = self.first(_SHT_GNU_VERSYM)
        if versym is None:
            return None
        indexes = array("H", bytes(self.data[versym.offset : versym.offset + versym.size]))
        if self.order != {"little": "<", "big": ">"}[sys.byteorder]:
            indexes.byteswap()
        return array("H", (i & _VERSYM_INDEX for i in indexes))

    def symbol_name(self, dynsym: _Section, index: int) -> str:
        at = dynsym.offset + index * (24 if self.wide else 16)
        (name,) = struct.unpack_from(f"{self.order}I", self.data, at)
        return self.string(self.sections[dynsym.link], name)


def _inside(at: int, end: int) -> int:
    if at >= end:
        raise ValueError(f"version table entry at {at:#x} lies past its section (ends at {end:#x})")
    return at


def inspect(path: Path) -> ElfFacts:
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            reader = _Reader(data)
            arch = _MACHINES.get(reader.machine, f"EM_{reader.machine}")
            interpreter = reader.interpreter()
            needed = reader.needed()
            floor, symbol = _glibc_floor(reader)
    except (ValueError, KeyError, IndexError, OverflowError, struct.error) as exc:
        raise CheckFailed(f"{path}: not a readable ELF file: {exc}") from exc
    return ElfFacts(arch, interpreter, tuple(needed), floor, symbol, static=interpreter is None and not needed)


def _glibc_floor(reader: _Reader) -> tuple[str | None, str | None]:
    names = {
        ndx: name
        for ndx, name in reader.required_versions().items()
        if name.startswith("GLIBC_") and name[6:7].isdigit()
    }
    if not names:
        return None, None
    versions = reader.symbol_versions()
    dynsym = reader.first(_SHT_DYNSYM)
    used = set(versions) & names.keys() if versions is not None and dynsym is not None else set()
    if versions is None or dynsym is None or not used:
        # Versions required without any symbol using them (rare): still a floor.
        return max(names.values(), key=lambda n: version_tuple(n[6:]))[6:], None
    best = max(version_tuple(names[ndx][6:]) for ndx in used)
    top = {ndx for ndx in used if version_tuple(names[ndx][6:]) == best}
    # Ties keep the alphabetically first symbol, so the message is stable.
    symbol, ndx = min((reader.symbol_name(dynsym, i), v) for i, v in enumerate(versions) if v in top)
    return names[ndx][6:], f"{symbol}@{names[ndx]}"
