"""actions/checkout v7.0.1, as documented: clone `repository` at the triggering commit into the workspace.

- "Only a single commit is fetched by default, for the ref/SHA that triggered the workflow"
  (fetch-depth 1); the triggering ref (a tag on a tag push) is created locally.
- set-safe-directory (default true): `git config --global --add safe.directory <path>` in the
  runner's global git config (here GIT_CONFIG_GLOBAL, the simulated runner's own file).
- persist-credentials (default true): an auth header for later git commands, in a file under
  RUNNER_TEMP that .git/config includes; false leaves no token anywhere.
- The files belong to the runner's user (uid 1001 on GitHub-hosted Linux runners), not root: a
  container started as root over this checkout sees another owner, as on GitHub.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _common import fail, get_input

RUNNER_UID = 1001


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    server = os.environ.get("OPENCODE_SIM_GIT_SERVER")
    if not server:
        fail("checkout stand-in: OPENCODE_SIM_GIT_SERVER (the simulated GitHub's git folder) is not set")
    repository = get_input("repository", os.environ["GITHUB_REPOSITORY"])
    workspace = Path(os.environ["GITHUB_WORKSPACE"])
    dest = (workspace / get_input("path")).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    ref = get_input("ref") or os.environ.get("GITHUB_REF", "")
    sha = os.environ["GITHUB_SHA"] if not get_input("ref") else get_input("ref")
    depth = get_input("fetch-depth", "1")
    git("init", "-q", cwd=dest)
    git("remote", "add", "origin", f"{server}/{repository}.git", cwd=dest)
    fetch = ["fetch", "-q", "--no-tags"] + ([f"--depth={depth}"] if depth != "0" else [])
    refspec = f"+{sha}:{ref}" if ref.startswith("refs/") else sha
    git(*fetch, "origin", refspec, cwd=dest)
    git("checkout", "-q", "--detach", sha, cwd=dest)
    if get_input("persist-credentials", "true") == "true":
        temp = Path(os.environ["RUNNER_TEMP"]) / f"git-credentials-{os.getpid()}.config"
        temp.write_text(f'[http]\n\textraheader = "AUTHORIZATION: basic {get_input("token")}"\n', encoding="utf-8")
        git("config", "--local", "include.path", str(temp), cwd=dest)
    if get_input("set-safe-directory", "true") == "true":
        git("config", "--global", "--add", "safe.directory", str(dest), cwd=dest)
    subprocess.run(["chown", "-R", f"{RUNNER_UID}:{RUNNER_UID}", str(dest)], check=True)
    print(f"checked out {repository}@{sha} ({ref or 'detached'}) into {dest}, owner uid {RUNNER_UID}")


if __name__ == "__main__":
    if sys.argv[1] == "main":
        main()
