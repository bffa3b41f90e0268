"""The simulated runner's tools: one self-contained folder per pinned action, and `bin/` for the jobs.

act copies an action's folder alone into each job, so every assembled folder holds its action.yml,
its script, the modules the scripts share and a JavaScript entry per phase (act runs node actions
with the host's node; the entry hands over to Python). `bin/` holds the `docker`, `gh` and `sudo`
stand-ins and the host's Python under the names a runner's PATH has; nothing of this project's environment.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ...build import ci_pins

STANDINS = Path(__file__).with_name("standins")
SHARED_MODULES = ("_common.py", "_results.py")
# the stand-in folder that plays each pinned action
PLAYS = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/cache": "cache",
    "actions/attest": "attest",
}


def actions(folder: Path) -> dict[str, Path]:
    """`owner/name@commit` -> the assembled folder, for act's --local-repository."""
    template = (STANDINS / "shim.js.in").read_text(encoding="utf-8")
    found: dict[str, Path] = {}
    for action, name in PLAYS.items():
        dest = folder / "actions" / action
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        shutil.copy2(STANDINS / name / "action.yml", dest / "action.yml")
        script = f"{name.replace('-', '_')}.py"
        for module in (script, *SHARED_MODULES):
            shutil.copy2(STANDINS / module, dest / module)
        for phase in ("main", "post"):
            (dest / f"{phase}.js").write_text(template.replace("SCRIPT", script), encoding="utf-8")
        found[ci_pins.uses(action)] = dest
    return found


def tools(folder: Path) -> Path:
    """`bin/` for the front of the jobs' PATH: docker, gh, sudo, python3, python3.X (the host's interpreter)."""
    dest = folder / "bin"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(STANDINS / "bin" / "docker", dest / "docker")
    shutil.copy2(STANDINS / "docker_run.py", dest / "docker_run.py")
    shutil.copy2(STANDINS / "bin" / "gh", dest / "gh")
    shutil.copy2(STANDINS / "gh_release.py", dest / "gh_release.py")
    shutil.copy2(STANDINS / "bin" / "sudo", dest / "sudo")
    shutil.copy2(STANDINS / "sudo_standin.py", dest / "sudo_standin.py")
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    for name in ("python3", f"python3.{sys.version_info.minor}"):
        (dest / name).symlink_to(base)
    return dest
