"""SSDF task by task: how the project meets it, computed from what the packet holds.

A `computed` task names the evidence categories the pipeline itself produces;
its status is decided from the packet's files (and, for signatures, from the
verification run at packet time), never asserted: a category missing from the
packet lowers it to `partly met` (some evidence) or `not met` (none). An
`organisational` task is outside what a pipeline can show: its statement comes
from the maintainers' file, and is marked missing when the file has none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .catalog import Task

MET, PARTLY, NOT_MET, NOT_APPLICABLE, ORGANISATIONAL = (
    "met",
    "partly met",
    "not met",
    "not applicable",
    "organisational",
)
STATUSES = (MET, PARTLY, NOT_MET, NOT_APPLICABLE, ORGANISATIONAL)


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # "computed", "organisational" or "not applicable"
    how: str
    needs: tuple[str, ...] = ()  # evidence categories (computed)
    conditions: tuple[str, ...] = ()  # facts that must hold (computed), e.g. "verification-passed"
    ceiling: str = MET  # what the pipeline's evidence can reach at best (partly met: the rest is organisational)


def _c(how: str, *needs: str, conditions: tuple[str, ...] = (), ceiling: str = MET) -> Rule:
    return Rule("computed", how, needs, conditions, ceiling)


def _o(how: str) -> Rule:
    return Rule("organisational", how)


VERIFIED = ("verification-passed",)

RULES: Mapping[str, Rule] = {
    "PO.1.1": _o("security requirements for the development infrastructure and processes"),
    "PO.1.2": _o("security requirements the software must meet"),
    "PO.1.3": _o("requirements communicated to third-party component suppliers"),
    "PO.2.1": _o("roles and responsibilities across the SDLC"),
    "PO.2.2": _o("role-based secure development training"),
    "PO.2.3": _o("management commitment to secure development"),
    "PO.3.1": _c(
        "the toolchain of every build is recorded: builder and resolved dependencies in the provenance, compiler "
        "and flags in the build report",
        "provenance",
        "build-report",
    ),
    # PO.3.2's example 4: "implement the technologies and processes needed for reproducible builds".
    "PO.3.2": _c(
        "builds are reproducible: each release in scope is rebuilt from its recorded commit in a clean checkout "
        "and compared file by file (opencode-release reproduce; diffoscope on a mismatch); how the toolchains "
        "are otherwise deployed, operated and maintained is not shown by the pipeline",
        "reproducibility",
        conditions=("reproduced-and-matched",),
        ceiling=PARTLY,
    ),
    "PO.3.3": _c(
        "the pipeline's tools generate the artifacts of their work: SBOMs, provenance, in-toto links, signatures "
        "and transparency-log entries",
        "sbom",
        "provenance",
        "signatures",
        "transparency-log",
    ),
    "PO.4.1": _c(
        "release criteria are the pipeline's checks (preflight rules, verification); the result of verification "
        "at packet time is recorded",
        "verification",
        conditions=VERIFIED,
        ceiling=PARTLY,
    ),
    "PO.4.2": _c(
        "the information behind the criteria is kept and tamper-evident: the signed release statement, the "
        "transparency-log inclusion proofs",
        "release-statement",
        "transparency-log",
    ),
    "PO.5.1": _c(
        "builds run in a build environment of their own (recorded lock and builder in the provenance); the "
        "separation of other environments is organisational",
        "provenance",
        "build-report",
        ceiling=PARTLY,
    ),
    "PO.5.2": _o("hardening of development endpoints"),
    "PS.1.1": _c(
        "the source repository and commit of every release are recorded in its provenance; access control of the "
        "repository is organisational",
        "provenance",
        ceiling=PARTLY,
    ),
    "PS.2.1": _c(
        "every release file is signed (Sigstore bundles, logged in a transparency log) and the signatures were "
        "verified when this packet was made",
        "signatures",
        "verification",
        "transparency-log",
        "trust-root",
        conditions=VERIFIED,
    ),
    "PS.3.1": _c(
        "this packet archives each release's integrity and provenance data with the trust material to check it",
        "release-statement",
        "provenance",
        "signatures",
        "trust",
    ),
    "PS.3.2": _c(
        "provenance of every component: CycloneDX SBOMs and SLSA provenance per release", "sbom", "provenance"
    ),
    "PW.1.1": _o("risk modelling (threat modelling, attack surface mapping)"),
    "PW.1.2": _o("tracking security requirements, risks and design decisions"),
    "PW.1.3": _o("use of standardised security features"),
    "PW.2.1": _o("review of the design against the security requirements"),
    "PW.4.1": _c(
        "third-party components are known per release (SBOM) and matched against known vulnerabilities",
        "sbom",
        "vulnerabilities",
        ceiling=PARTLY,
    ),
    "PW.4.2": _o("in-house components built following the SDLC"),
    "PW.4.4": _c(
        "acquired components are listed (SBOM) and their known vulnerabilities triaged (VEX)",
        "sbom",
        "vulnerabilities",
    ),
    "PW.5.1": _o("secure coding practices"),
    "PW.6.1": _c(
        "the compiler (Nuitka and its C compiler) and the build options are recorded per binary (build report, "
        "ledger), and so are the exploit mitigations read from each binary and its onefile program (PIE, NX, "
        "RELRO, stack protector, FORTIFY; ASLR, DEP, CFG on Windows: the ledger's inspection facts); which "
        "mitigations the compilers offer and are used is not decided by the pipeline alone",
        "build-report",
        ceiling=PARTLY,
    ),
    "PW.6.2": _c(
        "the build options are configured in the pipeline and recorded per build; the mitigations to use are "
        "decided in build.hardening, the build asks the compiler for them on Linux (the flags are recorded per "
        "binary in the ledger) and every binary lacking one is refused before packaging (the ledger records "
        "what was required and found); Windows and macOS keep their toolchains' defaults",
        "build-report",
        ceiling=PARTLY,
    ),
    "PW.7.1": _o("whether code review and/or code analysis is used"),
    "PW.7.2": _o("code review and analysis performed and recorded"),
    "PW.8.1": _o("whether executable code testing is performed"),
    "PW.8.2": _c(
        "each binary is smoke-tested before it is packaged (recorded in the ledger); the rest of testing is "
        "organisational",
        "build-report",
        ceiling=PARTLY,
    ),
    "PW.9.1": _o("a secure baseline of the software's settings"),
    "PW.9.2": _o("secure default settings implemented and documented"),
    "RV.1.1": _c(
        "public incidents are recorded per release in the changelog, and components are matched against "
        "vulnerability data",
        "lifecycle",
        "vulnerabilities",
        ceiling=PARTLY,
    ),
    "RV.1.2": _o("review and testing of the code to find undetected vulnerabilities"),
    "RV.1.3": _o("a vulnerability disclosure and remediation policy"),
    "RV.2.1": _c("each known vulnerability of a component is analysed (VEX triage)", "vulnerabilities"),
    "RV.2.2": _o("risk responses planned and implemented for vulnerabilities"),
    "RV.3.1": _o("root cause analysis of vulnerabilities"),
    "RV.3.2": _o("root causes analysed over time for patterns"),
    "RV.3.3": _o("review for similar vulnerabilities"),
    "RV.3.4": _o("the SDLC process reviewed against root causes"),
}

DRAFT_RULES: Mapping[str, Rule] = {
    "PO.6.1": _o("continuous improvement of the development environment"),
    "PO.6.2": _o("continuous improvement of error-preventing tools"),
    "PO.6.3": _o("continuous improvement of vulnerability response"),
    "PS.4.1": _c(
        "every release passes smoke tests and verification before publishing", "verification", conditions=VERIFIED
    ),
    "PS.4.2": _c(
        "releases reach nightly, then stable, then LTS channels; staged rollout within a channel is not done",
        "lifecycle",
        ceiling=PARTLY,
    ),
    "PS.4.3": _c(
        "update clients use TUF: rollback and freeze attacks are refused (versioned, expiring metadata signed by "
        "the repository's keys)",
        "tuf-root",
    ),
    "PS.4.4": _o("fault tolerance of the update infrastructure"),
}


@dataclass(frozen=True, slots=True)
class Statements:
    """The maintainers' organisational statements, from a file in the product's repository."""

    source: str  # the file's path relative to the project, as cited
    packet_path: str | None  # where the packet holds its copy (None: the file does not exist)
    by_task: Mapping[str, str]


def map_tasks(
    tasks: Sequence[Task],
    rules: Mapping[str, Rule],
    evidence: Mapping[str, Sequence[str]],
    facts: Mapping[str, bool],
    statements: Statements,
    digest: Callable[[str], str],
) -> list[dict[str, Any]]:
    """One row per task, in the catalog's order; `evidence` maps a category to packet paths."""
    rows = []
    for task in tasks:
        rule = rules[task.id]
        row: dict[str, Any] = {"id": task.id, "practice": task.practice, "task": task.statement}
        if rule.kind == "organisational":
            text = statements.by_task.get(task.id)
            cited = [statements.packet_path] if text and statements.packet_path else []
            row.update(
                status=ORGANISATIONAL,
                how=text or f"MISSING: {statements.source} has no statement on {rule.how}",
                missing=not text,
                statement_source=statements.source,
                evidence=[{"path": p, "sha256": digest(p)} for p in cited],
            )
        elif rule.kind == "not applicable":
            row.update(status=NOT_APPLICABLE, how=rule.how, evidence=[])
        else:
            row.update(_computed(rule, evidence, facts, digest))
        rows.append(row)
    return rows


def _computed(
    rule: Rule, evidence: Mapping[str, Sequence[str]], facts: Mapping[str, bool], digest: Callable[[str], str]
) -> dict[str, Any]:
    paths = sorted({p for need in rule.needs for p in evidence.get(need, ())})
    absent = [need for need in rule.needs if not evidence.get(need)]
    failed = [name for name in rule.conditions if not facts.get(name, False)]
    if not paths:
        status = NOT_MET
    elif absent or failed:
        status = PARTLY
    else:
        status = rule.ceiling
    how = rule.how
    if absent:
        how += f"; not in this packet: {', '.join(absent)}"
    if failed:
        how += f"; does not hold: {', '.join(failed)}"
    return {
        "status": status,
        "how": how,
        "evidence_categories": list(rule.needs),
        "evidence": [{"path": p, "sha256": digest(p)} for p in paths],
    }


def summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for row in rows:
        counts[row["status"]] += 1
    counts["organisational statements missing"] = sum(1 for r in rows if r.get("missing"))
    return counts
