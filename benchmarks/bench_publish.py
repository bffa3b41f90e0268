"""Publishing one nightly: into a channel holding 1,000 releases vs into an empty one.

Reproduce:  .venv/bin/python -m benchmarks.bench_publish [--releases 1000] [--repeat 5] [--archive-mb 6.5]

Builds a filesystem channel repository whose nightly channel holds N releases
(each an archive, an SBOM and SHA256SUMS, published one by one through the
real publisher with retention off), then times publishing one more nightly
with an archive the size of the sample product's (about 6.5 MB) into a copy
of it, and into a repository whose nightly channel is empty (root and the
stable channel already there). Goal: full <= 1.5x empty, because a publish
re-signs only the hash bins it touches and writes a small channel index.
The alternative a user would otherwise run is the same publisher: the ratio
is the point (cost grows with the change, not with the repository).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from opencode_release.channels.keys import Keyring
from opencode_release.channels.publisher import Repository, Retention
from opencode_release.channels.storage import FileStorage
from opencode_release.core.config_channels import ChannelSettings
from opencode_release.core.ledger import ArtifactKind, Ledger, Source

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def ledger(dist: Path, version: str, payload: bytes) -> Ledger:
    root = dist / version
    root.mkdir(parents=True)
    made = Ledger(
        root,
        product="opencode",
        version=version,
        channel="nightly",
        source=Source("https://example.org/opencode", "c" * 40, "", 1767225600),
    )
    archive = root / f"opencode-{version}-linux-x86_64-gnu.tar.gz"
    archive.write_bytes(payload)
    subject = made.record(archive, ArtifactKind.ARCHIVE, target="linux-x86_64-gnu")
    sbom = root / f"{archive.name}.cdx.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "subject": archive.name, "v": version}))
    made.record(sbom, ArtifactKind.SBOM, target="linux-x86_64-gnu", relations={"sbom_of": [subject.id]})
    sums = root / "SHA256SUMS"
    sums.write_text(f"{subject.sha256}  {archive.name}\n")
    made.record(sums, ArtifactKind.CHECKSUMS)
    return made


def repo(public: Path, keys: Path, now: dt.datetime) -> Repository:
    # retention off (keep more than the channel holds): the benchmark measures publishing, not pruning
    return Repository(
        Repository_storage(public),
        Keyring(keys, generate=True),
        ChannelSettings(),
        product="opencode",
        now=now,
        retention=Retention(100_000, 100_000),
    )


def Repository_storage(public: Path):  # type: ignore[no-untyped-def]

    return FileStorage(public)


def nightly(index: int) -> str:
    day = dt.date(2024, 1, 1) + dt.timedelta(days=index)
    return f"1.4.1-nightly.{day:%Y%m%d}+g{index:07x}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--archive-mb", type=float, default=6.5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    keys, dist = work / "keys", work / "dist"
    try:
        empty, full = work / "empty", work / "full"
        repo(empty, keys, NOW).publish(ledger(dist / "stable", "1.4.0", b"stable"), ["stable"])
        shutil.copytree(empty, full)
        started = time.perf_counter()
        for i in range(args.releases):
            repo(full, keys, NOW).publish(ledger(dist / "fill", nightly(i), f"nightly {i}".encode()), ["nightly"])
        fill_seconds = time.perf_counter() - started
        payload = random.Random(5).randbytes(int(args.archive_mb * 1024 * 1024))
        new = ledger(dist / "new", nightly(args.releases + 1), payload)
        timings: dict[str, list[float]] = {"empty": [], "full": []}
        for round_ in range(args.repeat):
            for name, source in (("empty", empty), ("full", full)):
                target = work / f"{name}-{round_}"
                shutil.copytree(source, target)
                os.sync()
                started = time.perf_counter()
                result = repo(target, keys, NOW).publish(new, ["nightly"])
                timings[name].append(time.perf_counter() - started)
                assert result.status == "published"
                shutil.rmtree(target)
        empty_s, full_s = statistics.median(timings["empty"]), statistics.median(timings["full"])
        print(
            json.dumps(
                {
                    "benchmark": "publish one nightly",
                    "releases_in_full_channel": args.releases,
                    "archive_bytes": len(payload),
                    "empty_seconds": round(empty_s, 4),
                    "full_seconds": round(full_s, 4),
                    "ratio_full_to_empty": round(full_s / empty_s, 3),
                    "goal_ratio_at_most": 1.5,
                    "fill_seconds": round(fill_seconds, 1),
                    "runs": {k: [round(v, 4) for v in vs] for k, vs in timings.items()},
                    "load_average": os.getloadavg(),
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
