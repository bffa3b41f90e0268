"""The console script: every command has --help, exit codes 0/1/2, one JSON document under --json."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opencode_release.cli import program
from opencode_release.cli.command import SHORT_FLAGS
from opencode_release.cli.registry import commands
from opencode_release.verify import identity_policy
from tests.conftest import PRODUCT

SCRIPT = Path(sys.executable).parent / "opencode-release"
NAMES = sorted(c.name for c in commands())


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = program.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    top = program.parser()
    action = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", NAMES)
def test_every_command_has_its_own_help(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = _main(capsys, name, "--help")
    assert code == 0
    assert out.startswith(f"usage: opencode-release {name}")
    assert "exit codes:" in out and "2  usage or bad input" in out


def test_top_help_lists_every_command_and_no_invoke_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(capsys, "--help")
    assert code == 0
    for name in NAMES:
        assert f"    {name} " in out or f"    {name}\n" in out
    for foreign in ("--prompt-for-sudo-password", "--write-pyc", "--dry ", " test "):
        assert foreign not in out


def test_a_short_flag_means_one_thing_across_commands() -> None:
    meaning: dict[str, set[str]] = {}
    for parser in _subparsers().values():
        for action in parser._actions:
            longs = {s for s in action.option_strings if s.startswith("--")}
            for short in (s for s in action.option_strings if not s.startswith("--")):
                meaning.setdefault(short, set()).update(longs)
    assert all(len(longs) == 1 for longs in meaning.values()), meaning
    for short, longs in meaning.items():
        if short != "-h":
            assert SHORT_FLAGS[next(iter(longs))] == short


@pytest.mark.parametrize("name", NAMES)
def test_unknown_flag_exits_2_with_one_json_document(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = _main(capsys, name, "--no-such-flag", "--json")
    assert code == 2
    document = json.loads(out)
    assert document["ok"] is False and document["exit_code"] == 2
    assert document["command"] == name
    assert err.startswith("error: ") and "Traceback" not in err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main(capsys)
    assert code == 2 and "COMMAND" in err


TAKES_PROJECT = sorted(
    name for name, parser in _subparsers().items() if any("--project" in a.option_strings for a in parser._actions)
)
REQUIRED = {"verify": ["x"], "verify-release": ["x"], "yank": ["1.0.0", "--reason", "r"], "ci": ["--check"]}
REQUIRED["collect"] = ["--from", "x"]
REQUIRED["procurement"] = ["--quarter", "2026-Q4"]
REQUIRED["reproduce"] = ["--version", "1.4.0"]
REQUIRED["update-check"] = ["--repo", "file:///nowhere"]


# verify, verify-release and verify-image read --project only for --instance local: covered below with --instance local.
@pytest.mark.parametrize("name", [n for n in TAKES_PROJECT if n not in ("verify", "verify-release", "verify-image")])
def test_a_missing_project_exits_2_naming_it(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> None:
    nowhere = tmp_path / "nowhere"
    code, out, err = _main(capsys, name, *REQUIRED.get(name, []), "--project", str(nowhere), "--json")
    assert code == 2, err
    document = json.loads(out)
    assert document["exit_code"] == 2 and str(nowhere) in document["error"]
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


NEWCOMER_PROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "mytool"
version = "0.3.0"
description = "A small tool of a newcomer"
license = "Apache-2.0"
authors = [{ name = "Ada Newcomer", email = "ada@example.net" }]
dependencies = ["click>=8.1,<9"]

[project.urls]
Repository = "https://github.com/newcomer/mytool"

[project.scripts]
mytool = "mytool.cli:main"
"""


def _newcomer(folder: Path) -> Path:
    (folder / "src" / "mytool").mkdir(parents=True)
    (folder / "src" / "mytool" / "__init__.py").write_text("")
    (folder / "src" / "mytool" / "cli.py").write_text("def main() -> None:\n    print('mytool')\n")
    (folder / "pyproject.toml").write_text(NEWCOMER_PROJECT)
    return folder


