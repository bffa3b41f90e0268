"""Signing an apt Release with the real `gpg`.

Snapshot releases use a throwaway Ed25519 key created on first use in the
ignored state folder; real releases use the configured key id from the
user's own keyring (GNUPGHOME). gpg runs in a short temporary home copied from
the state folder, because gpg-agent's socket path must fit in 108 bytes and
test or CI folders are often deeper than that; the agent is stopped after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.environment import minimal
from ..core.errors import CheckFailed, ConfigError, ToolMissingError
from ..core.fsio import write_atomic

SNAPSHOT_HOME = "apt-gnupg"
# CI's publish job gets the repository key as an environment-scoped secret: an armored secret key.
KEY_ENV = "OPENCODE_RELEASE_APT_KEY"


@dataclass(frozen=True, slots=True)
class Signer:
    key: str  # fingerprint or key id
    home: Path | None  # a GnuPG home to copy from; None: the user's own keyring


def _env() -> dict[str, str]:
    # every call names its --homedir; GNUPGHOME is the default home for a real release's key
    return minimal(extra=("GNUPGHOME",))


def _gpg() -> str:
    gpg = shutil.which("gpg")
    if gpg is None:
        raise ToolMissingError("gpg is not installed; run ./setup.sh (Debian package gpg)")
    return gpg


@contextlib.contextmanager
def _home(source: Path | None, keep: bool = False) -> Iterator[list[str]]:
    """gpg's arguments for a short-lived copy of `source` (copied back when `keep`)."""
    if source is None:
        yield [_gpg(), "--batch", "--yes"]
        return
    tmp = Path(tempfile.mkdtemp(prefix="ocgpg-"))
    try:
        if source.is_dir():
            shutil.copytree(source, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("S.*", "*.lock"))
        tmp.chmod(0o700)
        yield [_gpg(), "--batch", "--yes", "--homedir", str(tmp), "--pinentry-mode", "loopback", "--passphrase", ""]
        if keep:
            source.mkdir(parents=True, exist_ok=True)
            source.chmod(0o700)
            shutil.copytree(tmp, source, dirs_exist_ok=True, ignore=shutil.ignore_patterns("S.*", "*.lock"))
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(tmp), "--kill", "gpg-agent"], capture_output=True, check=False, env=_env()
        )
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: Sequence[str], what: str) -> bytes:
    proc = subprocess.run(list(args), capture_output=True, check=False, env=_env())
    if proc.returncode != 0:
        raise CheckFailed(f"gpg could not {what}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def fingerprint(home: Path | None, key: str = "") -> str:
    """The first secret key's fingerprint in `home` (matching `key` when given)."""
    with _home(home) as gpg:
        out = _run([*gpg, "--with-colons", "--list-secret-keys", *([key] if key else [])], "list secret keys")
    for line in out.decode().splitlines():
        if line.startswith("fpr:"):
            return line.split(":")[9]
    raise CheckFailed(f"no secret key {key or ''} in {home or 'the default GnuPG home'}")


def create_key(home: Path, uid: str) -> str:
    """A new Ed25519 signing key without a passphrase, kept in `home`."""
    with _home(home, keep=True) as gpg:
        _run([*gpg, "--quick-gen-key", uid, "ed25519", "sign", "never"], f"create a key for {uid}")
    return fingerprint(home)


def snapshot_signer(state_dir: Path, uid: str) -> Signer:
    """The state folder's throwaway key, created on first use."""
    home = state_dir / SNAPSHOT_HOME
    if not (home / "pubring.kbx").is_file():
        create_key(home, uid)
    return Signer(fingerprint(home), home)


def configured_signer(key_id: str, where: str) -> Signer:
    if not key_id:
        raise ConfigError(
            f"{where}: apt.key-id is empty; a real release signs the apt repository with a "
            "configured key (or cut a --snapshot, which uses a throwaway key)"
        )
    # The user's own keyring (GNUPGHOME or ~/.gnupg): an unknown id fails here, before anything is written.
    try:
        return Signer(fingerprint(None, key_id), None)
    except CheckFailed as exc:
        raise ConfigError(
            f"{where}: apt.key-id {key_id}: no such secret key in "
            f"{os.environ.get('GNUPGHOME') or '~/.gnupg'}; import the repository key or fix "
            f"apt.key-id ({exc})"
        ) from exc


@contextlib.contextmanager
def environment_signer(armored: str, key_id: str = "") -> Iterator[Signer]:
    """The key `armored` (from $OPENCODE_RELEASE_APT_KEY) in a GnuPG home of its own, removed after
    the `with` block: the secret never reaches the state folder, the release or the user's keyring."""
    home = Path(tempfile.mkdtemp(prefix="ocgpg-key-"))
    try:
        home.chmod(0o700)
        with _home(home, keep=True) as gpg:
            proc = subprocess.run(
                [*gpg, "--import"], input=armored.encode(), capture_output=True, check=False, env=_env()
            )
        if proc.returncode != 0:
            reason = proc.stderr.decode(errors="replace").strip().splitlines()[:1]
            raise ConfigError(f"${KEY_ENV}: not an OpenPGP secret key gpg can import ({' '.join(reason)})")
        try:
            found = fingerprint(home, key_id)
        except CheckFailed:
            wanted = f" {key_id}" if key_id else ""
            raise ConfigError(f"${KEY_ENV}: holds no secret key{wanted} (a public key only?)") from None
        yield Signer(found, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def sign_release(signer: Signer, release: Path) -> tuple[Path, Path]:
    """InRelease (clear-signed) and Release.gpg (detached, armored) beside `release`."""
    inrelease, detached = release.with_name("InRelease"), release.with_name("Release.gpg")
    with _home(signer.home) as gpg:
        base = [*gpg, "--local-user", signer.key, "--digest-algo", "SHA512", "--armor"]
        clear = _run([*base, "--clearsign", "--output", "-", str(release)], f"sign {release}")
        sig = _run([*base, "--detach-sign", "--output", "-", str(release)], f"sign {release}")
    write_atomic(inrelease, clear)
    write_atomic(detached, sig)
    return inrelease, detached


def export_public_key(signer: Signer, dest: Path) -> tuple[Path, Path]:
    """The public key beside the repository: binary (for signed-by) and armored."""
    with _home(signer.home) as gpg:
        binary = _run([*gpg, "--export", signer.key], "export the public key")
        armored = _run([*gpg, "--armor", "--export", signer.key], "export the public key")
    if not binary:
        raise CheckFailed(f"gpg has no public key {signer.key}; check apt.key-id")
    gpg_path, asc_path = dest.with_suffix(".gpg"), dest.with_suffix(".asc")
    write_atomic(gpg_path, binary)
    write_atomic(asc_path, armored)
    return gpg_path, asc_path
