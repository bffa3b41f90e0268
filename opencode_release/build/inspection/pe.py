"""PE (Windows) facts: machine and subsystem, read from the headers."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.errors import CheckFailed

MACHINES = {0x8664: "x86_64", 0xAA64: "arm64", 0x14C: "i386", 0x1C4: "arm"}
SUBSYSTEMS = {1: "native", 2: "windows-gui", 3: "console", 9: "windows-ce-gui", 10: "efi-application"}
PE32 = 0x10B
PE32_PLUS = 0x20B


@dataclass(frozen=True, slots=True)
class PeFacts:
    arch: str
    subsystem: str
    pe32_plus: bool
    dll_characteristics: int = 0  # ASLR, DEP, CFG bits (hardening.py)

    def to_json(self) -> dict[str, Any]:
        return {"format": "pe", "arch": self.arch, "subsystem": self.subsystem, "pe32_plus": self.pe32_plus}


def is_pe(data: bytes) -> bool:
    if data[:2] != b"MZ" or len(data) < 0x40:
        return False
    offset = struct.unpack_from("<I", data, 0x3C)[0]
    return data[offset : offset + 4] == b"PE\0\0"


def inspect_bytes(data: bytes, where: str) -> PeFacts:
    if not is_pe(data):
        raise CheckFailed(f"{where}: not a PE file (no MZ header pointing at a PE signature)")
    coff = struct.unpack_from("<I", data, 0x3C)[0] + 4
    if coff + 20 > len(data):  # a signature at the very end, cut before its COFF header (fuzzed)
        raise CheckFailed(f"{where}: PE COFF header truncated")
    machine, _sections, _stamp, _symtab, _nsyms, optional_size, _chars = struct.unpack_from("<HHIIIHH", data, coff)
    optional = coff + 20
    if optional_size < 72 or optional + 72 > len(data):
        raise CheckFailed(f"{where}: PE optional header missing or truncated")
    magic = struct.unpack_from("<H", data, optional)[0]
    # Subsystem sits at the same offset in PE32 and PE32+ optional headers.
    subsystem, characteristics = struct.unpack_from("<HH", data, optional + 68)
    return PeFacts(
        arch=MACHINES.get(machine, f"machine-{machine:#06x}"),
        subsystem=SUBSYSTEMS.get(subsystem, f"subsystem-{subsystem}"),
        pe32_plus=magic == PE32_PLUS,
        dll_characteristics=characteristics,
    )


def inspect(path: Path) -> PeFacts:
    with path.open("rb") as handle:
        head = handle.read(4096)
    return inspect_bytes(head, str(path))
