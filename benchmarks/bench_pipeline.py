"""Time of each stage of a snapshot release, and the pipeline's overhead.

Reproduce (about 5 minutes, on an idle machine):
    .venv/bin/python -m benchmarks.bench_pipeline --warm --repeat 3

Each repeat cuts two snapshot releases of a fresh copy of product/ through
the runner, timing the Nuitka compile itself (by wrapping the driver) apart
from everything else:

- `spine`: the stages of the release spine (preflight, build, inspect, smoke,
  package, checksum: `invoke build` then `invoke package`);
- `full`: the whole pipeline (19 stages: manifests, SBOMs, provenance, in-toto,
  Sigstore signing, verification, publishing).

Overhead = (wall time of the run - compile time) / compile time; the goal is
under 3%. Stages that need nothing from the compile (python-dists) start
alongside it; so that their share of the machine cannot hide in a slower
compile, `full` is also given against the spine's compile, measured without
them (`overhead_vs_spine_compile`). `--warm` cuts a release first so that
Nuitka's and ccache's caches are warm, as on a maintainer's machine; medians
over the repeats are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opencode_release.build import nuitka
from opencode_release.core import config
from opencode_release.core.stage import Stage
from opencode_release.release import pipeline, session

PRODUCT = Path(__file__).resolve().parent.parent / "product"
SPINE = ("preflight", "build", "inspect", "smoke", "package", "checksum")


def _release(workdir: Path, stages: Sequence[Stage]) -> dict[str, Any]:
    product = workdir / "product"
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    settings = config.load(product / "pyproject.toml")
    compile_seconds: list[float] = []
    original = nuitka.build

    def timed(*args: Any, **kwargs: Any) -> nuitka.BuildResult:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            compile_seconds.append(time.perf_counter() - start)

    nuitka.build = timed
    try:
        start = time.perf_counter()
        _, report = session.run(settings, stages, session.Request(snapshot=True, quiet=True))
        wall = time.perf_counter() - start
    finally:
        nuitka.build = original
    return {
        "stages": {r.name: r.seconds for r in report.results if r.status == "ran"},
        "wall": wall,
        "compile": sum(compile_seconds),
    }


def _once(stages: Sequence[Stage]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return _release(Path(tmp), stages)


def _summary(runs: list[dict[str, Any]], baseline_compile: float | None = None) -> dict[str, Any]:
    wall = statistics.median(r["wall"] for r in runs)
    compile_time = statistics.median(r["compile"] for r in runs)
    names = list(runs[0]["stages"])
    stages = {n: round(statistics.median(r["stages"].get(n, 0.0) for r in runs), 3) for n in names}
    outside = [r["wall"] - sum(r["stages"].values()) for r in runs]
    result: dict[str, Any] = {
        "stages_median_seconds": stages,
        "runner_outside_stages_seconds": round(statistics.median(outside), 3),
        "wall_seconds": round(wall, 2),
        "compile_seconds": round(compile_time, 2),
        "overhead_seconds": round(wall - compile_time, 2),
        "overhead_fraction": round((wall - compile_time) / compile_time, 4),
        "runs": [{"wall": round(r["wall"], 2), "compile": round(r["compile"], 2)} for r in runs],
    }
    if baseline_compile:
        result["overhead_vs_spine_compile"] = round((wall - baseline_compile) / baseline_compile, 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", action="store_true", help="cut one release first to warm Nuitka's caches")
    parser.add_argument("--repeat", type=int, default=3, help="releases of each kind (medians are reported)")
    args = parser.parse_args()
    if args.warm:
        _once(pipeline.release_stages())
    spine_runs, full_runs = [], []
    for _ in range(args.repeat):
        spine_runs.append(_once(pipeline.stages_named(SPINE)))
        full_runs.append(_once(pipeline.release_stages()))
    spine = _summary(spine_runs)
    print(
        json.dumps(
            {
                "goal_overhead_fraction_below": 0.03,
                "spine": spine,
                "full": _summary(full_runs, baseline_compile=spine["compile_seconds"]),
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
