"""ELF facts: architecture, interpreter, needed libraries, glibc floor.

The glibc floor is the highest GLIBC_x.y version any imported symbol asks
for; we keep the symbol too, because "needs 2.35" is only actionable when it
says which call raised it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection
from elftools.elf.segments import InterpSegment

from ..errors import CheckFailed

_MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64", "EM_386": "i386", "EM_ARM": "arm"}
ELF_MAGIC = b"\x7fELF"


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
            "format": "elf", "arch": self.arch, "interpreter": self.interpreter,
            "needed": list(self.needed), "glibc_floor": self.glibc_floor,
            "glibc_floor_symbol": self.floor_symbol, "static": self.static,
        }


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == ELF_MAGIC


def inspect(path: Path) -> ElfFacts:
    try:
        with path.open("rb") as handle:
            elf = ELFFile(handle)
            arch = _MACHINES.get(elf["e_machine"], str(elf["e_machine"]))
            interpreter = None
            for segment in elf.iter_segments():
                if isinstance(segment, InterpSegment):
                    interpreter = segment.get_interp_name()
            needed: list[str] = []
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    needed.extend(str(getattr(tag, "needed", "")) for tag in section.iter_tags()
                                  if tag.entry.d_tag == "DT_NEEDED")
            floor, symbol = _glibc_floor(elf)
    except ELFError as exc:
        raise CheckFailed(f"{path}: not a readable ELF file: {exc}") from exc
    return ElfFacts(arch, interpreter, tuple(needed), floor, symbol, static=interpreter is None and not needed)


def _glibc_floor(elf: ELFFile) -> tuple[str | None, str | None]:
    verneed = elf.get_section_by_name(".gnu.version_r")
    versym = elf.get_section_by_name(".gnu.version")
    dynsym = elf.get_section_by_name(".dynsym")
    if not isinstance(verneed, GNUVerNeedSection):
        return None, None
    names: dict[int, str] = {}
    for _need, auxes in verneed.iter_versions():
        for aux in auxes:
            if aux.name.startswith("GLIBC_") and aux.name[6:7].isdigit():
                names[aux["vna_other"]] = aux.name
    if not names:
        return None, None
    best: tuple[int, ...] = ()
    best_name: str | None = None
    best_symbol: str | None = None
    if isinstance(versym, GNUVerSymSection) and isinstance(dynsym, SymbolTableSection):
        for index, symbol in enumerate(dynsym.iter_symbols()):
            ndx = versym.get_symbol(index)["ndx"]
            name = names.get(ndx) if isinstance(ndx, int) else None
            if name is None:
                continue
            key = version_tuple(name[6:])
            # Ties keep the alphabetically first symbol, so the message is stable.
            if key > best or (key == best and best_symbol is not None and symbol.name < best_symbol.split("@")[0]):
                best, best_name, best_symbol = key, name, f"{symbol.name}@{name}"
    if best_name is None:
        # Versions required without any symbol using them (rare): still a floor.
        best_name = max(names.values(), key=lambda n: version_tuple(n[6:]))
    return best_name[6:], best_symbol
