"""The .deb and the signed apt repository of the real snapshot build, checked by real apt-get, dpkg and lintian."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import lzma
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.manifests import gpg
from opencode_release.release import pipeline, session
from tests.aptclient import AptClient

pytestmark = pytest.mark.integration

DEB = "pool/main/o/opencode/opencode_1.4.0_amd64.deb"


@pytest.fixture(scope="module")
def apt_release(built_product: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the real build with the manifests stages run: returns the release folder."""
    root = tmp_path_factory.mktemp("apt-release")
    shutil.copytree(
        built_product.parent,
        root,
        dirs_exist_ok=True,
        symlinks=True,
        ignore=shutil.ignore_patterns("build.lock", "built.ok", ".work"),
    )
    settings = config.load(root / "product" / "pyproject.toml")
    session.run(
        settings,
        pipeline.stages_named(("deb", "apt-repo", "checksum")),
        session.Request(snapshot=True, quiet=True, targets=()),
    )
    return root / "dist" / "1.4.0"


def _repo_copy(apt_release: Path, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(apt_release / "manifests" / "apt", repo)
    return repo


def _client(tmp_path: Path, repo: Path, keyring: Path | None = None) -> AptClient:
    return AptClient(tmp_path / "apt", repo, "stable", keyring or repo / "opencode-archive-keyring.gpg")


def test_ledger_records_deb_indexes_and_key_and_sums_the_deb(apt_release: Path) -> None:
    ledger = Ledger.load(apt_release)
    (package,) = ledger.by_kind(ArtifactKind.DEB)
    assert package.path == f"manifests/apt/{DEB}" and package.target == "linux-x86_64-gnu"
    assert ledger.verify_file(package)
    assert package.related("deb_of") == ("archive:opencode-1.4.0-linux-x86_64-gnu.tar.gz",)
    indexes = {a.path.removeprefix("manifests/apt/") for a in ledger.by_kind(ArtifactKind.APT_INDEX)}
    assert {
        "dists/stable/Release",
        "dists/stable/InRelease",
        "dists/stable/Release.gpg",
        "dists/stable/main/binary-amd64/Packages.xz",
        "opencode-archive-keyring.gpg",
    } <= indexes
    assert f"manifests/apt/{DEB}" in (apt_release / "SHA256SUMS").read_text()


def test_lintian_reports_no_errors_or_warnings(apt_release: Path) -> None:
    proc = subprocess.run(
        ["lintian", "--no-cfg", str(apt_release / "manifests/apt" / DEB)], capture_output=True, text=True, check=False
    )
    tags = [line for line in proc.stdout.splitlines() if line[:2] in ("E:", "W:")]
    assert tags == [] and proc.returncode == 0, proc.stdout + proc.stderr


def test_deb_is_byte_identical_when_rebuilt(apt_release: Path, tmp_path: Path) -> None:
    original = (apt_release / "manifests/apt" / DEB).read_bytes()
    root = tmp_path / "again"
    shutil.copytree(apt_release.parent.parent, root, symlinks=True, ignore=shutil.ignore_patterns(".work"))
    (root / "dist/1.4.0/manifests/apt" / DEB).unlink()
    settings = config.load(root / "product" / "pyproject.toml")
    _, report = session.run(settings, pipeline.stages_named(("deb",)), session.Request(snapshot=True, quiet=True))
    assert [r.status for r in report.results] == ["ran"]
    assert (root / "dist/1.4.0/manifests/apt" / DEB).read_bytes() == original


def test_apt_get_updates_downloads_installs_and_the_binary_runs(apt_release: Path, tmp_path: Path) -> None:
    repo = _repo_copy(apt_release, tmp_path)
    apt = _client(tmp_path, repo)
    update = apt.update()
    assert update.returncode == 0, update.stdout + update.stderr
    download = apt.download("opencode")
    assert download.returncode == 0, download.stdout + download.stderr
    fetched = apt.folder / "download" / "opencode_1.4.0_amd64.deb"
    assert fetched.read_bytes() == (repo / DEB).read_bytes()
    install = apt.install_download_only("opencode")
    assert install.returncode == 0, install.stdout + install.stderr
    assert "Download complete and in download only mode" in install.stdout
    unpacked = tmp_path / "unpacked"
    subprocess.run(["dpkg-deb", "-x", str(fetched), str(unpacked)], check=True)
    assert (unpacked / "usr/share/doc/opencode/copyright").read_text().startswith("Format: https://www.debian.org/")
    out = subprocess.run(
        [str(unpacked / "usr/bin/opencode"), "--version"],
        capture_output=True,
        text=True,
        env={"TMPDIR": str(tmp_path)},
        check=True,
    )
    assert out.stdout.strip() == "opencode 1.4.0"


def test_refuses_an_altered_inrelease(apt_release: Path, tmp_path: Path) -> None:
    repo = _repo_copy(apt_release, tmp_path)
    inrelease = repo / "dists/stable/InRelease"
    inrelease.write_text(inrelease.read_text().replace("Label: opencode", "Label: opencodf"))
    result = _client(tmp_path, repo).update()
    assert result.returncode == 100
    assert "BADSIG" in result.stdout + result.stderr


def test_refuses_altered_packages(apt_release: Path, tmp_path: Path) -> None:
    repo = _repo_copy(apt_release, tmp_path)
    folder = repo / "dists/stable/main/binary-amd64"
    text = (folder / "Packages").read_bytes().replace(b"Depends: libc6", b"Depends: libc6, evil")
    (folder / "Packages").write_bytes(text)
    (folder / "Packages.gz").write_bytes(gzip.compress(text))
    (folder / "Packages.xz").write_bytes(lzma.compress(text))
    result = _client(tmp_path, repo).update()
    assert result.returncode == 100
    assert "Hash Sum mismatch" in result.stdout + result.stderr


def test_refuses_a_deb_whose_bytes_changed(apt_release: Path, tmp_path: Path) -> None:
    repo = _repo_copy(apt_release, tmp_path)
    apt = _client(tmp_path, repo)
    assert apt.update().returncode == 0
    package = bytearray((repo / DEB).read_bytes())
    package[-10] ^= 1  # same size: only the digests can tell
    (repo / DEB).write_bytes(bytes(package))
    for result in (apt.download("opencode"), apt.install_download_only("opencode")):
        assert result.returncode == 100
        assert "Hash Sum mismatch" in result.stdout + result.stderr


def test_refuses_a_repository_signed_by_another_key(apt_release: Path, tmp_path: Path) -> None:
    repo = _repo_copy(apt_release, tmp_path)
    other = gpg.Signer(
        gpg.create_key(tmp_path / "other-gnupg", "Mallory <mallory@example.org>"), tmp_path / "other-gnupg"
    )
    gpg.sign_release(other, repo / "dists/stable/Release")
    result = _client(tmp_path, repo).update()
    assert result.returncode == 100
    assert "NO_PUBKEY" in result.stdout + result.stderr


def test_refuses_an_unsigned_repository(apt_release: Path, tmp_path: Path) -> None:
    repo = _repo_copy(apt_release, tmp_path)
    (repo / "dists/stable/InRelease").unlink()
    (repo / "dists/stable/Release.gpg").unlink()
    result = _client(tmp_path, repo).update()
    assert result.returncode == 100
    assert "is not signed" in result.stdout + result.stderr


def test_invoke_manifests_from_an_existing_release(release_copy: Path) -> None:
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "opencode-release"),
            "manifests",
            "--snapshot",
            "--project",
            str(release_copy),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [(s["name"], s["status"]) for s in report["stages"]] == [
        ("deb", "ran"),
        ("apt-repo", "ran"),
        ("homebrew", "ran"),
        ("winget", "ran"),
        ("python-dists", "ran"),
        ("checksum", "ran"),
    ]
    assert "homebrew: darwin-universal: no archive in this release; the formula has no macos block" in report["notes"]
    assert "winget: no Windows archive in this release; no winget manifest" in report["notes"]
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    kinds = {a.kind for a in ledger.artifacts}
    assert {"deb", "apt-index", "homebrew-formula", "wheel", "sdist"} <= kinds
    sums = (ledger.root / "SHA256SUMS").read_text()
    assert f"manifests/apt/{DEB}" in sums and "python/opencode_cli-1.4.0-py3-none-any.whl" in sums


