"""The publishing secrets a simulated run's publish job gets, made fresh for the run.

On GitHub they are the `stable` / `nightly` environments' secrets (build/ci_workflow.py names
them); here each is generated in the run's folder and handed to act through its secret file, so
only the jobs whose `env:` names them see them. TUF role keys: Ed25519 in PKCS#8 PEM (the format
channels/keys.py reads from $OPENCODE_RELEASE_TUF_<ROLE>_KEY); the apt repository key: an armored
OpenPGP secret key (manifests/gpg.py reads it from $OPENCODE_RELEASE_APT_KEY); the object store's
credentials: placeholders, since the simulated publish writes to the configured folder.
"""

from __future__ import annotations

import secrets as secrets_module
import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ...build import ci_workflow

_PEM = serialization.PrivateFormat.PKCS8


def _ed25519_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, _PEM, serialization.NoEncryption()).decode()


def _armored_gpg_key(uid: str) -> str:
    home = Path(tempfile.mkdtemp(prefix="ocsim-gpg-"))  # short: gpg-agent's socket path
    base = ["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", ""]
    try:
        subprocess.run([*base, "--quick-gen-key", uid, "ed25519", "sign", "never"], check=True, capture_output=True)
        done = subprocess.run([*base, "--armor", "--export-secret-keys"], check=True, capture_output=True)
        return done.stdout.decode()
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def publishing_secrets(channel: str, product: str) -> dict[str, str]:
    secrets = {name: _ed25519_pem() for name in ci_workflow.tuf_secret_names(channel)}
    secrets["APT_SIGNING_KEY"] = _armored_gpg_key(f"{product} archive key (simulated) <release@example.org>")
    secrets["INTOTO_OWNER_KEY"] = _ed25519_pem()
    # what GitHub hands every job as github.token (act reads it from the secret GITHUB_TOKEN): the
    # gh stand-in only checks that one is set
    secrets["GITHUB_TOKEN"] = "simulated-" + secrets_module.token_hex(16)
    # placeholders: the simulated publish writes to the configured folder, not to a bucket
    secrets.update(dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "simulated"))
    return secrets
