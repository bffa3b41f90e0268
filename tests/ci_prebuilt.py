"""The prebuilt binaries `ci --simulate` hands the build jobs of targets this machine cannot compile:
the all-targets test's fixtures, each with a Nuitka-like report. `python -m tests.ci_prebuilt DIR`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from opencode_release.build import targets
from tests import binaries


def lay_out(dest: Path, version: str, name: str = "opencode") -> Path:
    """`dest/<target>/{<name>[.exe], nuitka-report.xml}` for every fixture target but this machine's."""
    bins = binaries.build_all(dest / ".fixtures")
    host = targets.host().name
    for target_name, fixture in binaries.FOR_TARGET.items():
        if target_name == host:
            continue
        target = targets.get(target_name)
        folder = dest / target_name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(bins[fixture], folder / f"{name}{target.exe_suffix}")
        report = binaries.nuitka_like_report(target_name, target.os, target.arch, version)
        (folder / "nuitka-report.xml").write_text(report)
    return dest


if __name__ == "__main__":
    print(lay_out(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "1.4.0"))
