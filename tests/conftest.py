"""Shared fixtures: a product folder to configure, a fresh ledger."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from opencode_release.artifacts import Ledger, Source

REPO = Path(__file__).resolve().parent.parent
PRODUCT = REPO / "product"


def write_project(folder: Path, table: str) -> Path:
    """A pyproject.toml with `table` as the [tool.opencode-release] body.

    Sub-tables are written `[signing]` and land under `[tool.opencode-release.signing]`.
    """
    body = re.sub(r"^\[([a-z-]+)\]$", r"[tool.opencode-release.\1]", textwrap.dedent(table), flags=re.M)
    path = folder / "pyproject.toml"
    path.write_text('[project]\nname = "x"\nversion = "1.4.0"\n\n[tool.opencode-release]\n' + body,
                    encoding="utf-8")
    return path


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    source = Source("https://example.org/repo", "a" * 40, "refs/tags/v1.4.0", 1767225600)
    return Ledger(tmp_path / "dist" / "1.4.0", product="opencode", version="1.4.0", channel="stable", source=source)
