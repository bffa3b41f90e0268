"""Which exploit mitigations a binary was built with, read from the binary itself (SSDF PW.6).

The build report says which compiler ran; only the binary says what it made.
Each feature is true, false, None where the format has no such feature, or
"unknown" where the binary does not show it (a static ELF imports nothing, so
whether its code calls the stack protector cannot be read from its imports):

- `pie`: loaded at a random address (ELF ET_DYN with an interpreter or DF_1_PIE;
  PE IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE; Mach-O MH_PIE);
- `nx`: stack and data not executable (ELF PT_GNU_STACK without PF_X; PE NX_COMPAT;
  Mach-O without MH_ALLOW_STACK_EXECUTION);
- `relro`, `full-relro` (ELF): PT_GNU_RELRO, and with BIND_NOW the whole GOT read-only;
- `stack-protector`, `fortify` (dynamic ELF): imports __stack_chk_fail, or a `__*_chk` function;
- `cfg`, `high-entropy-va` (PE): Control Flow Guard, 64-bit ASLR.

ELF is read with pyelftools; PE and Mach-O from the header bits the format
inspectors already read. `tests/unit/test_hardening.py` checks all three
against binutils' readelf and llvm-readobj on binaries built with and without
each feature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ...core.config_build import HARDENING_FEATURES
from ...core.errors import CheckFailed
from . import macho, pe

FEATURES = HARDENING_FEATURES  # the names build.hardening may require
UNKNOWN = "unknown"
Features = dict[str, bool | str | None]

_PF_X = 0x1
_DF_BIND_NOW = 0x8
_DF_1_NOW, _DF_1_PIE = 0x1, 0x08000000
_FORTIFIED = re.compile(r"__\w+_chk")
_PE_HIGH_ENTROPY_VA, _PE_DYNAMIC_BASE, _PE_NX_COMPAT, _PE_GUARD_CF = 0x20, 0x40, 0x100, 0x4000
_MH_ALLOW_STACK_EXECUTION, _MH_PIE = 0x20000, 0x200000


def _none() -> Features:
    return dict.fromkeys(FEATURES, None)


def elf(path: Path) -> Features:
    try:
        with path.open("rb") as handle:
            return _elf(ELFFile(handle))
    except (ELFError, ValueError, KeyError, IndexError, OSError) as exc:
        raise CheckFailed(f"{path}: its hardening cannot be read (not a readable ELF file: {exc})") from exc


def _elf(binary: ELFFile) -> Features:
    types = {segment["p_type"]: segment for segment in binary.iter_segments()}
    flags = flags_1 = 0
    bind_now = False
    for tag in _dynamic_tags(binary):
        if tag.entry.d_tag == "DT_FLAGS":
            flags = tag.entry.d_val
        elif tag.entry.d_tag == "DT_FLAGS_1":
            flags_1 = tag.entry.d_val
        elif tag.entry.d_tag == "DT_BIND_NOW":
            bind_now = True
    stack = types.get("PT_GNU_STACK")
    relro = "PT_GNU_RELRO" in types
    imports = _imported(binary)
    found = _none()
    found.update(
        {
            "pie": binary.header["e_type"] == "ET_DYN" and ("PT_INTERP" in types or bool(flags_1 & _DF_1_PIE)),
            # No PT_GNU_STACK: the kernel maps the stack executable (the pre-2003 default).
            "nx": stack is not None and not stack["p_flags"] & _PF_X,
            "relro": relro,
            "full-relro": relro and (bind_now or bool(flags & _DF_BIND_NOW) or bool(flags_1 & _DF_1_NOW)),
            "stack-protector": UNKNOWN if imports is None else "__stack_chk_fail" in imports,
            "fortify": UNKNOWN
            if imports is None
            else any(_FORTIFIED.fullmatch(n) for n in imports - {"__stack_chk_fail"}),
        }
    )
    return found


def _dynamic_tags(binary: ELFFile) -> list[Any]:
    for section in binary.iter_sections():
        if isinstance(section, DynamicSection):
            return list(section.iter_tags())
    for segment in binary.iter_segments():  # no section headers (stripped hard): the segment has them
        if isinstance(segment, DynamicSegment):
            return list(segment.iter_tags())
    return []


def _imported(binary: ELFFile) -> set[str] | None:
    """Names of the undefined dynamic symbols; None for a binary with no dynamic symbol table (static)."""
    table = binary.get_section_by_name(".dynsym")
    if not isinstance(table, SymbolTableSection):
        return None
    return {s.name for s in table.iter_symbols() if s.name and s["st_shndx"] == "SHN_UNDEF"}


def pe_features(facts: pe.PeFacts) -> Features:
    bits = facts.dll_characteristics
    found = _none()
    found.update(
        {
            "pie": bool(bits & _PE_DYNAMIC_BASE),
            "nx": bool(bits & _PE_NX_COMPAT),
            "cfg": bool(bits & _PE_GUARD_CF),
            "high-entropy-va": bool(bits & _PE_HIGH_ENTROPY_VA) if facts.pe32_plus else None,
        }
    )
    return found


def macho_features(facts: macho.MachOFacts) -> Features:
    """Every slice must have a feature for the binary to have it."""
    found = _none()
    found.update(
        {
            "pie": all(s.flags & _MH_PIE for s in facts.slices),
            "nx": not any(s.flags & _MH_ALLOW_STACK_EXECUTION for s in facts.slices),
        }
    )
    return found


def missing(features: Mapping[str, object], required: Sequence[str]) -> list[str]:
    """The required features the binary lacks or does not show; one its format has no such thing as (None) is
    not asked of it."""
    return [name for name in required if name in features and features[name] is not True and features[name] is not None]
