"""apt indexing: 1,000 .deb into a suite, and adding one, vs apt-ftparchive.

Reproduce:  .venv/bin/python -m benchmarks.bench_apt_index [--packages 1000] [--repeat 5]

Setup (not timed): N small .deb packages made by `manifests.deb.build`, their
size/sha256/sha512/control recorded in a ledger-like JSON file, as the deb
stage records them. Then, best of `--repeat`:

- full: `apt_repo.index_suite` over all N (digests read from that JSON, not
  from the packages), writing Packages, Packages.gz, Packages.xz and Release;
  against `apt-ftparchive packages pool` + `apt-ftparchive release` on the same
  files (no cache db: it reads and hashes every package, and writes no
  compressed indexes).
- add one: one more package into the indexed suite (the existing Packages is
  kept, pool files only stat'ed); against a warm `apt-ftparchive --db` re-run
  (packages + release) after the same package is added to its pool.

Ours runs in-process (the pipeline calls it so); apt-ftparchive as the
command a user would run. Goal: ratio ours/apt-ftparchive <= 1.0 for both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from opencode_release.manifests import apt_repo, deb

EPOCH = 1767225600
SUITE = "stable"


def _make(pool_root: Path, index: int) -> dict[str, object]:
    info = deb.PackageInfo(
        f"pkg{index:04d}",
        f"1.{index}.0",
        "amd64",
        "Bench <bench@example.org>",
        "benchmark package",
        f"Package number {index} of the apt index benchmark.",
    )
    payload = os.urandom(2048)
    built = deb.build(info, [(f"usr/share/{info.package}/data", payload, False)], pool_root / info.pool_path, EPOCH)
    return {
        "filename": info.pool_path,
        "size": built.size,
        "sha256": built.sha256,
        "sha512": built.sha512,
        "control": built.control,
    }


def _entries(ledger: Path) -> list[apt_repo.PoolEntry]:
    records = json.loads(ledger.read_text())
    return [apt_repo.PoolEntry(r["filename"], r["size"], r["sha256"], r["sha512"], r["control"]) for r in records]


def _best(repeat: int, prepare: Callable[[], object], run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        prepare()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _ftparchive(root: Path, db: Path | None) -> None:
    out = root / "dists" / SUITE / "main" / "binary-amd64"
    out.mkdir(parents=True, exist_ok=True)
    db_args = ["--db", str(db)] if db else []
    with (out / "Packages").open("wb") as handle:
        subprocess.run(["apt-ftparchive", *db_args, "packages", "pool"], cwd=root, stdout=handle, check=True)
    # Written outside dists/SUITE first, or the old Release lists itself.
    release = subprocess.run(
        ["apt-ftparchive", "release", f"dists/{SUITE}"], cwd=root, capture_output=True, check=True
    ).stdout
    (root / "dists" / SUITE / "Release").write_bytes(release)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    info = apt_repo.SuiteInfo(SUITE, ("amd64",), "bench", "bench", "benchmark", EPOCH)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ours, theirs = base / "ours", base / "theirs"
        records = [_make(ours, i) for i in range(args.packages)]
        extra = _make(ours, args.packages)
        ledger = base / "ledger.json"
        ledger.write_text(json.dumps(records))
        (base / "extra.json").write_text(json.dumps([extra]))
        shutil.copytree(ours / "pool", theirs / "pool")
        extra_file = theirs / str(extra["filename"])
        extra_file.unlink()

        def reset_ours() -> None:
            shutil.rmtree(ours / "dists", ignore_errors=True)

        def reset_theirs() -> None:
            shutil.rmtree(theirs / "dists", ignore_errors=True)

        full_ours = _best(args.repeat, reset_ours, lambda: apt_repo.index_suite(ours, info, _entries(ledger)))
        full_theirs = _best(args.repeat, reset_theirs, lambda: _ftparchive(theirs, None))

        # Add one: the suite holds N; the new package's digests come from its record.
        def ours_base() -> None:
            reset_ours()
            apt_repo.index_suite(ours, info, _entries(ledger))

        result: list[apt_repo.IndexResult] = []
        add_ours = _best(
            args.repeat,
            ours_base,
            lambda: result.append(apt_repo.index_suite(ours, info, _entries(base / "extra.json"))),
        )
        db = base / "ftparchive.db"

        def theirs_base() -> None:
            extra_file.unlink(missing_ok=True)
            reset_theirs()
            _ftparchive(theirs, db)  # warms the db with the N packages
            shutil.copy(ours / str(extra["filename"]), extra_file)

        add_theirs = _best(args.repeat, theirs_base, lambda: _ftparchive(theirs, db))
        check = _entries(ledger)[0]
        packages = (ours / "dists" / SUITE / "main" / "binary-amd64" / "Packages").read_text()
        assert f"SHA256: {check.sha256}" in packages and result[-1].reused == args.packages
        print(
            json.dumps(
                {
                    "packages": args.packages,
                    "full_index": {
                        "ours_s": round(full_ours, 4),
                        "apt_ftparchive_s": round(full_theirs, 4),
                        "ratio": round(full_ours / full_theirs, 3),
                    },
                    "add_one": {
                        "ours_s": round(add_ours, 4),
                        "apt_ftparchive_db_s": round(add_theirs, 4),
                        "ratio": round(add_ours / add_theirs, 3),
                        "rehashed": result[-1].hashed,
                    },
                    "load_average": os.getloadavg(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
