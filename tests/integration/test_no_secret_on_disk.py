"""No secret reaches the disk: a whole snapshot release with secret-shaped values in the environment.

The shared build (tests/conftest.py) compiled with them in the environment; this test runs
a whole snapshot release (build, attest, sign, manifests, publish) with the same values, then searches
every file under dist/, public/ and the state folder (inside archives, packages and compressed
indexes too), the ledger and the logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opencode_release.core.ledger import Ledger
from tests.conftest import REPO, SECRET_ENVIRONMENT
from tests.secret_env import leaks, markers

pytestmark = pytest.mark.integration


def test_a_release_writes_no_secret_from_its_environment(built_product: Path, release_copy: Path) -> None:
    environment = json.loads((built_product.parent / SECRET_ENVIRONMENT).read_text(encoding="utf-8"))
    assert len(markers(environment)) >= 14
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "release", "--snapshot", "--project", str(release_copy)],
        cwd=REPO,
        env={**os.environ, **environment},
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    work = release_copy.parent
    # A snapshot chooses its own version (X.Y.Z-snapshot.YYYYMMDD.N+g<sha>), so its own folder:
    # the whole pipeline runs again, the compile included, with the secrets in the environment.
    (snapshot,) = (work / "dist").glob("1.4.0-snapshot.*")
    ledger = Ledger.load(snapshot)
    assert {"build", "sign"} <= {s.name for s in ledger.stages}
    assert (work / "public" / "metadata" / "timestamp.json").is_file()  # it did publish
    folders = [built_product.parent / "dist", work / "dist", work / "public", work / ".opencode-release"]
    assert not list((work / "dist").glob("*/.work"))  # the compiler's work folder is not in the release
    found = leaks(folders, environment, {"stdout": proc.stdout, "stderr": proc.stderr})
    assert found == []


def test_the_search_finds_a_secret_where_one_is(tmp_path: Path) -> None:
    """The search itself: a token in a gzip inside a tar, and a PEM line, are found."""
    import gzip
    import io
    import tarfile

    from tests.secret_env import secret_environment

    environment = secret_environment()
    token = environment["TWINE_PASSWORD"].encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("scons-debug.py")
        info.size = len(token)
        archive.addfile(info, io.BytesIO(token))
    (tmp_path / "a.tar.gz").write_bytes(gzip.compress(raw.getvalue()))
    (tmp_path / "key.txt").write_text(environment["OPENCODE_RELEASE_TUF_TIMESTAMP_KEY"])
    assert leaks([tmp_path], environment) == [
        f"{tmp_path / 'a.tar.gz'}: TWINE_PASSWORD",
        f"{tmp_path / 'key.txt'}: OPENCODE_RELEASE_TUF_TIMESTAMP_KEY",
    ]
