"""SBOM generation with strict CycloneDX 1.5 validation, vs `cyclonedx-py environment`.

Reproduce:  .venv/bin/invoke build            # once: a real Nuitka build in dist/<version>/
            .venv/bin/python -m benchmarks.bench_sbom [--release dist/1.4.0] [--repeat 3]

Both sides run as the command a user would start, in a fresh process, so both
pay their imports and their validator's construction:

- ours: the sbom stage's own code over the release's ledger: for every binary
  and archive, read the compilation report, build the SBOM (build-host details
  included: licenses, dpkg lookups, compiler version), serialize it and
  validate it with cyclonedx-python-lib's strict 1.5 validator, built once per
  process. Nothing is written.
- theirs: `cyclonedx-py environment --spec-version 1.5 --output-format JSON`
  over this same virtual environment (the build environment), with its
  default validation on.

Also reported: the in-process cost of one more SBOM once the validator exists
(what each further SBOM of a release costs). Goal: ours <= 0.2x theirs.
Best of --repeat; the load average is printed because other work on the
machine inflates wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate(release: Path) -> tuple[int, float]:
    """Every SBOM of the release, validated; returns (count, seconds for the last one, warm)."""
    from opencode_release.attest import _cdx_validate, sbom
    from opencode_release.attest._release_sboms import product_of, program_of
    from opencode_release.core import config
    from opencode_release.core.ledger import ArtifactKind, Ledger
    from opencode_release.core.stage import CollectingReporter, Context
    from opencode_release.release import session

    settings = config.load(REPO / "product" / "pyproject.toml")
    ledger = Ledger.load(release)
    ctx = Context(
        settings=settings,
        ledger=ledger,
        reporter=CollectingReporter(),
        build_targets=session.build_targets(settings, None),
    )
    product = product_of(ctx)
    count, last = 0, 0.0
    for binary in ledger.by_kind(ArtifactKind.BINARY):
        program = program_of(ctx, binary)
        for subject in [
            binary,
            *(a for a in ledger.by_kind(ArtifactKind.ARCHIVE) if binary.id in a.related("archive_of")),
        ]:
            start = time.perf_counter()
            document = sbom.serialize(sbom.make_bom(product, subject, [program], ctx.epoch))
            problem = _cdx_validate.problem(document)
            if problem:
                raise SystemExit(f"{subject.path}: invalid SBOM {problem}")
            last = time.perf_counter() - start
            count += 1
    if not count:
        raise SystemExit(f"{release}: no binary in the ledger; run `.venv/bin/invoke build` first")
    return count, last


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default=str(REPO / "dist" / "1.4.0"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        count, warm = generate(Path(args.release))
        print(json.dumps({"sboms": count, "warm_seconds": warm}))
        return
    python = sys.executable
    ours_cmd = [python, "-m", "benchmarks.bench_sbom", "--child", "--release", args.release]
    child = json.loads(subprocess.run(ours_cmd, check=True, capture_output=True, text=True, cwd=REPO).stdout)
    with tempfile.TemporaryDirectory() as tmp:
        theirs_cmd = [
            str(Path(python).parent / "cyclonedx-py"),
            "environment",
            "--spec-version",
            "1.5",
            "--output-format",
            "JSON",
            "-o",
            str(Path(tmp) / "env.cdx.json"),
            python,
        ]
        ours = min(_timed(ours_cmd) for _ in range(args.repeat))
        theirs = min(_timed(theirs_cmd) for _ in range(args.repeat))
    print(
        json.dumps(
            {
                "sboms_per_run": child["sboms"],
                "ours_seconds": round(ours, 3),
                "cyclonedx_py_environment_seconds": round(theirs, 3),
                "ratio": round(ours / theirs, 3),
                "goal_ratio": 0.2,
                "one_more_sbom_warm_seconds": round(child["warm_seconds"], 4),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
