"""Check a built binary against its target, before anything is packaged or signed.

Each target names its checks in the targets table; every check here turns the
facts of one binary format into at most one finding, worded so the person
reading it knows which binary, what was found, and what the target needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..targets import Target
from . import elf, hardening, macho, pe

# A snapshot is built on whatever machine is at hand, not in the floor's
# container: only this check may be waived there (recorded, warned about).
WAIVABLE_IN_SNAPSHOT = frozenset({"glibc-floor"})


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    message: str


def detect_format(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head[:4] == elf.ELF_MAGIC:
        return "elf"
    if macho.is_macho(head):
        return "macho"
    if pe.is_pe(head):
        return "pe"
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def inspect(
    path: Path,
    target: Target,
    payload: Path | None = None,
    carried: dict[str, Any] | None = None,
    required: Sequence[str] = (),
) -> tuple[dict[str, Any], list[Finding]]:
    """The binary's facts and what is wrong with it for `target` (empty: fine).

    `carried`: an earlier inspection of the same bytes, made where the onefile
    payload was still on disk; its payload floor and programs count when the payload is gone.
    `required`: the hardening features (build.hardening) every program in it must have.
    """
    found = detect_format(path)
    if found != target.binary_format:
        what = _NAMES[found] if found else "not an executable format we know"
        return {"format": found}, [
            Finding("format", f"is {what}, but {target.name} needs {_NAMES[target.binary_format]}")
        ]
    if found == "macho":
        facts, findings = _macho(path, target)
    elif found == "pe":
        facts, findings = _pe(path, target)
    else:
        facts, findings = _elf(path, target, payload, carried)
    facts["hardening_required"] = list(required)
    if "hardening" in target.checks:
        findings += _hardening_findings(path.name, facts, required)
    return facts, findings


def _hardening_findings(name: str, facts: dict[str, Any], required: Sequence[str]) -> list[Finding]:
    programs = {name: facts["hardening"], **facts.get("payload_hardening", {})}
    findings = []
    for program, features in programs.items():
        lacking = hardening.missing(features, required)
        if lacking:
            where = program if program == name else f"{program} (in the onefile payload)"
            shown = [f"{n} ({features[n]})" if features[n] == hardening.UNKNOWN else n for n in lacking]
            findings.append(
                Finding(
                    "hardening",
                    f"{where} lacks {', '.join(shown)}, which build.hardening requires; build with the "
                    "compiler and linker options that give it, or leave it out of build.hardening",
                )
            )
    return findings


_NAMES = {"elf": "an ELF executable", "macho": "a Mach-O executable", "pe": "a PE (Windows) executable"}


def _arch_finding(found: tuple[str, ...], target: Target) -> list[Finding]:
    if tuple(sorted(found)) == target.binary_archs:
        return []
    return [
        Finding(
            "arch",
            f"architecture {'+'.join(found)} does not match target {target.name} ({'+'.join(target.binary_archs)})",
        )
    ]


def _macho(path: Path, target: Target) -> tuple[dict[str, Any], list[Finding]]:
    facts = macho.inspect(path)
    findings = _arch_finding(facts.archs, target)
    features = hardening.macho_features(facts)
    floor = target.min_macos
    for piece in facts.slices:
        if floor and "min-macos" in target.checks:
            if piece.min_macos is None:
                findings.append(
                    Finding(
                        "min-macos",
                        f"{piece.arch} slice has no LC_BUILD_VERSION for macOS; "
                        f"link with -platform_version macos {floor}",
                    )
                )
            elif _version(piece.min_macos) < _version(floor):
                findings.append(
                    Finding("min-macos", f"{piece.arch} slice declares minimum macOS {piece.min_macos}, below {floor}")
                )
        if "code-signature" in target.checks and not piece.code_signature:
            findings.append(
                Finding(
                    "code-signature",
                    f"{piece.arch} slice has no code signature (LC_CODE_SIGNATURE); sign it, ad hoc at least",
                )
            )
    return {**facts.to_json(), "hardening": features}, findings


def _pe(path: Path, target: Target) -> tuple[dict[str, Any], list[Finding]]:
    facts = pe.inspect(path)
    findings = _arch_finding((facts.arch,), target)
    if "console-subsystem" in target.checks and facts.subsystem != "console":
        findings.append(
            Finding(
                "console-subsystem", f"subsystem is {facts.subsystem}, not console: a CLI would open no terminal output"
            )
        )
    return {**facts.to_json(), "hardening": hardening.pe_features(facts)}, findings


def _elf(
    path: Path,
    target: Target,
    payload: Path | None,
    carried: dict[str, Any] | None,
) -> tuple[dict[str, Any], list[Finding]]:
    main = elf.inspect(path)
    facts: dict[str, Any] = main.to_json()
    # A onefile unpacks a payload (libpython, extension modules, bundled
    # libraries) whose needs count as the binary's own.
    floor, symbol, where = main.glibc_floor, main.floor_symbol, path.name
    bundled: list[str] = []
    glibc_users = [path.name] if _uses_glibc(main) else []
    programs: dict[str, hardening.Features] = {}
    if payload is not None and payload.is_dir():
        for file in sorted(payload.rglob("*")):
            if not file.is_file() or not elf.is_elf(file):
                continue
            inner = elf.inspect(file)
            if inner.interpreter is not None:  # the program the onefile runs (the libraries are not programs)
                programs[file.name] = hardening.elf(file)
            if file.name.startswith("lib") and ".so" in file.name:
                bundled.append(file.name)
            if _uses_glibc(inner):
                glibc_users.append(file.name)
            if inner.glibc_floor and (floor is None or elf.version_tuple(inner.glibc_floor) > elf.version_tuple(floor)):
                floor, symbol, where = inner.glibc_floor, inner.floor_symbol, file.name
    elif carried is not None:
        bundled = list(carried.get("bundled_libraries") or [])
        old_programs = carried.get("payload_hardening")
        programs = dict(old_programs) if isinstance(old_programs, dict) else {}
        glibc_users += [f for f in carried.get("glibc_users") or [] if f not in glibc_users]
        old = carried.get("glibc_floor")
        if isinstance(old, str) and (floor is None or elf.version_tuple(old) > elf.version_tuple(floor)):
            floor, symbol, where = old, carried.get("glibc_floor_symbol"), str(carried.get("glibc_floor_file"))
    facts.update(
        glibc_floor=floor,
        glibc_floor_symbol=symbol,
        glibc_floor_file=where if floor else None,
        bundled_libraries=bundled,
        glibc_users=glibc_users,
        hardening=hardening.elf(path),
        payload_hardening=programs,
    )
    findings = _arch_finding((main.arch,), target)
    too_new = (
        "glibc-floor" in target.checks
        and target.glibc_floor is not None
        and floor is not None
        and elf.version_tuple(floor) > elf.version_tuple(target.glibc_floor)
    )
    if too_new:
        findings.append(
            Finding(
                "glibc-floor",
                (
                    f"needs glibc {floor} (symbol {symbol} in {where}), above the {target.name} floor "
                    f"{target.glibc_floor}; build it in {target.container}"
                ),
            )
        )
    if "no-glibc" in target.checks:
        if glibc_users:
            findings.append(
                Finding(
                    "no-glibc",
                    (
                        f"depends on glibc ({', '.join(glibc_users)}: {_glibc_evidence(main)}) but {target.name} "
                        "is a musl target; build it in " + (target.container or "a musl container")
                    ),
                )
            )
        elif main.interpreter is not None and "ld-musl" not in main.interpreter:
            findings.append(
                Finding(
                    "no-glibc",
                    f"loader {main.interpreter} is not musl's (/lib/ld-musl-*.so.1) and the binary is not static",
                )
            )
    return facts, findings


def _uses_glibc(facts: elf.ElfFacts) -> bool:
    return (
        facts.glibc_floor is not None
        or "libc.so.6" in facts.needed
        or (facts.interpreter is not None and "ld-linux" in facts.interpreter)
    )


def _glibc_evidence(facts: elf.ElfFacts) -> str:
    if facts.glibc_floor:
        return f"symbol {facts.floor_symbol or 'GLIBC_' + facts.glibc_floor}"
    if "libc.so.6" in facts.needed:
        return "needs libc.so.6"
    return f"loader {facts.interpreter}"
