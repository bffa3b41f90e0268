#!/usr/bin/env python3
"""`sudo` stand-in: GitHub's hosted runners run jobs with passwordless sudo ("About GitHub-hosted runners":
administrative privileges); the simulated jobs already run as this machine's user, so the command runs as is,
with the `NAME=value` assignments sudo takes before it.

Except apt-get: a job must not install into or update the machine it is simulated on. This machine's dpkg
plays the runner's archive: `apt-get update` does nothing, and `apt-get install PACKAGE...` succeeds when
every package is installed here (for any architecture: an arm64 runner's apt-get installs the arm64 one;
setup.sh installs what the generated jobs ask for, .ci/apt-packages.txt) and fails as apt-get does
(exit 100, "Unable to locate package") otherwise. Every other apt-get command is refused.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


def installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status}\\n", package], capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and "installed" in done.stdout.split()


def apt_get(args: list[str]) -> int:
    words = [a for a in args if not a.startswith("-")]
    if words[:1] == ["update"]:
        print("sudo stand-in: apt-get update: this machine's package lists play the runner's archive")
        return 0
    if words[:1] == ["install"] and words[1:]:
        missing = [p for p in words[1:] if not installed(p)]
        for package in missing:
            print(
                f"E: Unable to locate package {package} (sudo stand-in: not installed on this machine, "
                "which plays the runner's archive; add it to .ci/apt-packages.txt)",
                file=sys.stderr,
            )
        if not missing:
            print(f"sudo stand-in: apt-get install: {', '.join(words[1:])} already installed on this machine")
        return 100 if missing else 0
    print(f"sudo stand-in: apt-get {' '.join(args)}: only update and install are simulated", file=sys.stderr)
    return 100


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    while argv and _ASSIGNMENT.fullmatch(argv[0]):
        name, value = argv.pop(0).split("=", 1)
        env[name] = value
    if not argv:
        print("usage: sudo [NAME=value ...] COMMAND [ARG ...]", file=sys.stderr)
        return 1
    if os.path.basename(argv[0]) == "apt-get":
        return apt_get(argv[1:])
    os.execvpe(argv[0], argv, env)
    return 1  # not reached: execvpe replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
