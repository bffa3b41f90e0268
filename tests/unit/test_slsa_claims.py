"""What docs/slsa.md claims and a program can check, checked against the generated workflows.

Each test below is one **[checked]** mark of the document; the last test keeps their number equal,
so a claim cannot be added to the document without a check, nor a check dropped silently.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from opencode_release.build import ci_pins, ci_workflow
from opencode_release.core import config
from opencode_release.core.errors import ConfigError
from tests.conftest import PRODUCT, REPO

DOC = REPO / "docs" / "slsa.md"
BUILD = ci_workflow.BUILD_WORKFLOW
CALLERS = (".github/workflows/release.yml", ".github/workflows/nightly.yml")
GITHUB_HOSTED = re.compile(r"^(ubuntu|macos|windows)-[\w.-]+$")


def _flows() -> dict[str, dict[str, Any]]:
    rendered = ci_workflow.render(config.load(PRODUCT / "pyproject.toml"), REPO)
    return {path: yaml.safe_load(text) for path, text in rendered.items()}


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def test_l1_provenance_by_actions_attest_in_provenance_mode() -> None:
    attest = _flows()[BUILD]["jobs"]["attest"]
    step = next(s for s in _steps(attest) if s.get("id") == "provenance")
    assert step["uses"].startswith("actions/attest@")
    assert set(step["with"]) <= {"subject-checksums", "show-summary"}  # no predicate: provenance mode


def test_l1_subjects_are_computed_by_the_attest_job_from_what_it_received_and_checked() -> None:
    attest = _flows()[BUILD]["jobs"]["attest"]
    script = "\n".join(s.get("run", "") for s in _steps(attest))
    assert script.index("sha256sum --strict --check") < script.index("xargs sha256sum > ../../provenance.sha256")
    step = next(s for s in _steps(attest) if s.get("id") == "provenance")
    assert step["with"]["subject-checksums"] == "provenance.sha256"


def test_l1_the_release_statement_is_signed_after_its_files_are_checked() -> None:
    attest = _flows()[BUILD]["jobs"]["attest"]
    steps = _steps(attest)
    script = "\n".join(s.get("run", "") for s in steps)
    # every file the merge job's predicate lists is checked, with the subjects, before any signing
    assert "sha256sum --strict --check --quiet ../../subjects.sha256 ../../listed.sha256" in script
    ids = [s.get("id") for s in steps]
    statement = steps[ids.index("release-statement")]
    assert ids.index("provenance") < ids.index("release-statement")
    assert statement["with"]["predicate-type"] == "https://opencode.example.org/release-statement/v1"
    assert "provenance.intoto.json" in script and "release-predicate.json" in statement["with"]["predicate-path"]


def test_l2_hosted_runners_and_images_by_digest() -> None:
    for flow in _flows().values():
        for job in flow["jobs"].values():
            if "runs-on" in job:
                assert GITHUB_HOSTED.match(job["runs-on"]), job["runs-on"]
            for step in _steps(job):
                for image in re.findall(r"(quay\.io/\S+?)(@\S+)? sh -euc", step.get("run", "")):
                    assert image[1] == "@" + ci_pins.IMAGES[image[0]]


def test_l3_the_callers_build_through_the_reusable_workflow() -> None:
    flows = _flows()
    for caller in CALLERS:
        assert flows[caller]["jobs"]["build"]["uses"] == f"./{BUILD}"
        assert not any("build-" in name for name in flows[caller]["jobs"])


def test_l3_only_the_attest_job_requests_an_oidc_token() -> None:
    flows = _flows()
    for path, flow in flows.items():
        for name, job in flow["jobs"].items():
            wants = job.get("permissions", {}).get("id-token") == "write"
            # and the quarterly packet's signer, which runs no project code either (below)
            expected = (path, name) in {(BUILD, "attest"), (CALLERS[1], "procurement-sign")}
            expected = expected or (path in CALLERS and name == "build")
            assert wants == expected, (path, name)
    for name, job in flows[BUILD]["jobs"].items():
        assert "permissions" in job, name  # no job of build.yml inherits the caller's ceiling


def test_l3_the_attest_job_runs_no_project_or_dependency_code() -> None:
    for signer in (_flows()[BUILD]["jobs"]["attest"], _flows()[CALLERS[1]]["jobs"]["procurement-sign"]):
        uses = [s["uses"].split("@")[0] for s in _steps(signer) if "uses" in s]
        assert "actions/checkout" not in uses and "actions/setup-python" not in uses
        script = "\n".join(s.get("run", "") for s in _steps(signer))
        assert not re.search(r"opencode-release|pip|python|uv |\.venv|invoke", script)


def test_l3_every_action_pinned_to_a_commit_from_the_table() -> None:
    for path, flow in _flows().items():
        assert ci_pins.unpinned_uses(path, flow) == []


def test_l3_tools_installed_by_exact_version() -> None:
    scripts = [s.get("run", "") for f in _flows().values() for j in f["jobs"].values() for s in _steps(j)]
    installs = [s for s in scripts if "pip install" in s]
    assert installs and all(f"uv=={ci_pins.UV}" in s for s in installs)


def test_secrets_only_in_jobs_with_an_environment() -> None:
    for path, flow in _flows().items():
        for name, job in flow["jobs"].items():
            text = yaml.safe_dump(job)
            if "secrets." in text:
                publishing = ("publish", "refresh", "procurement", "procurement-publish")
                assert job.get("environment") and name in publishing, (path, name)
                assert job["permissions"].get("id-token") is None
                if name == "procurement":  # the store's read credentials, to list the scope; no key
                    assert set(re.findall(r"secrets\.(\w+)", text)) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def _publishing_scripts() -> dict[str, str]:
    found = {}
    for path, flow in _flows().items():
        for name in ("publish", "refresh"):
            for step in _steps(flow["jobs"].get(name, {})):
                if str(step.get("run", "")).startswith("opencode-release "):
                    found[f"{path}:{name}"] = step["run"]
    return found


def test_store_publish_and_refresh_name_the_bucket() -> None:
    store = config.load(PRODUCT / "pyproject.toml").ci_channel_store()
    scripts = _publishing_scripts()
    assert store.startswith("s3://") and len(scripts) == 3, scripts
    assert all(f"--store {store} " in script for script in scripts.values()), scripts
    # a folder is not a store for CI: the configuration refuses one
    broken = PRODUCT.joinpath("pyproject.toml").read_text().replace(store, "filesystem")
    try:
        config.load_text(broken, PRODUCT / "pyproject.toml")
    except ConfigError as exc:
        assert "channels.ci-storage: found 'filesystem'" in str(exc)
    else:
        raise AssertionError("channels.ci-storage = 'filesystem' loaded")


def test_store_the_refresh_job_holds_role_keys_but_never_the_root_key() -> None:
    flow = _flows()[".github/workflows/nightly.yml"]
    (step,) = [s for s in _steps(flow["jobs"]["refresh"]) if "--refresh" in s.get("run", "")]
    keys = {k.removeprefix("OPENCODE_RELEASE_TUF_").removesuffix("_KEY").lower() for k in step["env"] if "_TUF_" in k}
    assert keys == {"targets", "release", "nightly", "snapshot", "timestamp"}
    assert step["env"]["OPENCODE_RELEASE_APT_KEY"] == "${{ secrets.APT_SIGNING_KEY }}"  # the suites' Valid-Until


def test_no_in_toto_key_in_any_workflow() -> None:
    for path, text in ci_workflow.render(config.load(PRODUCT / "pyproject.toml"), REPO).items():
        assert "INTOTO" not in text.upper().replace("INTOTO.JSON", ""), path


def test_every_checked_mark_in_the_document_has_a_test_here() -> None:
    marks = DOC.read_text(encoding="utf-8").count("**[checked")
    tests = [name for name in globals() if name.startswith("test_") and "checked_mark" not in name]
    assert marks == len(tests), (marks, tests)
