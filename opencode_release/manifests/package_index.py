"""The product's wheel and sdist (`python -m build`) and their upload to a package index (twine).

The build runs on a copy of the project, so the source tree gains no build/
or egg-info folders, with SOURCE_DATE_EPOCH set. The upload is twine's own:
an index refuses a file it already holds (PyPI and pypiserver alike); that
refusal is reported as what it is, with what to do, not as a crash.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core.environment import minimal
from ..core.errors import CheckFailed, ConfigError
from ..core.formats import gzip_bytes
from ..core.fsio import write_atomic

PASSWORD_ENV = ("OPENCODE_INDEX_PASSWORD", "TWINE_PASSWORD")
_ALREADY = re.compile(r"409 Conflict|already exists|already been uploaded", re.I)


@dataclass(frozen=True, slots=True)
class Dists:
    wheel: Path
    sdist: Path


# What the product's copy leaves out; everything else in its folder may end up in the wheel or sdist
# (preflight refuses untracked and ignored files that are not one of these).
NOT_PACKAGED = ("build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".venv")
# pip's settings, for the isolated build that fetches build requirements (core/environment.py).
PIP_VARIABLES = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_TRUSTED_HOST",
    "PIP_CERT",
    "PIP_CONFIG_FILE",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_DISABLE_PIP_VERSION_CHECK",
)


def build(project: Path, outdir: Path, epoch: int) -> Dists:
    """Wheel and sdist of `project` into `outdir`.

    Built in this environment when it already satisfies the product's build
    requirements (no download, ~1 s), otherwise in an isolated one that
    fetches them from the index (~5 s).
    """
    with tempfile.TemporaryDirectory(prefix="opencode-build-") as tmp:
        source = Path(tmp) / project.name
        shutil.copytree(project, source, ignore=shutil.ignore_patterns(*NOT_PACKAGED))
        out = Path(tmp) / "out"
        env = minimal(extra=PIP_VARIABLES, set_={"SOURCE_DATE_EPOCH": str(epoch)})
        command = [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(source)]
        proc = subprocess.run([*command, "--no-isolation"], capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0 and "Missing dependencies" in proc.stdout + proc.stderr:
            proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
            raise CheckFailed(f"{project}: python -m build failed:\n{tail}")
        wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            raise CheckFailed(
                f"{project}: python -m build made {[p.name for p in out.iterdir()]}; expected one wheel and one sdist"
            )
        outdir.mkdir(parents=True, exist_ok=True)
        wheel, sdist = outdir / wheels[0].name, outdir / sdists[0].name
        shutil.copyfile(wheels[0], wheel)
        write_atomic(sdist, repack_sdist(sdists[0].read_bytes(), epoch))
    return Dists(wheel, sdist)


def repack_sdist(packed: bytes, epoch: int) -> bytes:
    """The sdist with the same members and contents, made reproducible.

    setuptools honours SOURCE_DATE_EPOCH in the wheel but not in the sdist,
    which carries each file's checkout time, the build's clock in PKG-INFO's
    entry and in the gzip header. Here every time is `epoch`, owners are 0/0
    with no names, modes are 0644 or 0755, and the gzip header has no name.
    """
    raw = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as source,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as out,
    ):
        for member in sorted(source.getmembers(), key=lambda m: m.name):
            if not (member.isfile() or member.isdir()):
                raise CheckFailed(
                    f"sdist member {member.name} is neither a file nor a folder; an sdist should hold only those"
                )
            member.mtime, member.uid, member.gid, member.uname, member.gname = epoch, 0, 0, "", ""
            member.mode = 0o755 if member.isdir() or member.mode & 0o100 else 0o644
            member.pax_headers = {}
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
    return gzip_bytes(raw.getvalue())


def password() -> str:
    for name in PASSWORD_ENV:
        value = os.environ.get(name)
        if value:
            return value
    raise ConfigError(
        f"no package index password: set {' or '.join(PASSWORD_ENV)} (an API token for index.username __token__)"
    )


def upload(url: str, username: str, files: list[Path]) -> str:
    """Upload with twine; returns twine's report. A file the index already holds is a clear error."""
    # twine's password is its job; nothing else of the caller's environment is (core/environment.py)
    env = minimal(set_={"TWINE_PASSWORD": password(), "TWINE_USERNAME": username, "NO_COLOR": "1", "COLUMNS": "200"})
    proc = subprocess.run(
        # --verbose: the index's reason (e.g. "already exists") is only printed then.
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--verbose",
            "--repository-url",
            url,
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    output = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return output
    if _ALREADY.search(output):
        names = ", ".join(f.name for f in files)
        raise CheckFailed(
            f"{url}: already holds {names} (an index never takes the same version twice); "
            "bump the version to publish new bytes"
        )
    lines = [line for line in output.strip().splitlines() if line.strip()]
    raise CheckFailed(f"{url}: twine upload failed: {' '.join(lines[-3:])}")
