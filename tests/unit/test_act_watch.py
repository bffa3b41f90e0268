"""act_runner.watch: act's pseudo-terminal hang (no output, no step running) is stopped and reported,
while a quiet step (a child process at work) is waited for."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from opencode_release.release.ci_sim.act_runner import ActStalled, watch

ENV = {"PATH": os.environ["PATH"]}


def test_a_process_that_hangs_with_no_child_is_stopped_in_one_line(tmp_path: Path) -> None:
    log = tmp_path / "act.log"
    started = time.monotonic()
    # prints, then waits on nothing it started (as act waits for an EOT that never comes)
    with pytest.raises(ActStalled) as caught:
        watch(
            ["python3", "-c", "print('step done', flush=True); import time; time.sleep(600)"],
            tmp_path,
            ENV,
            log,
            False,
            stall_seconds=3,
        )
    assert time.monotonic() - started < 60
    assert str(caught.value).startswith("python3 printed nothing for ") and "runs no step: stopped" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert log.read_text() == "step done\n"  # what it printed is kept


def test_a_quiet_step_with_a_child_at_work_is_waited_for(tmp_path: Path) -> None:
    log = tmp_path / "act.log"
    script = "import subprocess; subprocess.run(['sleep', '6']); print('compiled', flush=True)"
    assert watch(["python3", "-c", script], tmp_path, ENV, log, False, stall_seconds=2) == 0
    assert log.read_text() == "compiled\n"


def test_the_exit_status_is_the_process_s(tmp_path: Path) -> None:
    assert watch(["python3", "-c", "raise SystemExit(3)"], tmp_path, ENV, tmp_path / "log", False) == 3
