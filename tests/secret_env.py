"""Secret-shaped values for every variable the pipeline reads, and a few it does not.

The values are unique per run (random tokens; real Ed25519 keys for the TUF roles,
which a release then signs with), so finding one on disk means it leaked.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import lzma
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]

from opencode_release.channels.keys import ROLES, env_name
from opencode_release.core import oci
from opencode_release.manifests import gpg
from opencode_release.manifests.package_index import PASSWORD_ENV

# Read by the pipeline: the index passwords and the registry's credentials; not read, but present
# on a CI runner or a laptop. (The TUF role keys and the apt key are real keys, made below.)
TOKENS = (
    *PASSWORD_ENV,
    oci.USERNAME_ENV,
    oci.PASSWORD_ENV,
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GITHUB_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "NPM_TOKEN",
    "OPENCODE_UNRELATED_SECRET",
)


# Variables the pipeline reads that hold no secret: folder names, switches, public facts of a CI
# run (recorded in provenance on purpose), reproducibility inputs. tests/unit/test_secret_env_coverage.py
# reads every variable the package reads and fails on one in neither list.
NOT_SECRET = {
    "OPENCODE_RELEASE_KEYS_DIR": "a folder name; the keys in it are files",
    "OPENCODE_RELEASE_PROJECT": "the product folder",
    "OPENCODE_RELEASE_PREBUILT": "a folder of binaries built elsewhere (the CI simulation)",
    "OPENCODE_RELEASE_SIMULATED_RUNNER": "a switch of the CI simulation",
    "GNUPGHOME": "a folder name, in a message",
    "XDG_CACHE_HOME": "the update client's cache folder",
    "HOME": "a folder: where reproduce finds the user's git configuration to include in its clone's",
    "XDG_CONFIG_HOME": "a folder: where reproduce finds the user's git configuration to include in its clone's",
    "GIT_CONFIG_GLOBAL": "a file name: the user's git configuration, which reproduce's clone includes",
    "PATH": "where tools are",
    "SOURCE_DATE_EPOCH": "the commit time, recorded on purpose",
    "GITHUB_ACTIONS": "CI run facts recorded in provenance",
    "GITHUB_SERVER_URL": "CI run facts recorded in provenance",
    "GITHUB_REPOSITORY": "CI run facts recorded in provenance",
    "GITHUB_RUN_ID": "CI run facts recorded in provenance",
    "GITHUB_RUN_ATTEMPT": "CI run facts recorded in provenance",
    "GITHUB_WORKFLOW_REF": "CI run facts recorded in provenance",
}


def _armored_apt_key() -> str:
    """A real armored OpenPGP secret key, as CI's publish job gets the apt repository key."""
    home = Path(tempfile.mkdtemp(prefix="ocsec-gpg-"))  # short: gpg-agent's socket path
    gpg_ = ["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", ""]
    try:
        uid = f"secret-env {secrets.token_hex(4)} <secret@example.org>"
        subprocess.run([*gpg_, "--quick-gen-key", uid, "ed25519", "sign", "never"], check=True, capture_output=True)
        armored = subprocess.run([*gpg_, "--armor", "--export-secret-keys"], check=True, capture_output=True).stdout
        public = subprocess.run([*gpg_, "--armor", "--export"], check=True, capture_output=True).stdout
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    assert _pgp_secret_line(armored.decode()) not in public.decode()  # the marker is the secret's own
    return armored.decode()


def _pgp_secret_line(armored: str) -> str:
    """The second line of an armored secret key: past the public key fields, into the secret ones."""
    body = [x for x in armored.splitlines() if x and not x.startswith(("-----", "=")) and ":" not in x]
    return body[1]


def secret_environment() -> dict[str, str]:
    """Variable -> secret-shaped value; TUF role keys are real PEM private keys, the apt key a real
    armored OpenPGP secret key (the apt-repo stage signs with it)."""
    values = {name: f"oc-secret-{secrets.token_hex(16)}" for name in TOKENS}
    for role in ROLES:
        pem = CryptoSigner.generate_ed25519().private_bytes.decode("ascii")
        values[env_name(role)] = pem
    values[gpg.KEY_ENV] = _armored_apt_key()
    return values


def markers(environment: Mapping[str, str]) -> dict[str, bytes]:
    """What to search for: each token, the key material line of each PEM and of the OpenPGP key."""
    found = {}
    for name, value in environment.items():
        if "BEGIN PGP PRIVATE KEY BLOCK" in value:
            found[name] = _pgp_secret_line(value).encode()
        elif "PRIVATE KEY" in value:
            body = [line for line in value.splitlines() if line and not line.startswith("-----")]
            found[name] = "".join(body).encode()[-40:]  # the part that differs between keys
        else:
            found[name] = value.encode()
    return found


@contextlib.contextmanager
def patched_environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _expanded(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """The bytes, and the bytes inside them when they are gzip, xz, zip, tar or ar (a .deb)."""
    yield data
    if depth > 3:
        return
    inner: list[bytes] = []
    with contextlib.suppress(Exception):
        if data[:2] == b"\x1f\x8b":
            inner.append(gzip.decompress(data))
        elif data[:6] == b"\xfd7zXZ\x00":
            inner.append(lzma.decompress(data))
        elif data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                inner += [archive.read(n) for n in archive.namelist()]
        elif data[:8] == b"!<arch>\n":
            inner += _ar_members(data)
        elif len(data) > 512 and data[257:262] == b"ustar":
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                inner += [archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()]  # type: ignore[union-attr]
    for part in inner:
        yield from _expanded(part, depth + 1)


def _ar_members(data: bytes) -> list[bytes]:
    members, at = [], 8
    while at + 60 <= len(data):
        size = int(data[at + 48 : at + 58].decode().strip())
        members.append(data[at + 60 : at + 60 + size])
        at += 60 + size + (size % 2)
    return members


def leaks(folders: list[Path], environment: Mapping[str, str], extra: Mapping[str, bytes] | None = None) -> list[str]:
    """`file: VARIABLE` for every marker found in a file under `folders` (or in `extra`, e.g. logs)."""
    wanted = markers(environment)
    found = []
    blobs: list[tuple[str, bytes]] = [(k, v) for k, v in (extra or {}).items()]
    for folder in folders:
        blobs += [(str(p), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]
    for where, data in blobs:
        for part in _expanded(data):
            found += [f"{where}: {name}" for name, marker in wanted.items() if marker in part]
    return sorted(set(found))
