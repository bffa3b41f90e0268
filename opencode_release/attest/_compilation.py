"""What a Nuitka compilation report says went into a binary.

The report (`--report`, ledger kind `build-report`) is the only trustworthy
record of what was compiled in: a distribution installed next to the product
but never imported is not in it. This module reads it into plain records; it
never looks at the environment (the report may come from another machine in a
partial ledger).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree as ET

from ..core.errors import LedgerError

# Modules with no `distribution` attribute (the standard library, __main__)
# belong to the program itself: their distribution usages are the root's.
ROOT = ""


@dataclass(frozen=True, slots=True)
class Distribution:
    name: str
    version: str
    installer: str


@dataclass(frozen=True, slots=True)
class SharedLibrary:
    name: str  # file name inside the binary, e.g. libcrypto.so.3
    source_path: str  # where the build host had it
    used_by: str  # the extension module that needs it, e.g. _hashlib.so
    used_by_stdlib: bool


@dataclass(frozen=True, slots=True)
class CompilationReport:
    nuitka_version: str
    mode: str
    c_compiler: str
    python_version: str
    python_flavor: str
    os_name: str
    os_release: str
    arch_name: str
    distributions: tuple[Distribution, ...]
    # owner distribution (ROOT for the program) -> distributions its modules import
    uses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    libraries: tuple[SharedLibrary, ...] = ()
    user_data: Mapping[str, str] = field(default_factory=dict)

    def distribution(self, name: str) -> Distribution:
        for dist in self.distributions:
            if dist.name == name:
                return dist
        raise KeyError(name)


def _attr(element: Any, name: str) -> str:
    value = element.get(name)
    return "" if value is None else str(value)


def parse(path: Path) -> CompilationReport:
    """Read a report; a malformed one is a ledger problem (the file is recorded there)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise LedgerError(f"{path}: not a readable Nuitka compilation report: {exc}") from exc
    if root is None or root.tag != "nuitka-compilation-report":
        raise LedgerError(f"{path}: not a Nuitka compilation report (root element is not nuitka-compilation-report)")
    if _attr(root, "completion") not in ("yes", ""):
        raise LedgerError(f"{path}: the compilation did not complete; rebuild before attesting")

    distributions = tuple(
        sorted(
            (
                Distribution(_attr(d, "name"), _attr(d, "version"), _attr(d, "installer"))
                for d in root.iterfind("distributions/distribution")
            ),
            key=lambda d: d.name.lower(),
        )
    )
    known = {d.name for d in distributions}
    uses: dict[str, set[str]] = {}
    stdlib_extensions: set[str] = set()
    for module in root.iterfind("module"):
        owner = _attr(module, "distribution") or ROOT
        for usage in module.iterfind("distribution-usages/distribution-usage"):
            used = _attr(usage, "name")
            if used != owner and used in known:
                uses.setdefault(owner, set()).add(used)
    for ext in root.iterfind("included_extension"):
        if _attr(ext, "source_path").startswith("${sys.real_prefix}"):
            stdlib_extensions.add(_attr(ext, "dest_path"))
    libraries = []
    for dll in root.iterfind("included_dll"):
        if _attr(dll, "ignored") == "yes":
            continue
        reason = _attr(dll, "reason")
        used_by = reason.split("'")[1] if reason.count("'") >= 2 else ""
        libraries.append(
            SharedLibrary(
                name=_attr(dll, "name"),
                source_path=_attr(dll, "source_path"),
                used_by=used_by,
                used_by_stdlib=used_by in stdlib_extensions,
            )
        )
    python = root.find("python")
    scons = root.find("scons_environment")
    user_data = {child.tag: (child.text or "") for child in root.iterfind("user-data/*")}
    return CompilationReport(
        nuitka_version=_attr(root, "nuitka_version"),
        mode=_attr(root, "mode"),
        c_compiler=_attr(scons, "the_compiler") if scons is not None else "",
        python_version=_attr(python, "python_version") if python is not None else "",
        python_flavor=_attr(python, "python_flavor") if python is not None else "",
        os_name=_attr(python, "os_name") if python is not None else "",
        os_release=_attr(python, "os_release") if python is not None else "",
        arch_name=_attr(python, "arch_name") if python is not None else "",
        distributions=distributions,
        uses={k: tuple(sorted(v)) for k, v in sorted(uses.items())},
        libraries=tuple(sorted(libraries, key=lambda lib: lib.name)),
        user_data=user_data,
    )
