"""Images in the generated CI (build/ci_images.py): built only with a C library to carry, which the merge job
installs; pushed by the publish job to images.registry or, by default, the repository's ghcr.io repository;
never pushed to a real registry from a simulated run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from opencode_release.build import ci_images, ci_workflow
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


def _collect(job: dict[str, Any], phase: str) -> tuple[int, dict[str, Any]]:
    return next(
        (i, s)
        for i, s in enumerate(job["steps"])
        if "collect --project" in s.get("run", "") and (phase == "merge") == ("--phase publish" not in s["run"])
    )


@pytest.mark.parametrize("registry", ["", "registry.example.org/opencode/cli"])
def test_without_a_c_library_to_carry_ci_builds_and_pushes_no_image(registry: str) -> None:
    settings = _settings(registry=registry)
    merge, publish = _jobs(settings)
    assert ci_images.image_targets(settings) == [] and ci_images.registry(settings) == ""
    assert not [s for s in merge["steps"] if "apt-get" in s.get("run", "")]
    _, collect = _collect(publish, "publish")
    assert "--image-registry" not in collect["run"] and oci.PASSWORD_ENV not in collect["env"]
    assert "packages" not in publish["permissions"]


@pytest.mark.parametrize("channel", ["stable", "nightly"])
def test_musl_images_go_to_the_repositorys_ghcr_by_default_with_musl_installed_before_the_merge(
    channel: str,
) -> None:
    settings = _settings(targets=MUSL, libc_package="musl", repository="https://github.com/OpenCode/OpenCode.git")
    merge, publish = _jobs(settings, channel)
    index, _ = _collect(merge, "merge")
    installs = [i for i, s in enumerate(merge["steps"]) if "apt-get install" in s.get("run", "")]
    assert installs == [index - 1] and "--no-install-recommends musl\n" in merge["steps"][index - 1]["run"]
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


def test_an_arm64_image_is_refused_when_the_workflows_are_generated() -> None:
    settings = _settings(libc_package="musl")  # the default images.targets: both musl targets
    with pytest.raises(ConfigError, match=r"images.targets linux-aarch64-musl: CI's merge job builds images on an "):
        _jobs(settings)


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
