"""Disable each check the verify report can print, one at a time, and show that a test then fails.

Reproduce:  .venv/bin/python -m tests.check_mutations [--jobs 2] [CHECK ...]

The check names are read from opencode_release/verify/ itself (`report_names`):
every name a failed row can carry (`VerificationError(artifact, "<check>", ...)`,
the `bundle-format`/`sigstore` constants, the release statement's `_refuse`, a
row built with a check, a name handed to a helper's `check` parameter) and every
name a passed row lists (`passed.append`, `RELEASE_CHECKS`, the policy rules of
`CLAIMS` with `issuer` and `identity`).

Disabling check X, in a copy of the package (`_Disable`):
- a raise of X (literal or constant) becomes `pass`, and so does `raise _refuse(...)` for
  `release-statement`;
- a raise whose check is computed (a helper's `check` parameter, a policy refusal's
  `exc.check`) is kept only for other checks: `if <check> != X: raise ...`;
- a row built with check X (`Row(..., X, reason)`) is built passing;
- a policy rule named X (identity_policy.Rule) accepts every certificate.
The tests whose source names X run against the copy (PYTHONPATH first, so the console
script that some tests start imports it too) with `-x`; the first failing test is the
one that caught the mutation. The table lists, per check, the sites disabled and that
test; a check with no site or that no test catches fails the script (exit 1).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VERIFY = REPO / "opencode_release" / "verify"
TESTS = [
    "tests/unit/test_verify_trust.py",
    "tests/unit/test_identity_policy_claims.py",
    "tests/integration/test_verify_release_checks.py",
    "tests/integration/test_procurement_packet.py",
    "tests/unit/test_procurement.py",
    "tests/integration/test_image_verify.py",
    "tests/integration/test_image_ci_release.py",
]
CONSTANTS = {"FORMAT": "bundle-format", "SIGSTORE": "sigstore"}
RULES = ("issuer", "identity")  # plus every key of identity_policy.CLAIMS, read from the source


def _text(node: ast.AST | None) -> str | None:
    """A check name written as a literal or as one of the named constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    return CONSTANTS.get(name or "")


def _callee(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def _check_param_positions(trees: list[ast.Module]) -> dict[str, int]:
    """Helpers that take the check name as a parameter called `check`, and its position."""
    found = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
                if "check" in names:
                    found[node.name] = names.index("check")
    return found


def _claims(trees: list[ast.Module]) -> list[str]:
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.AnnAssign) or not isinstance(node.value, ast.Dict):
                continue
            if isinstance(node.target, ast.Name) and node.target.id == "CLAIMS":
                return [str(k.value) for k in node.value.keys if isinstance(k, ast.Constant)]
    return []


def report_names() -> dict[str, str]:
    """Every check name the report can print, with where the code names it (for the table)."""
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in sorted(VERIFY.glob("*.py"))]
    params = _check_param_positions(trees)
    names: dict[str, set[str]] = {rule: {"policy rule"} for rule in (*RULES, *_claims(trees))}

    def add(name: str | None, how: str) -> None:
        if name:
            names.setdefault(name, set()).add(how)

    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                if _callee(node.exc) == "_refuse":
                    add("release-statement", "raise")
                elif _callee(node.exc) == "VerificationError" and len(node.exc.args) >= 2:
                    add(_text(node.exc.args[1]), "raise")
            elif isinstance(node, ast.Call) and _callee(node) == "Row" and len(node.args) >= 4:
                add(_text(node.args[3]), "failed row")
            elif isinstance(node, ast.Call) and _callee(node) in params and len(node.args) > params[_callee(node)]:
                add(_text(node.args[params[_callee(node)]]), "helper's check")
            elif isinstance(node, ast.Call) and _callee(node) == "append" and getattr(node.func, "value", None):
                if getattr(node.func.value, "id", "") == "passed":  # type: ignore[attr-defined]
                    add(_text(node.args[0]) if node.args else None, "passed")
            elif isinstance(node, ast.AugAssign) and getattr(node.target, "id", "") == "passed":
                for element in getattr(node.value, "elts", []):
                    add(_text(element), "passed")
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "RELEASE_CHECKS" for t in node.targets):
                for element in getattr(node.value, "elts", []):
                    add(_text(element), "release check")
    return {name: ", ".join(sorted(hows)) for name, hows in names.items()}


