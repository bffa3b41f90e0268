"""The simulated CI release (`ci --simulate`, act on this machine): the host target's build job with
a cold and with a restored cache, and the whole simulated release workflow's wall time.

Reproduce:  .venv/bin/python -m benchmarks.bench_ci [--folder DIR]   (a committed tree; ~20 min)

Run 1 starts with an empty cache store (cold: Nuitka and ccache from nothing); run 2 is the same
release workflow in the same folder, so act's cache server holds what run 1's build jobs saved and
the host build job restores `.cache/nuitka` and `.cache/ccache`. Each run is the whole workflow
(plan, build.yml's 8 build jobs, merge, attest, publish to a fresh moto_server bucket) and ends with
verify-release. Times are act's own step durations from its log: the host build job (every step)
and its build step; the non-build jobs (plan, merge, attest, publish), each the sum of its steps,
which run one after another around the builds; and the workflow's wall time. Goals: warm host build
job <= 35% of cold; the non-build jobs together < 20 s. Ratios in one run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from opencode_release.core import config
from opencode_release.release.ci_sim import simulate
from tests import ci_prebuilt
from tests.conftest import PRODUCT, REPO

_STEP = re.compile(r"^\[(?P<job>[^\]]+?)\s*\]\s+✅\s+Success - (?P<step>.*?) \[(?P<duration>[\dhms.µn]+)\]")
_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?P<value>[\d.]+)(?P<unit>ms|µs|ns|s)$")
HOST_JOB = "build-linux-x86_64-gnu"
NON_BUILD = ("plan", "merge", "attest", "publish")


def _seconds(duration: str) -> float:
    """Go's time.Duration text (4m10.3s, 812ms) in seconds."""
    match = _DURATION.match(duration)
    if not match:
        return 0.0
    scale = {"ms": 1e-3, "µs": 1e-6, "ns": 1e-9, "s": 1.0}[match["unit"]]
    return int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + float(match["value"]) * scale


def step_times(log: Path) -> list[tuple[str, str, float]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = _STEP.match(line.replace("\x1b[1m", "").replace("\x1b[0m", ""))
        if match:
            found.append((match["job"], match["step"], _seconds(match["duration"])))
    return found


def measure(log: Path, wall: float) -> dict[str, object]:
    steps = step_times(log)
    jobs: dict[str, float] = defaultdict(float)
    for job, _, seconds in steps:
        jobs[job.rsplit("/", 1)[-1]] += seconds
    host_steps = {step: round(t, 1) for job, step, t in steps if job.endswith(HOST_JOB)}
    build_step = sum(t for step, t in host_steps.items() if step.startswith(f"Main build {HOST_JOB[6:]}"))
    return {
        "wall_s": round(wall, 1),
        "host_build_job_s": round(jobs[HOST_JOB], 1),
        "host_build_step_s": round(build_step, 1),
        "host_build_steps": host_steps,
        "non_build_jobs_s": round(sum(jobs[name] for name in NON_BUILD), 1),
        "non_build": {name: round(jobs[name], 1) for name in NON_BUILD},
    }


def _cache_line(log: Path) -> str:
    for line in log.read_text(errors="replace").splitlines():
        if HOST_JOB in line and ("Cache restored from key" in line or "Cache not found" in line):
            return line.split("|", 1)[-1].strip()
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    root = args.folder or Path(tempfile.mkdtemp(prefix="bench-ci-"))
    shutil.rmtree(root / "sim", ignore_errors=True)
    settings = config.load(PRODUCT / "pyproject.toml")
    prebuilt = ci_prebuilt.lay_out(root / "prebuilt", settings.version)
    results: dict[str, object] = {"load_before": os.getloadavg()[0]}
    for label in ("cold", "warm"):
        # the same release twice: each publishes to an empty bucket and registry (a published version is
        # immutable), while act's cache store is kept, which is what the warm run measures
        for outlived in (simulate.CHANNEL_STORE, simulate.REGISTRY):
            shutil.rmtree(root / "sim" / outlived, ignore_errors=True)
        started = time.monotonic()
        outcome = simulate.simulate(settings, REPO, "release", root / "sim", prebuilt, echo=False)
        row = measure(outcome.log, time.monotonic() - started)
        row["cache_log"] = _cache_line(outcome.log)
        row["verified_files"] = outcome.verified
        shutil.copy2(outcome.log, root / f"act-{label}.log")
        results[label] = row
    results["load_after"] = os.getloadavg()[0]
    cold, warm = results["cold"], results["warm"]
    assert isinstance(cold, dict) and isinstance(warm, dict)
    results["warm_over_cold_job"] = round(warm["host_build_job_s"] / cold["host_build_job_s"], 3)
    results["warm_over_cold_build_step"] = round(warm["host_build_step_s"] / cold["host_build_step_s"], 3)
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
