"""TUF signing keys: one per role, loaded only when that role must sign.

Roles: `root` (only to create the repository, never for a routine publish),
`targets` (the top-level delegations), `release` (the stable and lts/<line>
roles and their bins), `nightly` (the nightly role and its bins: a CI key
that can only ever sign nightlies), `snapshot`, `timestamp`.

A key is an Ed25519 private key in PEM (PKCS#8). `$OPENCODE_RELEASE_TUF_<ROLE>_KEY`
(the PEM text) wins, else `<keys dir>/<role>.pem`. Snapshot releases create
missing keys on first use in the state folder; real releases never generate
one: a missing key is an error naming where it was looked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]

from ..core.fsio import write_atomic
from .storage import ChannelError

ROLES = ("root", "targets", "release", "nightly", "snapshot", "timestamp")


def env_name(role: str) -> str:
    return f"OPENCODE_RELEASE_TUF_{role.upper()}_KEY"


class Keyring:
    def __init__(self, keys_dir: Path, *, generate: bool, environ: Mapping[str, str] | None = None) -> None:
        self.keys_dir = keys_dir
        self.generate = generate
        self.environ = os.environ if environ is None else environ
        self._signers: dict[str, CryptoSigner] = {}

    def path(self, role: str) -> Path:
        return self.keys_dir / f"{role}.pem"

    def signer(self, role: str) -> CryptoSigner:
        if role not in ROLES:
            raise ChannelError(f"TUF role {role!r}: no such key role; expected one of {', '.join(ROLES)}")
        if role not in self._signers:
            self._signers[role] = self._load(role)
        return self._signers[role]

    def _load(self, role: str) -> CryptoSigner:
        pem = self.environ.get(env_name(role))
        where = f"${env_name(role)}"
        path = self.path(role)
        if pem is None and path.is_file():
            pem, where = path.read_text(encoding="ascii"), str(path)
        if pem is None:
            if not self.generate:
                raise ChannelError(
                    f"TUF {role} key: not found at {path} nor in ${env_name(role)}; real releases read keys "
                    "from signing.keys-dir or the environment"
                )
            signer = CryptoSigner.generate_ed25519()
            write_atomic(path, signer.private_bytes, mode=0o600)
            return signer
        try:
            return CryptoSigner(load_pem_private_key(pem.encode("ascii"), password=None))
        except (ValueError, TypeError) as exc:
            raise ChannelError(f"TUF {role} key from {where}: not an unencrypted PEM private key: {exc}") from exc


def role_key(channel: str) -> str:
    """Which key signs a channel's role: nightlies and snapshots have their own, never the release key."""
    return "nightly" if channel in ("nightly", "snapshot") else "release"
