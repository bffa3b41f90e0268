"""actions/setup-python v7.0.0: `python-version` X.Y -> that interpreter first on PATH; outputs
python-version and python-path. The simulated runner has the host's interpreters only; a request for
another architecture (a Windows or macOS runner's x64/arm64) gets the host's, as the build jobs of
those targets are fed prebuilt binaries in the simulation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _common import fail, get_input, set_output


def main() -> None:
    wanted = get_input("python-version")
    found = shutil.which(f"python{wanted}") if wanted else shutil.which("python3")
    if not found:
        fail(f"setup-python stand-in: no python{wanted} on this host")
        return
    exe = subprocess.run(
        [found, "-c", "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    shim = Path(os.environ["RUNNER_TEMP"]) / "setup-python" / "bin"
    shim.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3", f"python{wanted}"):
        link = shim / name
        if not link.exists():
            link.symlink_to(exe[0])
    with open(os.environ["GITHUB_PATH"], "a", encoding="utf-8") as handle:
        handle.write(f"{shim}\n")
    set_output(python_version=exe[1], python_path=str(shim / "python"))
    print(f"python {exe[1]} at {exe[0]}")


if __name__ == "__main__":
    if sys.argv[1] == "main":
        main()
