"""Preflight of a real release: built from the commit alone, and a refusal writes nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from opencode_release.core import config
from opencode_release.core.errors import StageError
from opencode_release.release import pipeline, session, source
from tests.conftest import REPO


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git repository holding README.md, .gitignore and the sample product, committed."""
    root = tmp_path / "repo"
    shutil.copytree(
        REPO / "product", root / "product", ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__")
    )
    (root / "README.md").write_text("readme\n")
    (root / ".gitignore").write_text("__pycache__/\n*.egg-info/\n/dist/\n/.opencode-release/\n/public/\nsecrets.py\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "initial")
    return root


def _real_release(root: Path) -> StageError:
    settings = config.load(root / "product" / "pyproject.toml")
    with pytest.raises(StageError) as caught:
        session.run(settings, pipeline.release_stages(), session.Request(version="1.4.0", snapshot=False, quiet=True))
    return caught.value


def test_porcelain_names_are_read_exactly() -> None:
    state = source.parse_porcelain(b" M README.md\0R  new name.py\0old name.py\0?? a\nb.py\0!! pkg/secrets.py\0")
    assert state.changed == ("README.md", "new name.py")
    assert state.untracked == ("a\nb.py",)
    assert state.ignored == ("pkg/secrets.py",)


def test_a_modified_file_is_named_correctly(checkout: Path) -> None:
    (checkout / "README.md").write_text("changed\n")
    error = _real_release(checkout)
    assert "uncommitted changes (README.md)" in str(error)  # was "EADME.md"


def test_untracked_and_ignored_packaged_files_are_refused_and_nothing_is_written(checkout: Path) -> None:
    package = checkout / "product" / "src" / "opencode_cli"
    (package / "untracked_mod.py").write_text("print('not in the commit')\n")
    (package / "secrets.py").write_text("TOKEN = 'x'\n")  # ignored, but the wheel would take it
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0")  # ignored and never packaged
    error = _real_release(checkout)
    message = str(error)
    assert "untracked files (product/src/opencode_cli/untracked_mod.py)" in message
    assert "ignored files the product would package (product/src/opencode_cli/secrets.py)" in message
    (tree,) = [line for line in message.splitlines() if "the source tree has" in line]  # one line for the rule
    assert "untracked_mod.py" in tree and "secrets.py" in tree and "pyc" not in message
    assert error.exit_code == 1
    assert not (checkout / "dist").exists()  # no ledger, no wheel or sdist started alongside


def test_a_clean_checkout_passes_the_tree_check(checkout: Path) -> None:
    state = source.tree_state(checkout / "product")
    assert state.changed == () and state.untracked == ()
