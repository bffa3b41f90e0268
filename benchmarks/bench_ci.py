"""The simulated CI release (`ci --simulate`, act on this machine): the host target's build job with
a cold and with a restored cache, and the whole simulated workflow's wall time.

Reproduce:  .venv/bin/python -m benchmarks.bench_ci [--folder DIR]   (a committed tree; ~10 min)

Run 1 starts with an empty cache store (cold: Nuitka and ccache from nothing); run 2 uses the store
run 1 left (the build job restores `.cache/nuitka` and `.cache/ccache`). Times are act's own step
durations from its log: the host build job's build step, and the sum of every step of the jobs that
are not build jobs. Goals: warm build <= 35% of cold; the non-build jobs together < 20 s.
Ratios only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

from opencode_release.core import config
from opencode_release.release.ci_sim import simulate
from tests import ci_prebuilt
from tests.conftest import PRODUCT, REPO

_STEP = re.compile(r"^\[(?P<job>[^\]]+?)\s*\]\s+✅\s+Success - (?P<step>.*?) \[(?P<duration>[\dhms.µ]+)\]")
_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?P<value>[\d.]+)(?P<unit>ms|µs|s)$")


def _seconds(duration: str) -> float:
    """Go's time.Duration text (4m10.3s, 812ms) in seconds."""
    match = _DURATION.match(duration)
    if not match:
        return 0.0
    scale = {"ms": 1e-3, "µs": 1e-6, "s": 1.0}[match["unit"]]
    return int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + float(match["value"]) * scale


def step_times(log: Path) -> list[tuple[str, str, float]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = _STEP.match(line.replace("\x1b[1m", "").replace("\x1b[0m", ""))
        if match:
            found.append((match["job"], match["step"], _seconds(match["duration"])))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    root = args.folder or Path(tempfile.mkdtemp(prefix="bench-ci-"))
    shutil.rmtree(root / "sim", ignore_errors=True)
    settings = config.load(PRODUCT / "pyproject.toml")
    prebuilt = ci_prebuilt.lay_out(root / "prebuilt", settings.version)
    rows = []
    for label in ("cold", "warm"):
        started = time.monotonic()
        outcome = simulate.simulate(settings, REPO, "release", root / "sim", prebuilt, job="build", echo=False)
        wall = time.monotonic() - started
        steps = step_times(outcome.log)
        build = sum(
            t for job, step, t in steps if job.endswith("build-linux-x86_64-gnu") and step.startswith("Main build")
        )
        others = sum(t for job, _, t in steps if "/build-" not in job)
        rows.append((label, build, others, wall))
    for label, build, others, wall in rows:
        print(f"{label}: host build step {build:7.1f} s   non-build jobs {others:6.1f} s   workflow wall {wall:7.1f} s")
    print(f"warm/cold build: {rows[1][1] / rows[0][1]:.0%} (goal <= 35%)")


if __name__ == "__main__":
    main()
