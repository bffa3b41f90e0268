"""The maintainers' organisational SSDF statements: a TOML file in the product's repository.

    [tasks."PO.2.2"]
    statement = "Every maintainer completes ... each year."

Only tasks the mapping calls organisational may have one; an unknown task id,
or a statement that is not a non-empty string, is refused in one line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path

from ..core.errors import UsageError


def load(path: Path, where: str, organisational: Collection[str]) -> dict[str, str]:
    """Task id -> statement; an absent file is no statements (every organisational task is then missing)."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{where}: not valid TOML: {exc}") from None
    table = data.get("tasks", {})
    if not isinstance(table, dict):
        raise UsageError(f'{where}: [tasks] must be a table of [tasks."<task id>"] tables')
    found: dict[str, str] = {}
    for task, body in table.items():
        if task not in organisational:
            raise UsageError(
                f"{where}: tasks.{task!r} is not an organisational SSDF task; statements are for "
                f"{', '.join(sorted(organisational))}"
            )
        text = body.get("statement") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise UsageError(f"{where}: tasks.{task!r}.statement must be a non-empty string")
        found[task] = " ".join(text.split())
    return found
