"""The console script: one-line errors with exit code 2, nothing written, --json plans."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opencode_release.build import targets
from opencode_release.core.errors import TargetError
from tests.conftest import PRODUCT, write_project

SCRIPT = Path(sys.executable).parent / "opencode-release"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    project = write_project(tmp_path, 'name = "o"\npackage = "p"\ntargets = ["linux-sparc-gnu"]\ndist-dir = "out"\n')
    proc = _run("release", "--snapshot", "--project", str(project), cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {project}: tool.opencode-release.targets: unknown target")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_missing_project_says_what_to_pass(tmp_path: Path) -> None:
    proc = _run("plan", "--project", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert proc.returncode == 2 and "no such file; pass --project DIR" in proc.stderr


def test_foreign_target_names_where_it_builds(tmp_path: Path) -> None:
    product = tmp_path / "product"
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    proc = _run("build", "--target", "darwin-arm64", "--project", str(product), cwd=tmp_path)
    assert proc.returncode == 2
    assert "target darwin-arm64 cannot be built on this" in proc.stderr
    assert "runner macos-14" in proc.stderr
    assert not (tmp_path / "dist").exists()


def test_plan_json_lists_stages_and_changes_nothing(tmp_path: Path) -> None:
    product = tmp_path / "product"
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    proc = _run("plan", "--snapshot", "--json", "--project", str(product), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    names = [s["name"] for s in plan["stages"]]
    assert names[:2] == ["preflight", "build"] and "checksum" in names
    # Preflight really runs (it refuses what the release would refuse); the rest is planned.
    assert plan["stages"][0]["status"] == "ran"
    assert {s["status"] for s in plan["stages"][1:]} <= {"planned", "skipped"}
    assert not (tmp_path / "dist").exists()


def test_clean_dry_run_removes_nothing(tmp_path: Path) -> None:
    product = tmp_path / "product"
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    (tmp_path / "dist" / "1.4.0").mkdir(parents=True)
    proc = _run("clean", "--dry-run", "--project", str(product), cwd=tmp_path)
    assert proc.returncode == 0 and "would remove" in proc.stdout
    assert (tmp_path / "dist" / "1.4.0").is_dir()


def test_universal_target_is_merged_not_compiled() -> None:
    with pytest.raises(TargetError, match="merged from darwin-arm64 and darwin-x86_64"):
        targets.check_buildable_here("darwin-universal")


def test_unknown_target_lists_the_known_ones() -> None:
    with pytest.raises(TargetError, match="unknown target 'beos'; expected one of darwin-x86_64"):
        targets.get("beos")
