#!/usr/bin/env python3
"""`gh release create` stand-in (GitHub CLI 2.x, `gh help release create`), against the simulated GitHub.

`gh release create TAG [FILES...] --verify-tag --title T --notes N`: with --verify-tag the tag must
already exist on the remote (the simulated GitHub's bare repository), or gh aborts; GH_TOKEN must be
set. The assets land in `$OPENCODE_SIM_RELEASES/<TAG>/`, flat, by their base names, as GitHub
stores release assets; an asset name given twice is refused as GitHub refuses it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    if argv[:2] != ["release", "create"]:
        sys.exit(f"gh stand-in: only `gh release create` is simulated, not: gh {' '.join(argv)}")
    if not os.environ.get("GH_TOKEN"):
        sys.exit("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.")
    args, files, verify_tag = argv[2:], [], False
    tag = ""
    while args:
        arg = args.pop(0)
        if arg == "--verify-tag":
            verify_tag = True
        elif arg in ("--title", "--notes", "-t", "-n"):
            args.pop(0)
        elif arg.startswith("-"):
            sys.exit(f"gh stand-in: option {arg} is not simulated")
        elif not tag:
            tag = arg
        else:
            files.append(Path(arg))
    server = os.environ["OPENCODE_SIM_GIT_SERVER"].removeprefix("file://")
    bare = Path(server) / f"{os.environ['GITHUB_REPOSITORY']}.git"
    known = subprocess.run(["git", "rev-parse", "-q", "--verify", f"refs/tags/{tag}"], cwd=bare, capture_output=True)
    if verify_tag and known.returncode != 0:
        sys.exit(f"tag {tag} doesn't exist in the repo {os.environ['GITHUB_REPOSITORY']}, aborting due to --verify-tag")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        sys.exit("gh: HTTP 422: Validation Failed (already_exists: an asset with this name)")
    dest = Path(os.environ["OPENCODE_SIM_RELEASES"]) / tag
    dest.mkdir(parents=True)  # a second release for one tag fails, as on GitHub
    for found in files:
        shutil.copyfile(found, dest / found.name)
    print(f"https://github.com/{os.environ['GITHUB_REPOSITORY']}/releases/tag/{tag}")


if __name__ == "__main__":
    main(sys.argv[1:])
