"""The no-secret-on-disk release (tests/integration/test_no_secret_on_disk.py) sets every variable the
pipeline reads (issue #15): this reads the package for every environment read and fails on a variable
that is neither given a secret-shaped value there nor listed as holding no secret, with why.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from opencode_release.channels.keys import ROLES, env_name
from opencode_release.manifests.package_index import PASSWORD_ENV
from tests.secret_env import NOT_SECRET, TOKENS, markers, secret_environment

PACKAGE = Path(__file__).resolve().parents[2] / "opencode_release"
OUTSIDE = ("release/ci_sim/",)  # the CI simulation runs the runner's actions, not a release
# Reads whose name is computed: the names they can be.
COMPUTED = {
    ("channels/keys.py", "env_name(role)"): {env_name(r) for r in ROLES},
    ("manifests/package_index.py", "name"): set(PASSWORD_ENV),
}
_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]+")


def _constants(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module-level NAME = "TEXT" (or a tuple of texts) across the package, by name."""
    found: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                texts = {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
                for target in targets:
                    if isinstance(target, ast.Name) and texts:
                        found.setdefault(target.id, set()).update(texts)
    return found


def _read_name(node: ast.AST) -> ast.AST | None:
    """The variable name expression of an environment read (`os.environ.get(X)`, `environ[X]`, `X in
    os.environ`, `env.get("X")` of an environment mapping), or None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        source = ast.unparse(node.func.value)
        if source.endswith("environ") or source == "env":
            return node.args[0] if node.args else None
    if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
        return node.slice
    if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
        return node.left if ast.unparse(node.comparators[0]).endswith("environ") else None
    return None


def variables_read() -> dict[str, set[str]]:
    """Variable -> the places (file:line) that read it."""
    trees = {
        path.relative_to(PACKAGE).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
        if not path.relative_to(PACKAGE).as_posix().startswith(OUTSIDE)
    }
    constants = _constants(trees)
    reads: dict[str, set[str]] = {}
    for relative, tree in trees.items():
        for node in ast.walk(tree):
            name = _read_name(node)
            if name is None:
                continue
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                names = {name.value}
            elif isinstance(name, ast.Name | ast.Attribute):
                key = name.id if isinstance(name, ast.Name) else name.attr
                names = COMPUTED.get((relative, ast.unparse(name))) or constants.get(key, set())
            else:
                names = COMPUTED.get((relative, ast.unparse(name)), set())
            assert names, f"{relative}:{getattr(node, 'lineno', 0)}: reads {ast.unparse(name)!r}; add it to COMPUTED"
            for variable in names:
                if _VARIABLE.fullmatch(variable):  # an environment mapping's keys; not a dict of facts
                    reads.setdefault(variable, set()).add(f"{relative}:{getattr(node, 'lineno', 0)}")
    return reads


def test_every_variable_the_pipeline_reads_is_set_by_the_secret_test_or_holds_no_secret() -> None:
    given = set(TOKENS) | {env_name(r) for r in ROLES} | {"OPENCODE_RELEASE_APT_KEY"}
    reads = variables_read()
    unclassified = {v: sorted(where) for v, where in reads.items() if v not in given and v not in NOT_SECRET}
    assert unclassified == {}
    assert given - set(TOKENS) <= set(reads)  # the keys are read where the scan says


def test_the_secret_environment_has_every_secret_the_pipeline_reads() -> None:
    environment = secret_environment()
    secret_reads = set(variables_read()) - set(NOT_SECRET)
    assert secret_reads <= set(environment)
    assert "OPENCODE_RELEASE_APT_KEY" in secret_reads and "OPENCODE_REGISTRY_PASSWORD" in secret_reads
    found = markers(environment)
    assert len(set(found.values())) == len(found)  # every marker tells its variable apart
