"""Hashing throughput: sha256 + sha512 from one read vs coreutils `sha256sum`.

Reproduce:  .venv/bin/python -m benchmarks.bench_hashing [--size-mb 1000] [--repeat 3]

Writes a random file (page-cached before timing), then times `sha256sum FILE`
and `digest_file(FILE)` (both digests) in fresh child processes, so each
child's peak RSS is its own. Reports MB/s, the ratio to sha256sum (goal: at
least 1.8x) and our peak memory (goal: under 64 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = (
    "import sys, resource, pathlib\n"
    "from opencode_release.attest.digests import digest_file\n"
    "d = digest_file(pathlib.Path(sys.argv[1]))\n"
    "print(d.sha256, d.sha512[:16], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def _make(path: Path, size_mb: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as handle:
        for i in range(size_mb):
            handle.write(block[i % 251 :] + block[: i % 251])
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # into the page cache


def _time(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        blob = Path(tmp) / "blob"
        _make(blob, args.size_mb)
        coreutils, ours, rss = [], [], []
        for _ in range(args.repeat):
            seconds, out = _time(["sha256sum", str(blob)])
            coreutils.append(seconds)
            reference = out.split()[0]
            seconds, out = _time([sys.executable, "-c", CHILD, str(blob)])
            ours.append(seconds)
            sha256, _, maxrss = out.split()
            assert sha256 == reference, "digest mismatch"
            rss.append(int(maxrss) / 1024)
    size = args.size_mb * (1 << 20) / 1e6
    result = {
        "size_mb": args.size_mb,
        "sha256sum_mb_s": round(size / statistics.median(coreutils)),
        "ours_sha256_and_sha512_mb_s": round(size / statistics.median(ours)),
        "ratio_vs_sha256sum": round(statistics.median(coreutils) / statistics.median(ours), 2),
        "ours_peak_rss_mb": round(max(rss), 1),
        "load_average": os.getloadavg()[0],
        "bench_process_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
