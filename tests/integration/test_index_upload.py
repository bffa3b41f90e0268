"""The product's wheel and sdist uploaded with twine to a real pypiserver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from passlib.apache import HtpasswdFile  # type: ignore[import-untyped]

from opencode_release.core import config
from opencode_release.core.errors import CheckFailed
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.manifests import package_index
from opencode_release.release import pipeline, session

pytestmark = pytest.mark.integration

USER, PASSWORD = "releaser", "s3cret-token"


@pytest.fixture
def pypiserver(tmp_path: Path) -> Iterator[str]:
    """A pypiserver with password-protected uploads; it stops with the test (or by itself after 10 minutes)."""
    packages = tmp_path / "packages"
    packages.mkdir()
    htpasswd = HtpasswdFile(str(tmp_path / "htpasswd"), new=True)
    htpasswd.set_password(USER, PASSWORD)
    htpasswd.save()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            "timeout",
            "600",
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-P",
            str(tmp_path / "htpasswd"),
            "-a",
            "update",
            str(packages),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/simple/", timeout=1).close()  # noqa: S310 - loopback only
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("pypiserver did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_upload_download_same_bytes_and_a_second_upload_is_reported(
    release_copy: Path,
    pypiserver: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pyproject = release_copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + f'\n[tool.opencode-release.index]\nurl = "{pypiserver}/"\nusername = "{USER}"\n'
    )
    monkeypatch.setenv("OPENCODE_INDEX_PASSWORD", PASSWORD)
    settings = config.load(pyproject)
    _, report = session.run(
        settings,
        pipeline.stages_named(("python-dists", "checksum", "index-upload")),
        session.Request(snapshot=True, quiet=True, targets=()),
    )
    assert [(r.name, r.status) for r in report.results] == [
        ("python-dists", "ran"),
        ("checksum", "ran"),
        ("index-upload", "ran"),
    ]
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    (wheel,) = ledger.by_kind(ArtifactKind.WHEEL)
    (sdist,) = ledger.by_kind(ArtifactKind.SDIST)
    assert (wheel.path, sdist.path) == (
        "python/opencode_cli-1.4.0-py3-none-any.whl",
        "python/opencode_cli-1.4.0.tar.gz",
    )
    assert wheel.path in (ledger.root / "SHA256SUMS").read_text()

    fetched = tmp_path / "fetched"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--index-url",
            f"{pypiserver}/simple/",
            "-d",
            str(fetched),
            "opencode-cli==1.4.0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (fetched / "opencode_cli-1.4.0-py3-none-any.whl").read_bytes() == ledger.file(wheel).read_bytes()
    # The sdist through the simple index page pip reads, checked against the ledger's digest.
    with urllib.request.urlopen(f"{pypiserver}/simple/opencode-cli/") as page:  # noqa: S310 - loopback only
        links = re.findall(r'href="([^"]+)"', page.read().decode())
    (link,) = [x for x in links if "opencode_cli-1.4.0.tar.gz" in x]
    file_url = urllib.parse.urljoin(f"{pypiserver}/simple/opencode-cli/", link.split("#")[0])
    with urllib.request.urlopen(file_url) as got:  # noqa: S310 - loopback only
        assert hashlib.sha256(got.read()).hexdigest() == sdist.sha256

    with pytest.raises(CheckFailed) as caught:
        package_index.upload(settings.index.url, USER, [ledger.file(wheel), ledger.file(sdist)])
    assert str(caught.value) == (
        f"{pypiserver}/: already holds opencode_cli-1.4.0-py3-none-any.whl, opencode_cli-1.4.0.tar.gz "
        "(an index never takes the same version twice); bump the version to publish new bytes"
    )


def test_a_wrong_password_is_reported_not_crashed(
    tmp_path: Path, pypiserver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENCODE_INDEX_PASSWORD", "wrong")
    wheel = tmp_path / "x_pkg-0.1-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel")
    with pytest.raises(CheckFailed, match=rf"^{re.escape(pypiserver)}/: twine upload failed: "):
        package_index.upload(pypiserver + "/", USER, [wheel])
