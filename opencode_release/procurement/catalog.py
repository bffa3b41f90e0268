"""The SSDF tasks, read from NIST's OSCAL catalog of SP 800-218 (SSDF 1.1) shipped as package data.

The 1.2 draft (SP 800-218 Rev. 1, initial public draft of 2025-12-17) has no
OSCAL copy yet: its new tasks are listed here by id with a one-line summary
and kept apart, marked as draft, wherever they appear.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from dataclasses import dataclass
from typing import Any

from ..core.errors import CheckFailed

CATALOG_FILE = "NIST_SP800-218_ver1_catalog.json"
DRAFT_SOURCE = "NIST SP 800-218 Rev. 1 (SSDF 1.2), initial public draft, 2025-12-17"


@dataclass(frozen=True, slots=True)
class Task:
    id: str  # "PS.2.1"
    practice: str  # "PS.2"
    practice_title: str
    group: str  # "PS"
    statement: str
    draft: bool = False


def catalog_bytes() -> bytes:
    return (importlib.resources.files("opencode_release.procurement") / CATALOG_FILE).read_bytes()


def catalog_digest() -> str:
    return hashlib.sha256(catalog_bytes()).hexdigest()


def _statement(task: dict[str, Any]) -> str:
    parts = [p for p in task.get("parts", ()) if p.get("name") == "statement"]
    if len(parts) != 1 or not isinstance(parts[0].get("prose"), str):
        raise CheckFailed(f"{CATALOG_FILE}: task {task.get('id')!r} has no single statement part")
    return " ".join(parts[0]["prose"].split())


def tasks() -> tuple[Task, ...]:
    """Every task of the catalog, in its order: groups, then practices, then tasks."""
    try:
        catalog = json.loads(catalog_bytes())["catalog"]
        found = [
            Task(task["id"], practice["id"], practice["title"], group["id"], _statement(task))
            for group in catalog["groups"]
            for practice in group["controls"]
            for task in practice.get("controls", ())
            if task.get("class") == "task"
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckFailed(f"{CATALOG_FILE}: not the OSCAL catalog of SP 800-218: {exc}") from None
    return tuple(found)


_DRAFT = (
    ("PO.6.1", "PO.6", "Continuously improve", "Continuously improve the security of the development environment."),
    ("PO.6.2", "PO.6", "Continuously improve", "Continuously improve the tools that prevent and detect errors."),
    ("PO.6.3", "PO.6", "Continuously improve", "Continuously improve vulnerability response."),
    ("PS.4.1", "PS.4", "Robust and reliable updates", "Test each release before it reaches users."),
    ("PS.4.2", "PS.4", "Robust and reliable updates", "Roll updates out in stages."),
    ("PS.4.3", "PS.4", "Robust and reliable updates", "Support rollback, and block unauthorised rollback."),
    ("PS.4.4", "PS.4", "Robust and reliable updates", "Make the update infrastructure fault tolerant."),
)


def draft_tasks() -> tuple[Task, ...]:
    """The tasks SSDF 1.2's draft adds (summaries, not NIST's text: there is no machine-readable copy yet)."""
    return tuple(Task(i, p, t, i[:2], s, draft=True) for i, p, t, s in _DRAFT)
