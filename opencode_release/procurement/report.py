"""The packet's report for people: its sections read from the packet's own files, rendered as HTML here.

Both renderings (this HTML and report_pdf.py's PDF) take the same `Section`s,
so they cannot say different things. The sections: cover, scope, the SSDF
table (and the 1.2 draft apart), the attestation draft, vulnerabilities,
reproducibility, lifecycle with the support timeline, and the evidence index.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import evidence

REPORT_DIR = "report"


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    # (name, start, end) per LTS line, drawn as the support timeline
    timeline: tuple[tuple[str, dt.date, dt.date], ...] = field(default=())


def _read(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text(encoding="utf-8"))


# A row names this many evidence files at most: a full release has dozens of SBOMs and bundles per task,
# and a table row must fit on a page (the mapping and the evidence index list every one).
EVIDENCE_SHOWN = 6


def _first(paths: list[str], where: str) -> str:
    if len(paths) <= EVIDENCE_SHOWN:
        return ", ".join(paths) or "-"
    rest = len(paths) - EVIDENCE_SHOWN
    return ", ".join(paths[:EVIDENCE_SHOWN]) + f", and {rest} more ({where} lists every one)"


def _evidence_cell(items: list[dict[str, Any]]) -> str:
    return _first([e["path"] for e in items], "ssdf/mapping.json")


def _ssdf_table(rows: list[dict[str, Any]]) -> Table:
    return Table(
        ("task", "status", "how", "evidence"),
        tuple((r["id"], r["status"], r["how"], _evidence_cell(r["evidence"])) for r in rows),
    )


def _evidence_index(folder: Path) -> Table:
    files = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.relative_to(folder).as_posix().startswith(f"{REPORT_DIR}/")
    )
    return Table(("file", "sha256"), tuple((name, evidence.sha256(folder / name)) for name in files))


def _reproducibility(summary: dict[str, Any]) -> Section:
    rows = []
    for r in summary["releases"]:
        if not r["reproduced"]:
            rows.append((r["version"], "not reproduced", r["note"], "-"))
            continue
        counts = ", ".join(f"{n} {status}" for status, n in sorted(r["counts"].items()))
        verdict = "every compared file matched" if r["ok"] else "DIFFERS: " + _first(r["mismatched"], r["report"])
        rows.append((r["version"], verdict, counts, r["report"]))
    return Section(
        "Reproducibility",
        (
            "Each release rebuilt from its recorded source commit in a clean checkout and compared file by file "
            "(`opencode-release reproduce`; docs/reproduce.md says what is compared). A mismatch carries "
            "diffoscope's report beside the result.",
        ),
        (Table(("release", "result", "files", "report"), tuple(rows)),),
    )


def sections(folder: Path) -> list[Section]:
    scope = _read(folder, "scope.json")
    ssdf = _read(folder, "ssdf/mapping.json")
    draft = _read(folder, "ssdf/draft-1.2.json")
    form = _read(folder, "attestation/cisa-attestation-draft.json")
    vulns = _read(folder, "vex/vulnerabilities.json")
    life = _read(folder, "lifecycle.json")
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(ssdf["summary"].items()))
    releases = scope["releases"]
    found = vulns.get("findings")
    lines = tuple(
        (line["name"], dt.date.fromisoformat(line["start"]), dt.date.fromisoformat(line["end"]))
        for line in scope.get("lts_lines", [])
    )
    return [
        Section(
            f"{scope['product']} procurement packet {scope['quarter']}",
            (
                f"Made on {scope['made_on']} for the period {scope['period']['start']} to {scope['period']['end']}.",
                f"Releases covered: {', '.join(r['version'] for r in releases)}.",
                f"SSDF 1.1 tasks: {counts}.",
                "Every file named here is listed with its sha256 in packet-manifest.json, which is signed; "
                "check it with `opencode-release verify packet-manifest.json`.",
            ),
        ),
        Section(
            "Scope",
            ("The LTS lines in support during the quarter, with their newest release, and the latest stable.",),
            (
                Table(
                    ("release", "why", "verified at packet time"),
                    tuple((r["version"], "; ".join(r["why"]), "yes" if r["verified"] else "NO") for r in releases),
                ),
            ),
        ),
        Section(
            "SSDF 1.1 (NIST SP 800-218)",
            (f"Read from {ssdf['catalog']['path']} (sha256 {ssdf['catalog']['sha256']}). {counts}.",),
            (_ssdf_table(ssdf["tasks"]),),
        ),
        Section(
            "SSDF 1.2 initial public draft (DRAFT, not yet a standard)",
            (draft["source"],),
            (_ssdf_table(draft["tasks"]),),
        ),
        Section(
            "Secure Software Development Attestation (DRAFT for the signatory)",
            (form["note"], form["form"]),
            (
                Table(
                    ("statement", "SSDF tasks", "prefilled", "gaps"),
                    tuple(
                        (
                            f"{s['number']}. {s['statement']}",
                            ", ".join(s["ssdf_tasks"]),
                            s["prefilled"],
                            "; ".join(s["gaps"]) or "-",
                        )
                        for s in form["statements"]
                    ),
                ),
            ),
        ),
        Section(
            "Vulnerabilities",
            (
                vulns.get("note")
                or f"{len(found or [])} known vulnerabilities of components from {vulns['osv_export']}; "
                f"{vulns['untriaged']} not triaged. OpenVEX: vex/openvex.json; CycloneDX VEX: vex/cyclonedx-vex.json.",
            ),
            (
                Table(
                    ("release", "component", "vulnerability", "state", "triaged", "impact"),
                    tuple(
                        (
                            f["release"],
                            f["component"],
                            f["vulnerability"],
                            f["state"],
                            "yes" if f["triaged"] else "NO",
                            f["impact"],
                        )
                        for f in found or []
                    ),
                ),
            )
            if found
            else (),
        ),
        _reproducibility(_read(folder, "reproducibility/summary.json")),
        Section(
            "Lifecycle",
            (f"From {life['changelog']}.",),
            (
                Table(
                    ("deprecated", "since", "planned removal", "may be removed"),
                    tuple(
                        (d["subject"], d["since"], d["removal"], d["may_be_removed"])
                        for d in life["deprecations_in_force"]
                    ),
                ),
                Table(
                    ("incident", "affected", "advisory"),
                    tuple(
                        (f"{i['date']}: {i['summary']}", ", ".join(i["affected"]), i["advisory"])
                        for i in life["incidents"]
                    ),
                ),
            ),
            lines,
        ),
        Section(
            "Evidence index",
            ("Every file of the packet but this report, with its sha256.",),
            (_evidence_index(folder),),
        ),
    ]


def _timeline_svg(lines: tuple[tuple[str, dt.date, dt.date], ...]) -> str:
    if not lines:
        return ""
    first, last = min(s for _, s, _ in lines), max(e for _, _, e in lines)
    span = max((last - first).days, 1)
    bars = []
    for row, (name, start, end) in enumerate(lines):
        x = 160 + 600 * (start - first).days / span
        width = max(600 * (end - start).days / span, 2)
        y = 10 + row * 28
        bars.append(
            f'<text x="0" y="{y + 15}">{html.escape(name)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="20" fill="#4a7bb7"/>'
            f'<text x="{x:.1f}" y="{y + 34}" font-size="9">{start} to {end}</text>'
        )
    height = 20 + len(lines) * 28 + 12
    head = f'<svg xmlns="http://www.w3.org/2000/svg" width="780" height="{height}" font-family="sans-serif"'
    return f'{head} font-size="12">{"".join(bars)}</svg>'


def render_html(parts: list[Section]) -> bytes:
    out = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(parts[0].title)}</title>",
    ]
    out.append(
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;vertical-align:top;font-size:90%}</style></head><body>"
    )
    for number, part in enumerate(parts):
        out.append(f"<h{1 if number == 0 else 2}>{html.escape(part.title)}</h{1 if number == 0 else 2}>")
        out += [f"<p>{html.escape(text)}</p>" for text in part.paragraphs]
        out.append(_timeline_svg(part.timeline))
        for table in part.tables:
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table.rows]
            out.append("</table>")
    out.append("</body></html>\n")
    return "\n".join(out).encode()
