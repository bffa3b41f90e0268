"""The packet's reproducibility evidence: each release's last `reproduce` result, copied with its diffs.

The packet does not rebuild anything itself (`procurement --reproduce` runs
`reproduce` first): it reads `dist/reproduce/<version>/`, checks that the
result is of the release it covers (same version and source commit), and
copies `reproduce.json` and the diffoscope texts under
`reproducibility/<version>/`. `reproducibility/summary.json` says, per
release, whether it was reproduced and whether every compared file matched;
a release without a result is listed as not reproduced, never left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SUMMARY = "reproducibility/summary.json"
CATEGORY = "reproducibility"
# The mapping's condition: every release in scope was rebuilt and every compared file matched.
MATCHED = "reproduced-and-matched"


@dataclass(frozen=True, slots=True)
class Reproduction:
    version: str
    commit: str  # the release's recorded source commit
    document: Mapping[str, Any] | None  # the reproduce.json document, None when never reproduced
    folder: Path | None  # where it is (dist/reproduce/<version>/)
    note: str = ""  # why there is none, when `reproduce` refused the release


class _Folder(Protocol):
    def copy(self, source: Path, relative: str, category: str | None) -> None: ...

    def json(self, relative: str, data: Any, category: str | None) -> None: ...


def _row(item: Reproduction) -> dict[str, Any]:
    document = item.document
    if document is None:
        return {
            "version": item.version,
            "reproduced": False,
            "note": item.note or f"not reproduced: run `opencode-release reproduce --version {item.version}`",
        }
    commit = str(document.get("source", {}).get("commit", ""))
    if commit != item.commit:
        return {
            "version": item.version,
            "reproduced": False,
            "note": f"the last reproduce result is of commit {commit[:40]!r}, the release records {item.commit}; "
            f"run `opencode-release reproduce --version {item.version}` again",
        }
    rows = document.get("artifacts", [])
    return {
        "version": item.version,
        "reproduced": True,
        "ok": bool(document.get("ok")),
        "commit": commit,
        "counts": dict(document.get("counts", {})),
        "mismatched": [r["path"] for r in rows if r.get("status") in ("mismatched", "missing")],
        "report": f"reproducibility/{item.version}/reproduce.json",
    }


def write(folder: _Folder, items: Sequence[Reproduction]) -> dict[str, Any]:
    """Copy each usable result and write the summary; returns it, with the mapping's fact."""
    rows = []
    for item in items:
        row = _row(item)
        if row["reproduced"] and item.folder is not None:
            base = f"reproducibility/{item.version}"
            folder.copy(item.folder / "reproduce.json", f"{base}/reproduce.json", CATEGORY)
            for diff in sorted((item.folder / "diffs").glob("*.diffoscope.txt")):
                folder.copy(diff, f"{base}/diffs/{diff.name}", CATEGORY)
        rows.append(row)
    matched = bool(rows) and all(r["reproduced"] and r["ok"] for r in rows)
    summary = {"releases": rows, MATCHED: matched}
    folder.json(SUMMARY, summary, CATEGORY if any(r["reproduced"] for r in rows) else None)
    return summary
