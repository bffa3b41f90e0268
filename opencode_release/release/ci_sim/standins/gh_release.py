#!/usr/bin/env python3
"""`gh release create` and `gh release download` stand-in (GitHub CLI 2.x, `gh help release create`,
`gh help release download`), against the simulated GitHub.

`gh release create TAG [FILES...] --verify-tag --title T --notes N`: with --verify-tag the tag must
already exist on the remote (the simulated GitHub's bare repository), or gh aborts. The assets land in
`$OPENCODE_SIM_RELEASES/<TAG>/`, flat, by their base names, as GitHub stores release assets; an asset
name given twice, or a second release of one tag, is refused as GitHub refuses it.

`gh release download TAG --pattern GLOB --dir DIR`: the assets matching the glob into DIR (made if
missing); gh fails on a tag with no release, on a pattern matching no asset, and on a file that is
already there (no --clobber). Both need GH_TOKEN.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path


def _releases() -> Path:
    return Path(os.environ["OPENCODE_SIM_RELEASES"])


def create(args: list[str]) -> None:
    files: list[Path] = []
    verify_tag, tag = False, ""
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
    dest = _releases() / tag
    if dest.exists():
        sys.exit("gh: HTTP 422: Validation Failed (already_exists: a release with this tag)")
    dest.mkdir(parents=True)
    for found in files:
        shutil.copyfile(found, dest / found.name)
    print(f"https://github.com/{os.environ['GITHUB_REPOSITORY']}/releases/tag/{tag}")


def download(args: list[str]) -> None:
    tag, patterns, folder = "", [], Path(".")
    while args:
        arg = args.pop(0)
        if arg in ("--pattern", "-p"):
            patterns.append(args.pop(0))
        elif arg in ("--dir", "-D"):
            folder = Path(args.pop(0))
        elif arg.startswith("-"):
            sys.exit(f"gh stand-in: option {arg} is not simulated")
        else:
            tag = arg
    release = _releases() / tag
    if not tag or not release.is_dir():
        sys.exit("release not found")
    assets = sorted(p.name for p in release.iterdir())
    chosen = [a for a in assets if not patterns or any(fnmatch.fnmatchcase(a, p) for p in patterns)]
    if not chosen:
        sys.exit("no assets match the file pattern")
    folder.mkdir(parents=True, exist_ok=True)
    for name in chosen:
        if (folder / name).exists():
            sys.exit(f"{folder / name} already exists (use `--clobber` to overwrite file or `--skip-existing` to skip)")
        shutil.copyfile(release / name, folder / name)


def main(argv: list[str]) -> None:
    if not os.environ.get("GH_TOKEN"):
        sys.exit("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.")
    commands = {"create": create, "download": download}
    if argv[:1] != ["release"] or len(argv) < 2 or argv[1] not in commands:
        sys.exit(f"gh stand-in: only `gh release create|download` is simulated, not: gh {' '.join(argv)}")
    commands[argv[1]](argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
