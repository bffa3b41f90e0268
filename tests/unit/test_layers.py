"""The architecture holds: areas stand on the ground only and never import one another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "opencode_release"
GROUND = {"config", "errors", "versions", "artifacts", "stage"}
AREAS = {"build", "attest", "manifests", "channels"}
ROOF = {"commands", "cli"}


def _imported_parts(module: Path) -> set[str]:
    """Top-level opencode_release parts a module imports (resolving relative imports)."""
    relative = module.relative_to(PACKAGE.parent).with_suffix("").parts
    parts: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(relative[: len(relative) - node.level])
                target = base + (node.module.split(".") if node.module else [])
                names = [target] if node.module else [[*target, alias.name] for alias in node.names]
            elif node.module and node.module.startswith("opencode_release"):
                names = [node.module.split(".")]
            else:
                continue
            parts.update(name[1] for name in names if len(name) > 1 and name[0] == "opencode_release")
        elif isinstance(node, ast.Import):
            parts.update(a.name.split(".")[1] for a in node.names if a.name.startswith("opencode_release."))
    return parts


def _modules(part: str) -> list[Path]:
    folder = PACKAGE / part
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{part}.py"]


@pytest.mark.parametrize("area", sorted(AREAS))
def test_areas_import_only_the_ground_and_themselves(area: str) -> None:
    for module in _modules(area):
        foreign = _imported_parts(module) - GROUND - {area, "__version__"}
        assert not foreign, f"{module.relative_to(PACKAGE)} imports {sorted(foreign)}: meet in the ledger instead"


@pytest.mark.parametrize("part", sorted(GROUND))
def test_ground_imports_nothing_above_it(part: str) -> None:
    above = _imported_parts(_modules(part)[0]) - GROUND
    assert not above, f"{part}.py imports {sorted(above)}"


def test_release_never_imports_the_roof() -> None:
    for module in _modules("release"):
        assert not _imported_parts(module) & ROOF, module


def test_the_checker_sees_relative_imports(tmp_path: Path) -> None:
    # A module two levels down importing a sibling area must be caught.
    probe = PACKAGE / "build" / "targets.py"
    assert "errors" in _imported_parts(probe)