def test_init_writes_the_table_workflows_and_ignores_then_check_passes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product = _newcomer(tmp_path)
    code, out, _ = _main(capsys, "init", "--project", str(product), "--dry-run", "--json")
    assert code == 0 and json.loads(out)["written"] == []
    assert "tool.opencode-release" not in (product / "pyproject.toml").read_text()
    code, out, err = _main(capsys, "init", "--project", str(product), "--json")
    assert code == 0, err
    written = json.loads(out)["written"]
    assert {Path(p).name for p in written} == {
        "pyproject.toml",
        "identity-policy.toml",
        "release.yml",
        "nightly.yml",
        "build.yml",
        ".gitignore",
    }
    assert (product / ".gitignore").read_text().split() == ["dist/", "public/", ".opencode-release/"]
    text = (product / "pyproject.toml").read_text()
    assert text.startswith(NEWCOMER_PROJECT.rstrip("\n")) and "entry point 'mytool.cli:main'" in text
    # The product's own trust: its repository's workflows per channel, its local identity and builder.
    policy = str(product / "identity-policy.toml")
    local = identity_policy.load_policy("local", policy, {})
    assert (local.identity, local.source_repository) == ("release@mytool.local", "https://github.com/newcomer/mytool")
    assert local.builder_id == "https://github.com/newcomer/mytool/opencode-release/local-snapshot@v1"
    stable = identity_policy.load_policy("production", policy, {}, "stable")
    assert stable.identity == "https://github.com/newcomer/mytool/.github/workflows/build.yml@refs/tags/v*"
    assert stable.claims["source-repository-uri"] == "https://github.com/newcomer/mytool"
    nightly = identity_policy.load_policy("staging", policy, {}, "nightly")
    assert nightly.claims["build-signer-uri"].endswith("/newcomer/mytool/.github/workflows/build.yml@refs/heads/main")
    assert "opencode" not in (product / "identity-policy.toml").read_text().replace("opencode-release", "")
    code, out, err = _main(capsys, "check", "--project", str(product), "--json")
    assert code == 0, out + err
    assert json.loads(out)["problems"] == []
    # A second init refuses: the table is there.
    code, _, err = _main(capsys, "init", "--project", str(product))
    assert code == 2 and "already has a [tool.opencode-release] table" in err


def test_init_refuses_a_product_with_nothing_to_compile_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product = _newcomer(tmp_path)
    (product / "pyproject.toml").write_text(NEWCOMER_PROJECT.replace('mytool = "mytool.cli:main"', ""))
    before = sorted(p.name for p in product.iterdir())
    code, _, err = _main(capsys, "init", "--project", str(product))
    assert code == 2 and "no __main__.py and no console script to compile" in err
    assert sorted(p.name for p in product.iterdir()) == before
    assert "tool.opencode-release" not in (product / "pyproject.toml").read_text()


def test_check_lists_every_problem_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    product = _newcomer(tmp_path)
    text = NEWCOMER_PROJECT.replace("mytool.cli:main", "mytool.missing:main")
    text += '[tool.opencode-release]\n[tool.opencode-release.signing]\ninstance = "production"\n'
    (product / "pyproject.toml").write_text(text)
    code, out, err = _main(capsys, "check", "--project", str(product), "--json")
    assert code == 1
    problems = json.loads(out)["problems"]
    assert any("entry point 'mytool.missing:main' is not a module" in p for p in problems)
    assert any("signing.keys-dir: empty" in p for p in problems)
    assert len(problems) == 2 and err.splitlines()[-1].startswith("error: 2 problems in")
    # Told the local instance's identity, production is not fooled.
    (product / "pyproject.toml").write_text(text + 'identity = "release@mytool.local"\n')
    code, out, _ = _main(capsys, "check", "--project", str(product), "--json")
    assert code == 1
    assert any(
        "signing.identity 'release@mytool.local' is the local instance's" in p for p in json.loads(out)["problems"]
    )


