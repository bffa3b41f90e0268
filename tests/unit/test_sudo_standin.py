"""The simulated runner's `sudo` (ci_sim/standins/sudo_standin.py): GitHub's passwordless sudo runs the
command as given, while apt-get never installs into the machine the jobs are simulated on: this machine's
dpkg plays the runner's archive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from opencode_release.release.ci_sim import assemble

SUDO = assemble.STANDINS / "sudo_standin.py"


def _sudo(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SUDO), *argv], capture_output=True, text=True, check=False)


def test_a_command_runs_as_given_with_the_assignments_sudo_takes_before_it(tmp_path: Path) -> None:
    done = _sudo("MARK=given", "sh", "-c", 'echo "$MARK $0"', "second")
    assert (done.returncode, done.stdout) == (0, "given second\n"), done.stderr
    assert _sudo("false").returncode == 1


def test_apt_get_install_succeeds_only_for_what_this_machine_has_installed() -> None:
    flags = ("DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "--no-install-recommends")
    installed = _sudo(*flags, "musl", "musl:arm64")
    assert installed.returncode == 0 and "already installed" in installed.stdout, installed.stderr
    missing = _sudo(*flags, "musl", "no-such-package-here")
    assert missing.returncode == 100
    assert missing.stderr.startswith("E: Unable to locate package no-such-package-here ")
    assert "musl" not in missing.stderr.split("package ", 1)[1].split(" ", 1)[0]


def test_apt_get_update_changes_nothing_and_other_apt_get_commands_are_refused() -> None:
    update = _sudo("apt-get", "update", "-q")
    assert update.returncode == 0 and "play the runner's archive" in update.stdout
    for argv in (("apt-get", "remove", "-y", "musl"), ("apt-get", "install")):
        refused = _sudo(*argv)
        assert refused.returncode == 100 and "only update and install are simulated" in refused.stderr, argv
