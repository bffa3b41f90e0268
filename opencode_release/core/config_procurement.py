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
        "a path relative to the project (empty: no vulnerability data, the packet says so)",
        '"vulns/PyPI-all.zip"',
    )
    vex_triage: str = setting(
        "vex-triage.toml",
        "the maintainers' triage of known vulnerabilities (state, justification, impact), relative to the project",
        '"security/vex-triage.toml"',
    )
