"""Write the packet folder `dist/procurement/<quarter>/` from records release/procurement.py gathered.

Everything is read and checked before anything is written: the folder is made
beside its final place and renamed over it only when complete, so a bad input
leaves the previous packet (or nothing) where it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from ..core.ledger import MANIFEST_NAME, ArtifactKind
from . import attestation, catalog, evidence, mapping, osv, report, report_pdf, reproducibility, vex

_QUARTER = re.compile(r"(?P<year>\d{4})-Q(?P<quarter>[1-4])")

# Which ledger kinds a release contributes, and the evidence category each counts for.
COPIED_KINDS: Mapping[str, str] = {
    ArtifactKind.SBOM: "sbom",
    ArtifactKind.ATTESTATION: "sbom",
    ArtifactKind.PROVENANCE: "provenance",
    ArtifactKind.RELEASE_STATEMENT: "release-statement",
    ArtifactKind.SIGSTORE_BUNDLE: "signatures",
    ArtifactKind.INTOTO_LAYOUT: "intoto",
    ArtifactKind.INTOTO_LINK: "intoto",
    ArtifactKind.TRUST_ROOT: "trust-root",
    ArtifactKind.CHECKSUMS: "checksums",
    ArtifactKind.BUILD_REPORT: "build-report",
}


def quarter_dates(text: str) -> tuple[dt.date, dt.date]:
    """First and last day of `YYYY-QN`."""
    found = _QUARTER.fullmatch(text or "")
    if not found:
        raise UsageError(f"--quarter {text!r}: expected YYYY-QN, e.g. 2026-Q4")
    year, number = int(found["year"]), int(found["quarter"])
    start = dt.date(year, 3 * number - 2, 1)
    end = dt.date(year + (number == 4), 1 if number == 4 else 3 * number + 1, 1) - dt.timedelta(days=1)
    return start, end


@dataclass(frozen=True, slots=True)
class ReleaseEvidence:
    version: str
    why: tuple[str, ...]  # "lts/1.4 (in support)", "latest stable"
    folder: Path
    files: tuple[tuple[str, str], ...]  # (path in the release folder, ledger kind)
    verification: Mapping[str, Any]  # the verify-release --json document
    verified: bool


@dataclass(frozen=True, slots=True)
class TrustFile:
    name: str  # file name under trust/
    what: str
    source: Path | bytes | None  # None: this installation has none (recorded as missing)
    keys: str = ""  # "sigstore-root", "tuf-root", "intoto-layout", or "" (the file's digest only)
    fingerprint: str = ""  # a fingerprint its maker recorded (the apt key's OpenPGP fingerprint)


@dataclass(frozen=True, slots=True)
class PacketRequest:
    quarter: str
    product: str
    made_on: dt.date
    scope: Mapping[str, Any]
    releases: Sequence[ReleaseEvidence]
    trust: Sequence[TrustFile]
    lifecycle: Mapping[str, Any]
    statements_file: Path
    statements_source: str  # as cited: relative to the project
    statements: Mapping[str, str] = field(default_factory=dict)
    osv_export: Path | bytes | None = None  # a file, the bytes fetched from a URL, or None: not configured
    osv_source: str = ""
    triage_file: Path | None = None
    triage_source: str = ""
    # Each release's last `reproduce` result (reproducibility.py), in the order of `releases`.
    reproductions: Sequence[reproducibility.Reproduction] = ()


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


class _Folder:
    """The packet being written, and what each evidence category points at."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.evidence: dict[str, list[str]] = {}

    def add(self, relative: str, category: str | None) -> Path:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if category:
            self.evidence.setdefault(category, []).append(relative)
        return target

    def copy(self, source: Path, relative: str, category: str | None) -> None:
        shutil.copyfile(source, self.add(relative, category))

    def json(self, relative: str, data: Any, category: str | None) -> None:
        write_json(self.add(relative, category), data)

    def digest(self, relative: str) -> str:
        return evidence.sha256(self.root / relative)