class _Disable(ast.NodeTransformer):
    """Disables `check` in one module; counts the sites that name it (`named`: raises, rows,
    calls handing it to a helper's `check` parameter) and the computed raises it guards."""

    def __init__(self, check: str, params: dict[str, int]) -> None:
        self.check = check
        self.params = params
        self.named = 0
        self.guarded = 0
        self._in_rule = False

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        call = node.exc
        if not isinstance(call, ast.Call):
            return node
        if _callee(call) == "_refuse" and self.check == "release-statement":
            self.named += 1
            return ast.copy_location(ast.Pass(), node)
        if _callee(call) != "VerificationError" or len(call.args) < 2:
            return node
        named = _text(call.args[1])
        if named == self.check:
            self.named += 1
            return ast.copy_location(ast.Pass(), node)
        if named is None:  # computed: raise only for the other checks
            self.guarded += 1
            test = ast.Compare(left=call.args[1], ops=[ast.NotEq()], comparators=[ast.Constant(self.check)])
            return ast.copy_location(ast.If(test=test, body=[node], orelse=[]), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if _callee(node) == "Row" and len(node.args) >= 4 and _text(node.args[3]) == self.check:
            self.named += 1
            node.args = [*node.args[:3]]  # no check, no reason: a passing row
        position = self.params.get(_callee(node))
        if position is not None and len(node.args) > position and _text(node.args[position]) == self.check:
            self.named += 1  # what disables it is the helper's guarded raise
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        if node.name == "verify" and self._in_rule:
            guard = ast.parse(f"if self.check == {self.check!r}:\n    return").body[0]
            node.body.insert(0, guard)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._in_rule = node.name == "Rule"
        self.generic_visit(node)
        self._in_rule = False
        return node


def mutate(into: Path, check: str) -> tuple[int, int]:
    """A checkout in `into` (package and tests copied, product linked) with `check` disabled;
    the sites that name it and the computed raises guarded."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "opencode_release", into / "opencode_release", ignore=ignore)
    shutil.copytree(REPO / "tests", into / "tests", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", into / "pyproject.toml")
    (into / "product").symlink_to(REPO / "product")
    paths = sorted((into / "opencode_release" / "verify").glob("*.py"))
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in paths]
    params = _check_param_positions(trees)
    named = guarded = 0
    for path, tree in zip(paths, trees, strict=True):
        change = _Disable(check, params)
        path.write_text(ast.unparse(ast.fix_missing_locations(change.visit(tree))) + "\n", encoding="utf-8")
        named, guarded = named + change.named, guarded + change.guarded
    return named, guarded


def tests_naming(check: str) -> list[str]:
    """The tests whose source names the check (quoted, or as the start of an expected message
    `check: reason`): the ones meant to catch it."""

    def names(value: object) -> bool:
        return isinstance(value, str) and (value == check or value.startswith(f"{check}: "))

    found = []
    for test_file in TESTS:
        tree = ast.parse((REPO / test_file).read_text(encoding="utf-8"))
        for node in tree.body:
            named = any(isinstance(n, ast.Constant) and names(n.value) for n in ast.walk(node))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and named:
                found.append(f"{test_file}::{node.name}")
    return found or TESTS


def run(check: str, is_rule: bool) -> tuple[int, int, str, float]:
    """Sites naming the check (a policy rule counts as one), computed raises guarded,
    the first test that failed ("" if none), seconds."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{check}-") as folder:
        named, guarded = mutate(Path(folder), check)
        # The copy comes first on the path, for pytest and for the console script its tests start.
        env = {**os.environ, "PYTHONPATH": folder}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", *tests_naming(check), "-x", "-q", "-p", "no:cacheprovider"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
    caught = [line.split(" ", 1)[1].split(" - ")[0] for line in proc.stdout.splitlines() if line.startswith("FAILED ")]
    return named + int(is_rule), guarded, (caught[0] if proc.returncode != 0 and caught else ""), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checks", nargs="*", help="check names (default: every one the report can print)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="mutants tested at once")
    args = parser.parse_args()
    known = report_names()
    wanted = args.checks or sorted(known)
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise SystemExit(f"not a check the report can print: {', '.join(unknown)}")
    print(f"{'check':24} {'named by':34} {'sites':>5}  caught by (the first test that failed)")
    started = time.perf_counter()
    missed = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = pool.map(lambda c: (c, run(c, "policy rule" in known[c])), wanted)
        for check, (named, guarded, caught, seconds) in results:
            verdict = caught if caught and named else ("NO SITE NAMES IT" if not named else "NOT CAUGHT")
            print(
                f"{check:24} {known[check]:34} {named:5}  {verdict}  ({seconds:.0f} s, {guarded} computed raises guarded)"
            )
            sys.stdout.flush()
            if not (caught and named):
                missed.append(check)
    elapsed = time.perf_counter() - started
    print(f"{len(wanted) - len(missed)} of {len(wanted)} checks: disabling each makes a test fail ({elapsed:.0f} s)")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
