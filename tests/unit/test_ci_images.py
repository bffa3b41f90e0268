"""Images in the generated CI (build/ci_images.py): built only with a C library to carry, which each image
target's build job takes from its own runner (arm64 too); pushed by the publish job to images.registry or, by
default, the repository's ghcr.io repository; never pushed to a real registry from a simulated run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from opencode_release.build import ci_images, ci_workflow, targets
from opencode_release.cli import program
from opencode_release.core import config, oci
from opencode_release.core.errors import ConfigError
from opencode_release.core.names import SIMULATED_RUNNER, github_owner_name
from opencode_release.images.stages import simulation_note
from opencode_release.release import pipeline
from tests.conftest import PRODUCT, REPO

MUSL = ("linux-x86_64-musl",)


def _settings(**images: Any) -> config.Settings:
    settings = config.load(PRODUCT / "pyproject.toml")
    repository = images.pop("repository", settings.repository)
    return dataclasses.replace(settings, repository=repository, images=dataclasses.replace(settings.images, **images))


def _jobs(settings: config.Settings, channel: str = "stable") -> tuple[dict[str, Any], dict[str, Any]]:
    layout = ci_workflow.Layout.of(settings, REPO)
    merge = ci_workflow.build_workflow(settings, layout)["jobs"]["merge"]
    return merge, ci_workflow.workflow(settings, layout, channel)["jobs"]["publish"]


def _build_job(settings: config.Settings, target: str) -> dict[str, Any]:
    layout = ci_workflow.Layout.of(settings, REPO)
    job: dict[str, Any] = ci_workflow.build_workflow(settings, layout)["jobs"][f"build-{target}"]
    return job


def _carries(job: dict[str, Any]) -> list[int]:
    return [i for i, s in enumerate(job["steps"]) if "opencode-release carry-libc" in s.get("run", "")]


def _collect(job: dict[str, Any], phase: str) -> tuple[int, dict[str, Any]]:
    return next(
        (i, s)
        for i, s in enumerate(job["steps"])
        if "collect --project" in s.get("run", "") and (phase == "merge") == ("--phase publish" not in s["run"])
    )


@pytest.mark.parametrize("registry", ["", "registry.example.org/opencode/cli"])
def test_without_a_c_library_to_carry_ci_builds_and_pushes_no_image(registry: str) -> None:
    settings = _settings(registry=registry, libc_package="")
    merge, publish = _jobs(settings)
    assert ci_images.image_targets(settings) == [] and ci_images.registry(settings) == ""
    assert not [s for s in merge["steps"] if "apt-get" in s.get("run", "")]
    assert not _carries(_build_job(settings, "linux-x86_64-musl"))
    _, collect = _collect(publish, "publish")
    assert "--image-registry" not in collect["run"] and oci.PASSWORD_ENV not in collect["env"]
    assert "packages" not in publish["permissions"]


@pytest.mark.parametrize("channel", ["stable", "nightly"])
def test_musl_images_go_to_the_repositorys_ghcr_by_default_with_musl_carried_by_the_build_job(
    channel: str,
) -> None:
    settings = _settings(targets=MUSL, libc_package="musl", repository="https://github.com/OpenCode/OpenCode.git")
    merge, publish = _jobs(settings, channel)
    assert not [s for s in merge["steps"] if "apt-get" in s.get("run", "")], "the merge runner's packages: unused"
    build = _build_job(settings, "linux-x86_64-musl")
    (carry,) = _carries(build)
    script = build["steps"][carry]["run"]
    assert "--no-install-recommends musl\n" in script and "--target linux-x86_64-musl " in script
    assert carry == len(build["steps"]) - 2 and "upload-artifact" in build["steps"][-1]["uses"], "before the upload"
    _, collect = _collect(publish, "publish")
    assert collect["run"].endswith(" --image-registry ghcr.io/opencode/opencode")
    assert collect["env"][oci.USERNAME_ENV] == "${{ github.actor }}"
    assert collect["env"][oci.PASSWORD_ENV] == "${{ github.token }}"
    assert publish["permissions"]["packages"] == "write"
    # the push runs in the publish phase, after signing: the one job that holds publishing credentials
    assert "publish-image" in [s.name for s in pipeline.ci_phase("publish")]


def test_a_configured_registry_elsewhere_gets_the_environments_secrets() -> None:
    settings = _settings(targets=MUSL, libc_package="musl", registry="registry.example.org/opencode/cli")
    _, publish = _jobs(settings)
    _, collect = _collect(publish, "publish")
    assert collect["run"].endswith(" --image-registry registry.example.org/opencode/cli")
    assert collect["env"][oci.PASSWORD_ENV] == "${{ secrets.REGISTRY_PASSWORD }}"
    assert "packages" not in publish["permissions"]


def test_each_image_target_carries_its_c_library_from_its_own_runner_arm64_too() -> None:
    settings = _settings(libc_package="musl")  # the default images.targets: both musl targets
    assert ci_images.image_targets(settings) == ["linux-x86_64-musl", "linux-aarch64-musl"]
    for target in ("linux-x86_64-musl", "linux-aarch64-musl"):
        job = _build_job(settings, target)
        assert job["runs-on"] == targets.get(target).runner  # the native runner, whose dpkg has that architecture
        (carry,) = _carries(job)
        assert f"--target {target} " in job["steps"][carry]["run"]
    assert not _carries(_build_job(settings, "linux-x86_64-gnu"))  # not an image target


def test_without_images_registry_a_repository_off_github_is_refused() -> None:
    settings = _settings(targets=MUSL, libc_package="musl", repository="https://git.example.org/opencode/cli")
    with pytest.raises(ConfigError, match=r"images.registry is empty and repository .* is not https://github.com"):
        ci_images.registry(settings)


def test_a_simulated_run_pushes_to_loopback_registries_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIMULATED_RUNNER, raising=False)
    assert simulation_note("ghcr.io/opencode/opencode") is None
    monkeypatch.setenv(SIMULATED_RUNNER, "1")
    note = simulation_note("ghcr.io/opencode/opencode")
    assert note is not None and "pushes no image to ghcr.io" in note
    assert simulation_note("127.0.0.1:5000/opencode/opencode") is None
    assert simulation_note("localhost:5000/opencode/opencode") is None


def test_collect_refuses_a_malformed_image_registry_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = program.main(
        ["collect", "--project", str(PRODUCT), "--from", str(tmp_path), "--phase", "publish",
         "--image-registry", "GHCR.io/Owner/Repo"]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--image-registry" in err
    assert list(tmp_path.iterdir()) == []


def test_only_a_github_owner_and_name_give_a_ghcr_repository() -> None:
    assert github_owner_name("https://github.com/NewComer/MyTool.git") == ("NewComer", "MyTool")
    assert github_owner_name("https://github.com/opencode/opencode/") == ("opencode", "opencode")
    for other in ("https://gitlab.com/a/b", "https://github.com/a", "https://github.com/a/b/c", "github.com/a/b", ""):
        assert github_owner_name(other) is None, other
