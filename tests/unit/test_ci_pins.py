"""Every action the workflows use is pinned to a full commit from one table; images by digest."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from opencode_release.build import ci_pins, ci_workflow
from opencode_release.core import config
from opencode_release.core.errors import UsageError
from tests.conftest import PRODUCT, REPO

SCRIPT = Path(sys.executable).parent / "opencode-release"


def _rendered() -> dict[str, str]:
    return ci_workflow.render(config.load(PRODUCT / "pyproject.toml"), REPO)


def test_every_uses_is_a_pinned_commit_with_its_version_beside_it() -> None:
    seen = set()
    for path, text in _rendered().items():
        assert ci_pins.unpinned_uses(path, yaml.safe_load(text)) == []
        for line in text.splitlines():
            if line.strip().startswith(("uses:", "- uses:")) and "./" not in line:
                match = re.fullmatch(r"\s*(?:- )?uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v[\d.]+)", line)
                assert match, line
                action, commit, version = match.groups()
                assert ci_pins.ACTIONS[action] == ci_pins.Pin(commit, version)
                seen.add(action)
    assert {"actions/checkout", "actions/upload-artifact", "actions/download-artifact"} <= seen


def test_the_pins_table_holds_full_commits_and_image_digests() -> None:
    for pin in ci_pins.ACTIONS.values():
        assert ci_pins.FULL_COMMIT.fullmatch(pin.commit) and pin.version.startswith("v")
    for digest in ci_pins.IMAGES.values():
        assert ci_pins.DIGEST.fullmatch(digest)


def test_container_images_are_pulled_by_digest() -> None:
    images = re.findall(r"docker run .*? (quay\.io/\S+) sh -euc", _rendered()[ci_workflow.BUILD_WORKFLOW])
    assert len(images) == 4
    for image in images:
        name, _, digest = image.partition("@")
        assert ci_pins.IMAGES[name] == digest


@pytest.mark.parametrize(
    "reference",
    ["actions/checkout@v4", "actions/checkout@main", "actions/checkout@3d3c42e", "actions/checkout", "a/b@" + "G" * 40],
)
def test_a_tag_branch_short_or_missing_pin_is_refused(reference: str) -> None:
    with pytest.raises(UsageError, match="is not pinned to a full commit"):
        ci_pins.refuse_unpinned(".github/workflows/x.yml", reference)
    document = {"jobs": {"j": {"steps": [{"uses": reference}]}}}
    assert len(ci_pins.unpinned_uses("x.yml", document)) == 1


def test_local_and_commit_pins_pass() -> None:
    document = {
        "jobs": {
            "a": {"uses": "./.github/workflows/build.yml"},
            "b": {"steps": [{"uses": ci_pins.uses("actions/cache")}]},
        }
    }
    assert ci_pins.unpinned_uses("x.yml", document) == []


def test_ci_check_refuses_a_tag_pinned_workflow_beside_the_generated_ones(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(PRODUCT, tmp_path / "product", ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    shutil.copytree(REPO / ".github", tmp_path / ".github")
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")  # this repository's own layout
    (tmp_path / ".github/workflows/lint.yml").write_text(
        "on: push\njobs:\n  lint:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n"
    )
    proc = subprocess.run([str(SCRIPT), "ci", "--check"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: .github/workflows/lint.yml: uses 'actions/checkout@v4' is not pinned to a full commit; pin it in "
        "opencode_release/build/ci_pins.py (the tag's commit, version in the comment) (job lint)"
    )
