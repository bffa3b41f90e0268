"""The architecture holds (docs/architecture.md): floors, areas that never meet, and small modules.

`core/` is the ground. The areas stand on the ground only and never import one
another: what one makes, another finds in the ledger. `release/` joins them,
`cli/` is the roof. The embedded Sigstore (`devsigstore/`) is for snapshots and
tests: only `release/`, `cli/` and tests may import it, so a distributor's
verifier can never trust it by accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "opencode_release"
GROUND = "core"
AREAS = {"build", "attest", "verify", "manifests", "channels", "lifecycle", "devsigstore", "images", "procurement"}
JOINS = "release"
ROOF = "cli"
MAX_LINES = 400


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
    return sorted((PACKAGE / part).rglob("*.py"))


def test_the_package_holds_only_the_floors() -> None:
    found = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert found == {GROUND, JOINS, ROOF} | AREAS
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py"]


@pytest.mark.parametrize("area", sorted(AREAS))
def test_areas_import_only_the_ground_and_themselves(area: str) -> None:
    for module in _modules(area):
        foreign = _imported_parts(module) - {GROUND, area, "__version__"}
        assert not foreign, f"{module.relative_to(PACKAGE)} imports {sorted(foreign)}: meet in the ledger instead"


def test_the_ground_imports_nothing_above_it() -> None:
    for module in _modules(GROUND):
        above = _imported_parts(module) - {GROUND}
        assert not above, f"{module.relative_to(PACKAGE)} imports {sorted(above)}"


def test_release_never_imports_the_roof() -> None:
    for module in _modules(JOINS):
        assert ROOF not in _imported_parts(module), module


@pytest.mark.parametrize("part", sorted(AREAS - {"devsigstore"} | {GROUND}))
def test_only_release_cli_and_tests_import_the_embedded_sigstore(part: str) -> None:
    for module in _modules(part):
        assert "devsigstore" not in _imported_parts(module) or part == "devsigstore", module


def test_every_area_keeps_its_stages_in_one_module() -> None:
    for part in sorted(AREAS):
        defining = [
            module.name
            for module in _modules(part)
            for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "Stage" for b in node.bases)
        ]
        assert set(defining) <= {"stages.py"}, f"{part}: stages defined in {sorted(set(defining))}"


def test_no_module_is_over_the_size_limit() -> None:
    big = {
        str(module.relative_to(PACKAGE)): n
        for module in PACKAGE.rglob("*.py")
        if (n := len(module.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines (split by responsibility): {big}"


def test_the_checker_sees_relative_imports() -> None:
    # A module two levels down importing the ground must be seen, and so must a package's __init__.
    assert "core" in _imported_parts(PACKAGE / "build" / "inspection" / "elf.py")
    assert "core" in _imported_parts(PACKAGE / "devsigstore" / "__init__.py") | _imported_parts(
        PACKAGE / "devsigstore" / "keys.py"
    )
    assert "devsigstore" in _imported_parts(PACKAGE / "release" / "session.py")


def test_the_architecture_doc_names_every_folder_and_the_readme_stays_inside() -> None:
    repo = PACKAGE.parent
    doc = (repo / "docs" / "architecture.md").read_text(encoding="utf-8")
    for folder in sorted({GROUND, JOINS, ROOF} | AREAS):
        assert f"\n  {folder}/ " in doc, f"docs/architecture.md's tree lacks {folder}/"
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in readme
    assert "../" not in readme, "README.md points outside the repository"