def _release(folder: _Folder, release: ReleaseEvidence) -> dict[str, Any]:
    base = f"releases/{release.version}"
    logs: dict[str, Any] = {}
    for path, kind in release.files:
        category = COPIED_KINDS[kind]
        folder.copy(release.folder / path, f"{base}/{path}", category)
        if kind == ArtifactKind.SIGSTORE_BUNDLE:
            logs[path] = evidence.log_entries(release.folder / path, f"{release.version}/{path}")
    # The ledger: compiler, build environment lock and inspection facts per binary (PO.3.1, PW.6).
    folder.copy(release.folder / MANIFEST_NAME, f"{base}/{MANIFEST_NAME}", "build-report")
    folder.json(f"{base}/verify-release.json", dict(release.verification), "verification")
    folder.json(f"{base}/transparency-log.json", logs, "transparency-log" if logs else None)
    return {"version": release.version, "why": list(release.why), "verified": release.verified, "folder": base}


def _keys(item: TrustFile, path: Path) -> list[dict[str, str]]:
    where = f"trust/{item.name}"
    if item.keys == "sigstore-root":
        return evidence.sigstore_root_keys(path, where)
    if item.keys == "tuf-root":
        return evidence.tuf_root_keys(path, where)
    if item.keys == "intoto-layout":
        return evidence.intoto_layout_keys(path, where)
    return []


def _trust(folder: _Folder, items: Sequence[TrustFile]) -> list[dict[str, Any]]:
    listed = []
    for item in items:
        if item.source is None or (isinstance(item.source, Path) and not item.source.is_file()):
            listed.append({"name": item.name, "what": item.what, "missing": True})
            continue
        relative = f"trust/{item.name}"
        category = "tuf-root" if item.keys == "tuf-root" else "trust"
        if isinstance(item.source, bytes):
            folder.add(relative, category).write_bytes(item.source)
        else:
            folder.copy(item.source, relative, category)
        folder.evidence.setdefault("trust", []).append(relative)
        if item.keys == "sigstore-root":
            folder.evidence.setdefault("trust-root", []).append(relative)
        keys = _keys(item, folder.root / relative)
        if item.fingerprint:
            keys.append({"role": "signing key", "id": item.fingerprint, "fingerprint": item.fingerprint})
        listed.append(
            {"name": item.name, "what": item.what, "path": relative, "sha256": folder.digest(relative), "keys": keys}
        )
    folder.json("trust/fingerprints.json", listed, "trust")
    return listed


def _ssdf(folder: _Folder, request: PacketRequest, facts: Mapping[str, bool]) -> dict[str, Any]:
    statements_path = None
    if request.statements_file.is_file():
        statements_path = f"ssdf/{request.statements_file.name}"
        folder.copy(request.statements_file, statements_path, None)
    folder.add("ssdf/" + catalog.CATALOG_FILE, None).write_bytes(catalog.catalog_bytes())
    cited = mapping.Statements(request.statements_source, statements_path, request.statements)
    evidence_map = dict(folder.evidence)
    rows = mapping.map_tasks(catalog.tasks(), mapping.RULES, evidence_map, facts, cited, folder.digest)
    draft = mapping.map_tasks(catalog.draft_tasks(), mapping.DRAFT_RULES, evidence_map, facts, cited, folder.digest)
    document = {
        "framework": "NIST SP 800-218 (SSDF) 1.1",
        "catalog": {"path": "ssdf/" + catalog.CATALOG_FILE, "sha256": catalog.catalog_digest()},
        "statements": {"source": request.statements_source, "path": statements_path},
        "summary": mapping.summary(rows),
        "tasks": rows,
    }
    folder.json("ssdf/mapping.json", document, None)
    folder.json(
        "ssdf/draft-1.2.json",
        {"draft": True, "source": catalog.DRAFT_SOURCE, "summary": mapping.summary(draft), "tasks": draft},
        None,
    )
    return document


