"""Disable each verifier check in turn and show that at least one test then fails.

Reproduce:  .venv/bin/python -m tests.check_mutations [CHECK ...]

For a check name, every `raise` of that check in opencode_release/verify/
(a `VerificationError(..., "<check>", ...)`, the `bundle-format`/`sigstore`
constants, the release statement's `_refuse`) becomes `pass`, and a policy
rule of that name (identity_policy.Rule) accepts every certificate. The
mutated package is a copy on PYTHONPATH (the console script in subprocess
tests imports it too); the tests whose source names the check run against
it with `-x`, and the script prints which test caught the mutation. A check
no test catches is printed as NOT CAUGHT and the script exits 1.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VERIFY = REPO / "opencode_release" / "verify"
TESTS = [
    "tests/unit/test_verify_trust.py",
    "tests/unit/test_identity_policy_claims.py",
    "tests/integration/test_verify_release_checks.py",
]
CONSTANTS = {"FORMAT": "bundle-format", "SIGSTORE": "sigstore"}
RULES = (
    "issuer",
    "identity",
    "build-signer-uri",
    "source-repository-uri",
    "source-repository-ref",
    "runner-environment",
)


def _check_of(node: ast.Raise) -> str | None:
    call = node.exc
    if not isinstance(call, ast.Call):
        return None
    func = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
    if func == "_refuse":
        return "release-statement"
    if func != "VerificationError" or len(call.args) < 2:
        return None
    arg = call.args[1]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    name = arg.id if isinstance(arg, ast.Name) else getattr(arg, "attr", None)
    return CONSTANTS.get(name or "")


def sites() -> dict[str, list[tuple[str, int]]]:
    """Every check name raised in verify/, with (file, line) of each raise."""
    found: dict[str, list[tuple[str, int]]] = {rule: [("identity_policy.py", 0)] for rule in RULES}
    for path in sorted(VERIFY.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and (check := _check_of(node)):
                found.setdefault(check, []).append((path.name, node.lineno))
    return found


class _Disable(ast.NodeTransformer):
    def __init__(self, check: str) -> None:
        self.check = check
        self.count = 0

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        if _check_of(node) == self.check:
            self.count += 1
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        if node.name == "verify" and self.check in RULES and getattr(self, "_in_rule", False):
            guard = ast.parse(f"if self.check == {self.check!r}:\n    return").body[0]
            node.body.insert(0, guard)
            self.count += 1
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._in_rule = node.name == "Rule"
        self.generic_visit(node)
        self._in_rule = False
        return node


def mutate(into: Path, check: str) -> int:
    """A checkout in `into` (package and tests copied, product linked) with `check` disabled."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "opencode_release", into / "opencode_release", ignore=ignore)
    shutil.copytree(REPO / "tests", into / "tests", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", into / "pyproject.toml")
    (into / "product").symlink_to(REPO / "product")
    count = 0
    for path in sorted((into / "opencode_release" / "verify").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        change = _Disable(check)
        tree = ast.fix_missing_locations(change.visit(tree))
        if change.count:
            path.write_text(ast.unparse(tree) + "\n", encoding="utf-8")
            count += change.count
    return count


def tests_naming(check: str) -> list[str]:
    """The tests whose source names the check (quoted): the ones meant to catch it."""
    found = []
    for test_file in TESTS:
        tree = ast.parse((REPO / test_file).read_text(encoding="utf-8"))
        for node in tree.body:
            named = any(isinstance(n, ast.Constant) and n.value == check for n in ast.walk(node))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and named:
                found.append(f"{test_file}::{node.name}")
    return found or TESTS


def run(check: str) -> tuple[int, str, float]:
    with tempfile.TemporaryDirectory(prefix=f"mutant-{check}-") as folder:
        count = mutate(Path(folder), check)
        # The copy comes first on the path, for pytest and for the console script its tests start.
        env = {**os.environ, "PYTHONPATH": folder}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", *tests_naming(check), "-x", "-q", "-p", "no:cacheprovider"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
    caught = [line.split(" ", 1)[1].split(" - ")[0] for line in proc.stdout.splitlines() if line.startswith("FAILED ")]
    return count, (caught[0] if proc.returncode != 0 and caught else ""), seconds


def main() -> None:
    known = sites()
    wanted = sys.argv[1:] or sorted(known)
    missed = []
    for check in wanted:
        count, caught, seconds = run(check)
        print(
            f"{check:24} {count:2} raise(s) disabled  {'caught by ' + caught if caught else 'NOT CAUGHT'}  ({seconds:.0f} s)"
        )
        sys.stdout.flush()
        if not caught:
            missed.append(check)
    print(f"{len(wanted) - len(missed)} of {len(wanted)} checks: disabling each makes a test fail")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
