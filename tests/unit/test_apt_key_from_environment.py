"""CI's publish job signs the apt repository with a key from its environment's secret.

`$OPENCODE_RELEASE_APT_KEY` holds an armored OpenPGP secret key; gpg imports it into a home of its
own that is gone after signing, so the key never lands in the state folder or the release.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from opencode_release.core.errors import ConfigError
from opencode_release.manifests import gpg


def _gpg(home: Path, *args: str) -> bytes:
    done = subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", "", *args],
        check=True,
        capture_output=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def exported() -> Iterator[tuple[str, str, str]]:
    home = Path(tempfile.mkdtemp(prefix="ockey-"))  # gpg-agent's socket path must stay short
    _gpg(home, "--quick-gen-key", "CI archive key <ci@example.org>", "ed25519", "sign", "never")
    colons = _gpg(home, "--with-colons", "--list-secret-keys").decode()
    fingerprint = next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))
    secret = _gpg(home, "--armor", "--export-secret-keys").decode()
    public = _gpg(home, "--armor", "--export").decode()
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
    shutil.rmtree(home)
    yield fingerprint, secret, public


def test_the_secret_signs_and_its_home_is_gone_after(exported: tuple[str, str, str], tmp_path: Path) -> None:
    fingerprint, secret, _ = exported
    release = tmp_path / "Release"
    release.write_text("Suite: stable\n")
    with gpg.environment_signer(secret) as signer:
        assert signer.key == fingerprint and signer.home is not None
        home = signer.home
        inrelease, _ = gpg.sign_release(signer, release)
    assert not home.exists()
    assert b"BEGIN PGP SIGNED MESSAGE" in inrelease.read_bytes()


def test_a_public_key_alone_is_refused_in_one_line(exported: tuple[str, str, str]) -> None:
    _, _, public = exported
    with (
        pytest.raises(ConfigError, match=r"^\$OPENCODE_RELEASE_APT_KEY: holds no secret key"),
        gpg.environment_signer(public),
    ):
        pass


def test_garbage_is_refused_in_one_line() -> None:
    with (
        pytest.raises(ConfigError, match=r"^\$OPENCODE_RELEASE_APT_KEY: not an OpenPGP secret key") as caught,
        gpg.environment_signer("not a key"),
    ):
        pass
    assert "\n" not in str(caught.value)


def test_a_key_id_that_is_not_in_the_secret_is_refused(exported: tuple[str, str, str]) -> None:
    _, secret, _ = exported
    with (
        pytest.raises(ConfigError, match=r"holds no secret key 0123456789ABCDEF"),
        gpg.environment_signer(secret, "0123456789ABCDEF"),
    ):
        pass