def test_every_release_has_a_valid_until_from_the_signing_time(apt_release: Path) -> None:
    text = (apt_release / "manifests/apt/dists/stable/Release").read_text()
    (line,) = [x for x in text.splitlines() if x.startswith("Valid-Until: ")]
    until = email.utils.parsedate_to_datetime(line.removeprefix("Valid-Until: "))
    left = until - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=6) < left <= dt.timedelta(days=7)  # apt.valid-days, from now, not the source date


def _resigned(apt_release: Path, repo: Path, valid_until: float) -> None:
    """The Release with another Valid-Until, signed again with the repository's own key (a replayed old one)."""
    release = repo / "dists/stable/Release"
    stamp = email.utils.formatdate(valid_until, usegmt=True)
    text, count = re.subn(r"^Valid-Until: .*$", f"Valid-Until: {stamp}", release.read_text(), flags=re.M)
    assert count == 1
    release.write_text(text)
    settings = config.load(apt_release.parent.parent / "product" / "pyproject.toml")
    state = settings.path(settings.state_dir)
    assert (state / gpg.SNAPSHOT_HOME / "pubring.kbx").is_file()  # the key that signed it, not a new one
    gpg.sign_release(gpg.snapshot_signer(state, "unused: the key exists"), release)


def test_refuses_an_expired_inrelease(apt_release: Path, tmp_path: Path) -> None:
    """A correctly signed InRelease past its Valid-Until (a replayed old one) is refused by real apt-get;
    the same re-signing with a Valid-Until ahead is accepted, so only the date can have refused it."""
    fresh = _repo_copy(apt_release, tmp_path / "fresh")
    _resigned(apt_release, fresh, time.time() + 3600)
    accepted = _client(tmp_path / "fresh", fresh).update()
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    replayed = _repo_copy(apt_release, tmp_path / "replayed")
    _resigned(apt_release, replayed, time.time() - 60)
    refused = _client(tmp_path / "replayed", replayed).update()
    assert refused.returncode == 100
    assert "is expired (invalid since" in refused.stdout + refused.stderr
