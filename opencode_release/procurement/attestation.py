"""The CISA Secure Software Development Attestation (common form) prefilled from the SSDF mapping: a draft.

The four statements of the form's section III are paraphrased here with the
SSDF tasks CISA maps them to; each is prefilled with what the mapping shows
(supported, or the tasks that leave gaps) and the evidence behind it. Nothing
is signed: the signatory checks it and signs the official form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .mapping import MET, ORGANISATIONAL

FORM = (
    "CISA Secure Software Development Attestation Form (common form, 2024); statements paraphrased, "
    "use the official form to attest"
)

STATEMENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "1",
        "The software is developed and built in secure environments: environments separated and protected, "
        "trust relationships logged and audited, multi-factor authentication, known-vulnerable products in the "
        "environments minimised, sensitive data such as credentials encrypted, defensive monitoring.",
        ("PO.5.1", "PO.5.2"),
    ),
    (
        "2",
        "A good-faith effort is made to maintain trusted source code supply chains, with automated tools or "
        "comparable processes for the security of internal code and third-party components.",
        ("PO.3.1", "PO.3.2", "PO.5.1", "PO.5.2", "PS.3.1", "PW.4.1", "PW.4.4"),
    ),
    (
        "3",
        "Provenance is maintained for internal code and third-party components incorporated into the software.",
        ("PO.1.3", "PO.3.2", "PO.5.1", "PO.5.2", "PS.3.1", "PS.3.2", "PW.4.1", "PW.4.4"),
    ),
    (
        "4",
        "Automated tools or comparable processes check for security vulnerabilities, on an ongoing basis and "
        "before releases; discovered vulnerabilities are addressed before release; a vulnerability disclosure "
        "program accepts, reviews and addresses reports in a timely fashion.",
        (
            "PO.4.1",
            "PO.4.2",
            "PS.1.1",
            "PW.2.1",
            "PW.4.4",
            "PW.5.1",
            "PW.6.1",
            "PW.6.2",
            "PW.7.1",
            "PW.7.2",
            "PW.8.1",
            "PW.8.2",
            "RV.1.1",
            "RV.1.2",
            "RV.1.3",
            "RV.2.1",
            "RV.2.2",
            "RV.3.3",
        ),
    ),
)


def _supported(row: Mapping[str, Any]) -> bool:
    return row["status"] == MET or (row["status"] == ORGANISATIONAL and not row.get("missing"))


def form(product: str, releases: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    by_id = {row["id"]: row for row in rows}
    statements = []
    for number, text, tasks in STATEMENTS:
        gaps = [
            f"{t}: {by_id[t]['status']}{' (statement missing)' if by_id[t].get('missing') else ''}"
            for t in tasks
            if not _supported(by_id[t])
        ]
        evidence = sorted({(e["path"], e["sha256"]) for t in tasks for e in by_id[t]["evidence"]})
        statements.append(
            {
                "number": number,
                "statement": text,
                "ssdf_tasks": list(tasks),
                "prefilled": "supported by the mapping" if not gaps else "gaps: the signatory must resolve them",
                "gaps": gaps,
                "evidence": [{"path": p, "sha256": d} for p, d in evidence],
            }
        )
    return {
        "draft": True,
        "note": "DRAFT prepared by opencode-release for the signatory; not an attestation until signed",
        "form": FORM,
        "producer": product,
        "software": list(releases),
        "statements": statements,
        "signatory": {"name": None, "title": None, "date": None, "signature": None},
    }
