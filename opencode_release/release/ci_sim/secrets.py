"""The publishing secrets a simulated run's publish job gets, made fresh for the run.

On GitHub they are the `stable` / `nightly` environments' secrets (build/ci_workflow.py names
them); here each is generated in the run's folder and handed to act through its secret file, so
only the jobs whose `env:` names them see them. TUF role keys: Ed25519 in PKCS#8 PEM (the format
channels/keys.py reads from $OPENCODE_RELEASE_TUF_<ROLE>_KEY); the apt repository key: an armored
OpenPGP secret key (manifests/gpg.py reads it from $OPENCODE_RELEASE_APT_KEY); the object store's
credentials: placeholders (moto takes any).

An environment's secrets outlive its runs, and the channel repository's root names the role keys: so
they are made once per simulation folder (`environment-secrets.json`, mode 0600) and read again by
every later run there. One set serves every environment (stable, nightly, refresh), as an operator
would store the shared roles' keys (targets, snapshot, timestamp) in each.
"""

from __future__ import annotations

import json
import secrets as secrets_module
import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ...build import ci_workflow
from ...core.environment import minimal
from ...core.fsio import write_atomic

_PEM = serialization.PrivateFormat.PKCS8


def _ed25519_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, _PEM, serialization.NoEncryption()).decode()


def armored_gpg_key(uid: str) -> str:
    home = Path(tempfile.mkdtemp(prefix="ocsim-gpg-"))  # short: gpg-agent's socket path
    base = ["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", ""]
    try:
        subprocess.run(
            [*base, "--quick-gen-key", uid, "ed25519", "sign", "never"], check=True, capture_output=True, env=minimal()
        )
        done = subprocess.run(
            [*base, "--armor", "--export-secret-keys"], check=True, capture_output=True, env=minimal()
        )
        return done.stdout.decode()
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False, env=minimal()
        )
        shutil.rmtree(home, ignore_errors=True)


SAVED = "environment-secrets.json"


def _made(product: str) -> dict[str, str]:
    made = {f"TUF_{role.upper()}_KEY": _ed25519_pem() for role in ci_workflow.TUF_ROLES}
    made["APT_SIGNING_KEY"] = armored_gpg_key(f"{product} archive key (simulated) <release@example.org>")
    # placeholders: moto takes any credentials
    made.update(dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "simulated"))
    return made


def publishing_secrets(folder: Path, product: str) -> dict[str, str]:
    """The environments' secrets: those saved in `folder`, else made now and saved there."""
    saved = folder / SAVED
    if saved.is_file():
        found = json.loads(saved.read_text(encoding="utf-8"))
    else:
        found = _made(product)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(saved, json.dumps(found, indent=1, sort_keys=True).encode(), mode=0o600)
    # what GitHub hands every job as github.token (act reads it from the secret GITHUB_TOKEN), new each
    # run: the gh stand-in only checks that one is set
    return {**found, "GITHUB_TOKEN": "simulated-" + secrets_module.token_hex(16)}
