"""source.describe on a checkout another user owns, as a CI job sees actions/checkout's clone.

git refuses a repository whose owner is not the caller ("detected dubious ownership") unless the
global configuration marks it safe; on a runner that configuration is the runner's, named by
GIT_CONFIG_GLOBAL when it is not under HOME. describe() must read it (the allowlist passes it),
or the ledger records commit 000… and no tag, and the merge refuses the partial.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from opencode_release.release import source

OTHER_UID = 1001  # the GitHub-hosted runner's user


def _git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip()


@pytest.fixture
def foreign_checkout(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "checkout"
    repo.mkdir()
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    _git("init", "-q", cwd=repo)
    (repo / "README").write_text("x\n", encoding="utf-8")
    _git("add", "README", cwd=repo)
    _git(*ident, "commit", "-q", "-m", "one", cwd=repo)
    _git("tag", "v1.4.0", cwd=repo)
    commit = _git("rev-parse", "HEAD", cwd=repo)
    subprocess.run(["chown", "-R", f"{OTHER_UID}:{OTHER_UID}", str(repo)], check=True)
    return repo, commit


def test_a_foreign_checkout_is_read_through_the_runners_global_config(
    foreign_checkout: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert os.geteuid() == 0, "the test plays root over another user's checkout, as a container job does"
    repo, commit = foreign_checkout
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    # without the runner's configuration git refuses the checkout: what the ledger would record
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    refused = source.describe(repo, "https://github.com/o/r")
    assert (refused.commit, refused.ref) == (source.NO_COMMIT, "")
    runner_config = tmp_path / "runner" / "gitconfig"
    runner_config.parent.mkdir()
    runner_config.write_text(f"[safe]\n\tdirectory = {repo}\n", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(runner_config))
    described = source.describe(repo, "https://github.com/o/r")
    assert (described.commit, described.ref) == (commit, "v1.4.0")
