"""The simulated runner's `gh release create|download` (release/ci_sim/standins/gh_release.py), as GitHub
CLI 2.x documents them: the release job attaches assets, the quarterly job downloads them by pattern."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from opencode_release.release.ci_sim.standins import __file__ as standins_init

GH = Path(standins_init).with_name("gh_release.py")


def _github(tmp_path: Path) -> dict[str, str]:
    """A simulated GitHub holding opencode/opencode with tag v1.4.0; the environment a job's step sees."""
    work = tmp_path / "work"
    work.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], cwd=work, check=True)
    subprocess.run([*git, "tag", "v1.4.0"], cwd=work, check=True)
    bare = tmp_path / "git" / "opencode" / "opencode.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return {
        "PATH": os.environ["PATH"],
        "GH_TOKEN": "t",
        "GITHUB_REPOSITORY": "opencode/opencode",
        "OPENCODE_SIM_GIT_SERVER": f"file://{tmp_path / 'git'}",
        "OPENCODE_SIM_RELEASES": str(tmp_path / "releases"),
    }


def _gh(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GH), *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_assets_created_on_a_tag_are_downloaded_by_pattern(tmp_path: Path) -> None:
    env = _github(tmp_path)
    (tmp_path / "SHA256SUMS").write_text("sums\n")
    (tmp_path / "release-folder-1.4.0.tar.gz").write_bytes(b"folder")
    created = _gh(
        env,
        tmp_path,
        "release",
        "create",
        "v1.4.0",
        "--verify-tag",
        "--title",
        "v1.4.0",
        "--notes",
        "n",
        "SHA256SUMS",
        "release-folder-1.4.0.tar.gz",
    )
    assert created.returncode == 0 and created.stdout.strip().endswith("/releases/tag/v1.4.0"), created.stderr
    got = _gh(env, tmp_path, "release", "download", "v1.4.0", "--pattern", "release-folder-*.tar.gz", "--dir", "got")
    assert got.returncode == 0, got.stderr
    assert [p.name for p in (tmp_path / "got").iterdir()] == ["release-folder-1.4.0.tar.gz"]
    assert (tmp_path / "got" / "release-folder-1.4.0.tar.gz").read_bytes() == b"folder"
    # gh refuses to overwrite without --clobber
    again = _gh(env, tmp_path, "release", "download", "v1.4.0", "--pattern", "release-folder-*.tar.gz", "--dir", "got")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_what_gh_refuses_the_stand_in_refuses(tmp_path: Path) -> None:
    env = _github(tmp_path)
    (tmp_path / "a.txt").write_text("a")
    untagged = _gh(env, tmp_path, "release", "create", "v9.9.9", "--verify-tag", "a.txt")
    assert untagged.returncode == 1 and "tag v9.9.9 doesn't exist" in untagged.stderr
    assert _gh(env, tmp_path, "release", "create", "v1.4.0", "--verify-tag", "a.txt").returncode == 0
    twice = _gh(env, tmp_path, "release", "create", "v1.4.0", "--verify-tag", "a.txt")
    assert twice.returncode == 1 and "already_exists" in twice.stderr
    missing = _gh(env, tmp_path, "release", "download", "v2.0.0", "--pattern", "*", "--dir", "d")
    assert missing.returncode == 1 and "release not found" in missing.stderr
    unmatched = _gh(env, tmp_path, "release", "download", "v1.4.0", "--pattern", "*.tar.gz", "--dir", "d")
    assert unmatched.returncode == 1 and "no assets match the file pattern" in unmatched.stderr
    other = _gh(env, tmp_path, "release", "delete", "v1.4.0")
    assert other.returncode == 1 and "only `gh release create|download` is simulated" in other.stderr
    no_token = _gh({k: v for k, v in env.items() if k != "GH_TOKEN"}, tmp_path, "release", "download", "v1.4.0")
    assert no_token.returncode == 1 and "set the GH_TOKEN environment variable" in no_token.stderr
