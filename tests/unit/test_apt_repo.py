"""The apt index: Packages as apt-ftparchive writes them, Release digests, re-indexing without re-hashing."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from opencode_release.core.errors import CheckFailed, ConfigError
from opencode_release.core.ledger import ArtifactKind
from opencode_release.manifests import apt_repo, deb, gpg
from opencode_release.manifests.stages import AptRepoStage, DebStage
from tests.fake_release import EPOCH, fake_release

INFO = apt_repo.SuiteInfo("stable", ("amd64", "arm64"), "opencode", "opencode", "test", EPOCH)


def _package(root: Path, name: str, version: str, arch: str = "amd64") -> apt_repo.PoolEntry:
    info = deb.PackageInfo(name, version, arch, "T <t@example.org>", "tool", "A tool for tests.")
    dest = root / info.pool_path
    built = deb.build(info, [(f"usr/bin/{name}", f"#!/bin/sh\necho {version}\n".encode(), True)], dest, EPOCH)
    return apt_repo.PoolEntry(info.pool_path, built.size, built.sha256, built.sha512, built.control)


def _stanzas(path: Path) -> dict[str, dict[str, str]]:
    blocks = [deb.parse_stanza(b) for b in path.read_text().split("\n\n") if b.strip()]
    return {b["Filename"]: b for b in blocks}


def test_packages_agree_with_apt_ftparchive(tmp_path: Path) -> None:
    entries = [_package(tmp_path, f"tool{i}", f"1.{i}.0") for i in range(3)]
    apt_repo.index_suite(tmp_path, INFO, entries)
    ours = _stanzas(tmp_path / "dists/stable/main/binary-amd64/Packages")
    out = subprocess.run(
        ["apt-ftparchive", "packages", "pool"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    theirs = {b["Filename"]: b for b in (deb.parse_stanza(x) for x in out.split("\n\n") if x.strip())}
    assert set(ours) == set(theirs) and len(ours) == 3
    for name, stanza in ours.items():
        for key in ("Package", "Version", "Architecture", "Size", "SHA256", "SHA512", "Description"):
            assert stanza[key] == theirs[name][key], (name, key)


def test_release_lists_every_index_with_its_digests(tmp_path: Path) -> None:
    apt_repo.index_suite(tmp_path, INFO, [_package(tmp_path, "tool", "1.0.0")])
    release = (tmp_path / "dists/stable/Release").read_text()
    assert "Date: Thu, 01 Jan 2026 00:00:00 GMT\n" in release and "Architectures: amd64 arm64\n" in release
    names = [f"main/binary-{a}/Packages{e}" for a in ("amd64", "arm64") for e in ("", ".gz", ".xz")]
    for name in names:
        data = (tmp_path / "dists/stable" / name).read_bytes()
        assert f" {hashlib.sha256(data).hexdigest()} {len(data):>3} {name}\n" in release
        assert f" {hashlib.sha512(data).hexdigest()} {len(data):>3} {name}\n" in release


def test_adding_a_package_keeps_indexed_stanzas_without_rehashing(tmp_path: Path) -> None:
    first = [_package(tmp_path, f"tool{i}", "1.0.0") for i in range(3)]
    apt_repo.index_suite(tmp_path, INFO, first)
    # Change an indexed package's bytes, same size: a re-hash would show up in the index.
    pool_file = tmp_path / first[0].filename
    data = bytearray(pool_file.read_bytes())
    data[-5] ^= 1
    pool_file.write_bytes(bytes(data))
    result = apt_repo.index_suite(tmp_path, INFO, [_package(tmp_path, "newtool", "2.0.0")])
    assert (result.packages, result.reused, result.hashed) == (4, 3, 0)
    stanzas = _stanzas(tmp_path / "dists/stable/main/binary-amd64/Packages")
    assert stanzas[first[0].filename]["SHA256"] == first[0].sha256
    assert "pool/main/n/newtool/newtool_2.0.0_amd64.deb" in stanzas


def test_a_package_gone_from_the_pool_leaves_the_index(tmp_path: Path) -> None:
    first = [_package(tmp_path, f"tool{i}", "1.0.0") for i in range(2)]
    apt_repo.index_suite(tmp_path, INFO, first)
    (tmp_path / first[1].filename).unlink()
    result = apt_repo.index_suite(tmp_path, INFO, [])
    assert result.packages == 1
    assert list(_stanzas(tmp_path / "dists/stable/main/binary-amd64/Packages")) == [first[0].filename]


def test_a_package_nobody_recorded_is_hashed(tmp_path: Path) -> None:
    entry = _package(tmp_path, "tool", "1.0.0", arch="arm64")
    result = apt_repo.index_suite(tmp_path, INFO, [entry.filename])
    assert result.hashed == 1
    assert _stanzas(tmp_path / "dists/stable/main/binary-arm64/Packages")[entry.filename]["SHA512"] == entry.sha512


def test_a_package_of_a_foreign_architecture_is_refused(tmp_path: Path) -> None:
    entry = _package(tmp_path, "tool", "1.0.0", arch="riscv64")
    with pytest.raises(
        CheckFailed,
        match=r"tool_1.0.0_riscv64.deb: architecture riscv64 is not one of the "
        r"suite stable's \(amd64, arm64\)",
    ):
        apt_repo.index_suite(tmp_path, INFO, [entry])
    assert not (tmp_path / "dists").exists()


@pytest.mark.parametrize(
    ("channel", "suite"), [("stable", "stable"), ("nightly", "nightly"), ("lts", "lts-1.4"), ("lts/1.4", "lts-1.4")]
)
def test_suite_per_channel(channel: str, suite: str) -> None:
    assert apt_repo.suite_for(channel, "1.4") == suite


def test_unknown_channel_has_no_suite() -> None:
    with pytest.raises(CheckFailed, match="channel 'beta' has no apt suite; expected stable, lts, nightly or snapshot"):
        apt_repo.suite_for("beta", "1.4")


def test_stage_signs_with_the_state_folder_key_and_sqv_verifies(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, channel="lts")
    DebStage().run(ctx)
    AptRepoStage().run(ctx)
    repo = ctx.dist_dir / "manifests/apt"
    suite = repo / "dists/lts-1.4"
    keyring = repo / "opencode-archive-keyring.gpg"
    assert (tmp_path / ".opencode-release/apt-gnupg/pubring.kbx").is_file()
    proc = subprocess.run(
        ["sqv", "--keyring", str(keyring), str(suite / "Release.gpg"), str(suite / "Release")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    inrelease = (suite / "InRelease").read_text()
    assert inrelease.startswith("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n")
    assert (suite / "Release").read_text() in inrelease
    recorded = {a.path for a in ctx.ledger.by_kind(ArtifactKind.APT_INDEX)}
    assert "manifests/apt/dists/lts-1.4/InRelease" in recorded
    assert "manifests/apt/opencode-archive-keyring.asc" in recorded
    assert len(_stanzas(suite / "main/binary-arm64/Packages")) == 1


def test_real_release_without_a_configured_key_is_refused(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=("linux-x86_64-gnu",))
    DebStage().run(ctx)
    ctx.snapshot = False
    with pytest.raises(
        ConfigError,
        match=r"apt.key-id is empty; a real release signs the apt "
        r"repository with a configured key",
    ):
        AptRepoStage().run(ctx)
    assert not (ctx.dist_dir / "manifests/apt/dists").exists()


def test_real_release_signs_with_the_configured_key_from_gnupghome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short home: gpg-agent's socket path must fit in 108 bytes.
    home = Path(tempfile.mkdtemp(prefix="ocg-", dir="/tmp"))
    try:
        home.chmod(0o700)
        monkeypatch.setenv("GNUPGHOME", str(home))
        subprocess.run(
            [
                "gpg",
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--quick-gen-key",
                "Release Key <release@example.org>",
                "ed25519",
                "sign",
                "never",
            ],
            capture_output=True,
            check=True,
        )
        key = gpg.fingerprint(None)
        ctx = fake_release(tmp_path, only=("linux-x86_64-gnu",), toml={"apt": f'key-id = "{key}"'})
        ctx.snapshot = False
        DebStage().run(ctx)
        AptRepoStage().run(ctx)
        repo = ctx.dist_dir / "manifests/apt"
        proc = subprocess.run(
            [
                "sqv",
                "--keyring",
                str(repo / "opencode-archive-keyring.gpg"),
                str(repo / "dists/stable/Release.gpg"),
                str(repo / "dists/stable/Release"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0 and proc.stdout.strip() == key, proc.stderr
        assert not (tmp_path / ".opencode-release" / "apt-gnupg").exists()
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_an_unknown_configured_key_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(tempfile.mkdtemp(prefix="ocg-", dir="/tmp"))
    try:
        home.chmod(0o700)
        monkeypatch.setenv("GNUPGHOME", str(home))
        ctx = fake_release(tmp_path, only=("linux-x86_64-gnu",), toml={"apt": 'key-id = "0xDEADBEEF"'})
        ctx.snapshot = False
        DebStage().run(ctx)
        with pytest.raises(
            ConfigError,
            match=rf"pyproject.toml: apt.key-id 0xDEADBEEF: no such secret key in "
            rf"{home}; import the repository key or fix apt.key-id",
        ):
            AptRepoStage().run(ctx)
        assert not (ctx.dist_dir / "manifests/apt/dists").exists()
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
        shutil.rmtree(home, ignore_errors=True)
