"""The product's wheel and sdist: the same bytes from the same source, whatever the clock says."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from opencode_release.core.errors import CheckFailed
from opencode_release.manifests import package_index
from tests.conftest import PRODUCT

pytestmark = pytest.mark.integration
EPOCH = 1767225600


def _copy(tmp_path: Path, name: str, mtime: float) -> Path:
    project = tmp_path / name
    shutil.copytree(PRODUCT, project, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info", "__pycache__"))
    for path in project.rglob("*"):
        os.utime(path, (mtime, mtime))
    return project


def test_two_builds_at_different_times_give_the_same_bytes(tmp_path: Path) -> None:
    # Two checkouts made at different times (file mtimes a day apart), built a second apart.
    first = package_index.build(_copy(tmp_path, "a", time.time() - 86400), tmp_path / "out-a", EPOCH)
    time.sleep(1.1)
    second = package_index.build(_copy(tmp_path, "b", time.time()), tmp_path / "out-b", EPOCH)
    assert first.sdist.read_bytes() == second.sdist.read_bytes()
    assert first.wheel.read_bytes() == second.wheel.read_bytes()
    with tarfile.open(first.sdist) as sdist:
        members = sdist.getmembers()
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(EPOCH, 0, 0, "", "")}
        assert f"{first.sdist.name.removesuffix('.tar.gz')}/PKG-INFO" in sdist.getnames()


def test_the_repacked_sdist_still_builds_a_wheel(tmp_path: Path) -> None:
    dists = package_index.build(_copy(tmp_path, "p", time.time()), tmp_path / "out", EPOCH)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(tmp_path / "wheels"),
            str(dists.sdist),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.name for p in (tmp_path / "wheels").iterdir()] == [dists.wheel.name]


def test_an_sdist_with_a_link_is_refused_by_name() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        link = tarfile.TarInfo("pkg-1.0/evil")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(CheckFailed, match=r"sdist member pkg-1\.0/evil is neither a file nor a folder"):
        package_index.repack_sdist(raw.getvalue(), EPOCH)