def _sboms(request: PacketRequest) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for release in request.releases:
        for path, kind in release.files:
            if kind == ArtifactKind.SBOM:
                try:
                    found.setdefault(release.version, []).append(json.loads((release.folder / path).read_bytes()))
                except ValueError as exc:
                    raise UsageError(f"release {release.version}: {path} is not a JSON SBOM: {exc}") from None
    return found


def _vulnerabilities(folder: _Folder, request: PacketRequest) -> dict[str, Any]:
    """Components against the OSV export, with triage; read and checked before anything is written."""
    if request.osv_export is None:
        note = {"osv_export": None, "note": "no OSV export configured ([procurement] osv-export): nothing matched"}
        folder.json("vex/vulnerabilities.json", note, None)
        return {"findings": None, "untriaged": None}
    advisories = osv.read_export(request.osv_export, request.osv_source)
    triage_file = request.triage_file
    triage = vex.load_triage(triage_file, request.triage_source) if triage_file else []
    by_release = {
        version: [m for sbom in sboms for m in osv.match(osv.components(sbom), advisories)]
        for version, sboms in _sboms(request).items()
    }
    found = vex.findings(by_release, triage)
    rows = [f.to_json() for f in found]
    untriaged = sum(1 for f in found if f.triage is None)
    export = request.osv_export
    document = {
        "osv_export": request.osv_source,
        "osv_export_sha256": hashlib.sha256(export if isinstance(export, bytes) else export.read_bytes()).hexdigest(),
        "advisories_read": len(advisories),
        "triage": request.triage_source if triage_file and triage_file.is_file() else None,
        "findings": rows,
        "untriaged": untriaged,
    }
    folder.json("vex/vulnerabilities.json", document, "vulnerabilities")
    folder.json(
        "vex/openvex.json", vex.openvex(request.product, request.quarter, request.made_on, found), "vulnerabilities"
    )
    cdx = vex.cyclonedx_vex(request.product, request.quarter, request.made_on, found)
    folder.json("vex/cyclonedx-vex.json", cdx, "vulnerabilities")
    if triage_file and triage_file.is_file():
        folder.copy(triage_file, f"vex/{triage_file.name}", "vulnerabilities")
    return {"findings": len(rows), "untriaged": untriaged}


def build(out: Path, request: PacketRequest) -> dict[str, Any]:
    """Write the packet to `out` (replacing an older one whole); return its summary."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        folder = _Folder(partial)
        releases = [_release(folder, release) for release in request.releases]
        trust = _trust(folder, request.trust)
        folder.json("lifecycle.json", dict(request.lifecycle), "lifecycle")
        vulnerabilities = _vulnerabilities(folder, request)
        reproduced = reproducibility.write(folder, request.reproductions)
        facts = {
            "verification-passed": bool(request.releases) and all(r.verified for r in request.releases),
            reproducibility.MATCHED: reproduced[reproducibility.MATCHED],
        }
        scope = {
            "quarter": request.quarter,
            "product": request.product,
            "made_on": request.made_on.isoformat(),
            **dict(request.scope),
            "releases": releases,
        }
        folder.json("scope.json", scope, None)
        ssdf = _ssdf(folder, request, facts)
        versions = [r["version"] for r in releases]
        folder.json(
            "attestation/cisa-attestation-draft.json", attestation.form(request.product, versions, ssdf["tasks"]), None
        )
        parts = report.sections(partial)
        folder.add(f"{report.REPORT_DIR}/report.html", None).write_bytes(report.render_html(parts))
        folder.add(f"{report.REPORT_DIR}/report.pdf", None).write_bytes(report_pdf.render_pdf(parts))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return {
        "quarter": request.quarter,
        "packet": str(out),
        "releases": [r["version"] for r in releases],
        "verified": facts["verification-passed"],
        "trust_missing": [t["name"] for t in trust if t.get("missing")],
        "ssdf": ssdf["summary"],
        "vulnerabilities": vulnerabilities,
        "reproducibility": {
            r["version"]: r.get("ok") if r["reproduced"] else "not reproduced" for r in reproduced["releases"]
        },
    }