def test_check_of_a_broken_table_exits_2_with_every_mistake(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    product = _newcomer(tmp_path)
    (product / "pyproject.toml").write_text(
        NEWCOMER_PROJECT + '[tool.opencode-release]\ncolour = 1\ntargets = ["beos"]\n'
    )
    code, out, err = _main(capsys, "check", "--project", str(product), "--json")
    assert code == 2
    assert len(json.loads(out)["error"].splitlines()) == 2
    assert [line.split(": ")[2] for line in err.splitlines()] == [
        "tool.opencode-release",
        "tool.opencode-release.targets",
    ]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["calendar", "--from", "2026-03-01", "--count", "2"], 0),
        (["calendar", "--count", "0"], 2),
        (["calendar", "--from", "tomorrow"], 2),
        (["update-check", "--repo", "http://127.0.0.1:9/public", "--cache", "{tmp}/cache", "--trust-on-first-use"], 1),
        (["update-check", "--repo", "http://127.0.0.1:9/public", "--cache", "{tmp}/cache"], 2),  # no root
        (["update-check"], 2),
        (["verify", "{tmp}/missing.tar.gz", "--instance", "local", "--project", "{tmp}"], 2),
        (["verify-release", "{tmp}", "--instance", "moon"], 2),
        (["verify-image", "127.0.0.1:9/o/x:1.4.0", "--instance", "local", "--project", "{tmp}"], 2),
        (["verify-image", "not a reference"], 2),
        (["verify-image", "127.0.0.1:9/o/x:1.4.0"], 1),  # unreachable: a failed check, one line
        (["publish-image", "--project", "{product}"], 2),  # no registry configured or given
        (["yank", "1.4.0"], 2),
        (["yank", "not-a-version", "--reason", "r"], 2),
        (["ci"], 2),
        (["collect", "--from", "{tmp}/none", "--phase", "sideways"], 2),
        (["publish", "--project", "{product}", "--version", "9.9.9"], 1),
        (["clean", "--project", "{product}", "--dry-run"], 0),
        (["plan", "--project", "{product}", "--version", "1.4"], 2),
        (["build", "--project", "{product}", "--target", "linux-sparc-gnu"], 2),
        (["release", "--project", "{product}", "--version", "9.9.9", "--dry-run"], 1),  # preflight refuses
        (["release", "--project", "{product}", "--skip", "bogus", "--snapshot", "--dry-run"], 2),
        (["nightly", "--project", "{product}", "--snapshot", "--dry-run"], 0),
        (["procurement", "--project", "{product}", "--quarter", "2026-Q4", "--dry-run"], 1),  # nothing in scope
        (["procurement", "--project", "{product}", "--quarter", "2026-Q9"], 2),
        (["init", "--project", "{product}"], 2),  # it has the table already
        (["attest", "--project", "{product}", "--version", "9.9.9"], 1),
        (["package", "--project", "{product}", "--version", "9.9.9"], 1),
        (["manifests", "--project", "{product}", "--version", "9.9.9"], 1),
        (["upload-index", "--project", "{product}", "--version", "9.9.9"], 1),
    ],
)
def test_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], code: int) -> None:
    product = tmp_path / "product"
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    filled = [a.replace("{tmp}", str(tmp_path)).replace("{product}", str(product)) for a in argv]
    got, out, err = _main(capsys, *filled, "--json")
    assert got == code, out + err
    document = json.loads(out)
    assert document["ok"] is (code == 0) and document["exit_code"] == code
    assert "Traceback" not in err and (code == 0) == (not err.strip() or "error:" not in err)
    if "9.9.9" in filled:  # no such release: nothing is started, no ledger left behind
        assert not (tmp_path / "dist" / "9.9.9").exists()


def test_the_console_script_and_invoke_give_the_same_answer(tmp_path: Path) -> None:
    script = subprocess.run(
        [str(SCRIPT), "calendar", "--from", "2026-03-01", "--count", "2", "--json"], capture_output=True, text=True
    )
    task = subprocess.run(
        [sys.executable, "-m", "invoke", "calendar", "--from", "2026-03-01", "--count", "2", "--json"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert script.returncode == task.returncode == 0, script.stderr + task.stderr
    assert json.loads(script.stdout) == json.loads(task.stdout)
    bad = subprocess.run([str(SCRIPT), "calendar", "--count", "zero"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_check_refuses_a_dependency_that_does_not_resolve_in_the_build_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    product = _newcomer(tmp_path)
    text = NEWCOMER_PROJECT.replace('"click>=8.1,<9"', '"click>=8.1,<9", "click>=99"') + "[tool.opencode-release]\n"
    (product / "pyproject.toml").write_text(text)
    code, out, _ = _main(capsys, "check", "--project", str(product), "--json")
    assert code == 1
    problems = json.loads(out)["problems"]
    assert len(problems) == 1 and "dependencies" in problems[0]


def test_calendar_lists_the_changelogs_deprecations_in_force(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(capsys, "calendar", "--project", str(PRODUCT), "--from", "2026-12-02", "--json")
    assert code == 0, err
    found = json.loads(out)["deprecations"]
    # 1.4.0 removed the legacy token; the global file (1.3.0) is still deprecated, due for 2.0.0.
    assert [(d["subject"], d["since"], d["removal"]) for d in found] == [
        ("opencode config --global-file", "1.3.0", "2.0.0")
    ]


def test_a_distributors_verification_starts_without_the_pipeline(tmp_path: Path) -> None:
    """`verify` and `verify-release` import only their own module: the table that says so is right,
    and a run of the console script loads none of the pipeline (start-up is most of a small check)."""
    from opencode_release.cli import registry, verify

    for module, names in registry.STANDALONE.items():
        assert tuple(c.name for c in registry.commands((module,))) == names
    assert registry.STANDALONE["verify"] == tuple(c.name for c in verify.COMMANDS)
    assert [c.name for c in registry.for_argv(["--json", "verify-release", "x"])] == list(registry.STANDALONE["verify"])
    assert len(registry.for_argv(["release"])) == len(NAMES)
    probe = (
        "import json, sys\n"
        "from opencode_release.cli import program\n"
        "code = program.main(sys.argv[1:])\n"
        "print(json.dumps([code, sorted({m.split('.')[1] for m in sys.modules if m.startswith('opencode_release.')})]))\n"
    )
    root = tmp_path / "trusted_root.json"
    root.write_text("{}", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-c", probe, "verify-release", str(tmp_path), "--trusted-root", str(root), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    code, parts = json.loads(run.stdout.splitlines()[-1])
    assert code == 2 and "not a usable Sigstore trusted root" in run.stderr
    assert parts == ["cli", "core", "verify"]
