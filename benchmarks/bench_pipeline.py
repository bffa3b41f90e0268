"""Time of each stage of a snapshot release, and the pipeline's overhead.

Reproduce:  .venv/bin/python -m benchmarks.bench_pipeline [--warm]

Copies product/ to a temporary folder and cuts a snapshot release through the
runner, timing the Nuitka compile itself (by wrapping the driver) apart from
everything else. Overhead = (wall time of the whole run - compile time) /
compile time; the goal is under 3%. `--warm` runs the release once first so
Nuitka's and ccache's caches are warm, as on a maintainer's machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from opencode_release import config
from opencode_release.build import nuitka
from opencode_release.release import pipeline, session

PRODUCT = Path(__file__).resolve().parent.parent / "product"


def _release(workdir: Path) -> dict[str, Any]:
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
        _, report = session.run(settings, pipeline.release_stages(), session.Request(snapshot=True, quiet=True))
        wall = time.perf_counter() - start
    finally:
        nuitka.build = original
    compile_time = sum(compile_seconds)
    return {
        "stages": {r.name: round(r.seconds, 3) for r in report.results},
        "wall_seconds": round(wall, 2),
        "nuitka_compile_seconds": round(compile_time, 2),
        "overhead_fraction": round((wall - compile_time) / compile_time, 4) if compile_time else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", action="store_true", help="run once first to warm Nuitka's caches")
    args = parser.parse_args()
    if args.warm:
        with tempfile.TemporaryDirectory() as tmp:
            _release(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(_release(Path(tmp)), indent=2))


if __name__ == "__main__":
    main()
