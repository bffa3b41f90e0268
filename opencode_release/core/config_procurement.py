"""The `[tool.opencode-release.procurement]` section: what the quarterly packet reads from the product's repository."""

from __future__ import annotations

from dataclasses import dataclass

from ._toml_dataclass import setting


@dataclass(frozen=True, slots=True)
class ProcurementSettings:
    """The quarterly procurement packet (`opencode-release procurement`)."""

    statements: str = setting(
        "ssdf-statements.toml",
        'the maintainers\' organisational SSDF statements ([tasks."PO.2.2"] statement = ...), relative to the '
        "project; the packet cites it and marks tasks without one as missing",
        '"security/ssdf-statements.toml"',
    )
    osv_export: str = setting(
        "",
        "an OSV export (a per-ecosystem all.zip of OSV JSON records) the SBOM components are matched against; "
        "a path relative to the project, or an http(s) URL fetched once per packet within osv-max-bytes and "
        "osv-deadline (empty: no vulnerability data, the packet says so)",
        '"https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"',
    )
    osv_max_bytes: int = setting(
        512 * 1024 * 1024,
        "the most bytes read from an osv-export URL; a larger answer is refused",
        "1073741824",
    )
    osv_deadline: float = setting(
        300.0,
        "seconds the whole transfer of an osv-export URL may take; a slower one is refused",
        "600",
    )
    vex_triage: str = setting(
        "vex-triage.toml",
        "the maintainers' triage of known vulnerabilities (state, justification, impact), relative to the project",
        '"security/vex-triage.toml"',
    )
