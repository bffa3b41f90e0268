"""What a verifier trusts: a Sigstore trusted root, and a policy over who signed what.

Trust comes from `--instance production|staging|local` or `--trusted-root FILE`;
production and staging use the trusted roots sigstore-python ships (offline).
The policy (identity, issuer, source repository and ref, builder id) comes
from the packaged `verify/identity-policy.toml`, a `--policy` file, or flags.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import fnmatch
import importlib.resources
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from ..core.errors import UsageError

INSTANCES = ("production", "staging", "local")
_SHIPPED_ROOTS = {
    "production": "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev",
    "staging": "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev",
}
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime | None

    def contains(self, when: dt.datetime) -> bool:
        return self.start <= when and (self.end is None or when <= self.end)


@dataclass(frozen=True)
class LogKey:
    key: PublicKey
    window: Window
    base_url: str


@dataclass(frozen=True)
class TrustedRoot:
    """The parts of a Sigstore trusted root a verifier needs, parsed once."""

    source: str
    ca_certs: tuple[x509.Certificate, ...]
    ca_windows: tuple[tuple[x509.Certificate, Window], ...]
    ctlogs: dict[bytes, LogKey]
    tlogs: dict[bytes, LogKey]


def _time(text: str | None) -> dt.datetime | None:
    return None if not text else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _window(data: dict[str, Any]) -> Window:
    start = _time(data.get("start")) or dt.datetime.min.replace(tzinfo=dt.UTC)
    return Window(start, _time(data.get("end")))


def _log_keys(entries: list[dict[str, Any]]) -> dict[bytes, LogKey]:
    keys: dict[bytes, LogKey] = {}
    for entry in entries:
        key = load_der_public_key(base64.b64decode(entry["publicKey"]["rawBytes"]))
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            continue  # a key type this verifier does not use (ed25519 logs of Rekor v2)
        keys[base64.b64decode(entry["logId"]["keyId"])] = LogKey(
            key, _window(entry["publicKey"].get("validFor", {})), str(entry.get("baseUrl", ""))
        )
    return keys


def parse_trusted_root(raw: str | bytes, source: str) -> TrustedRoot:
    try:
        data = json.loads(raw)
        if "trustedRoot" in data:  # a client trust config holds one
            data = data["trustedRoot"]
        if not str(data.get("mediaType", "")).startswith("application/vnd.dev.sigstore.trustedroot"):
            raise ValueError(f"mediaType {data.get('mediaType')!r} is not a Sigstore trusted root")
        cas: list[tuple[x509.Certificate, Window]] = []
        for authority in data.get("certificateAuthorities", []):
            window = _window(authority.get("validFor", {}))
            for cert in authority["certChain"]["certificates"]:
                cas.append((x509.load_der_x509_certificate(base64.b64decode(cert["rawBytes"])), window))
        return TrustedRoot(
            source,
            tuple(c for c, _ in cas),
            tuple(cas),
            _log_keys(data.get("ctlogs", [])),
            _log_keys(data.get("tlogs", [])),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{source}: not a usable Sigstore trusted root: {exc}") from exc


def shipped_trusted_root(instance: str) -> TrustedRoot:
    """The trusted root sigstore-python ships for production or staging: no network."""
    folder = importlib.resources.files("sigstore") / "_store" / _SHIPPED_ROOTS[instance]
    return parse_trusted_root((folder / "trusted_root.json").read_bytes(), f"sigstore's {instance} trusted root")


def load_trusted_root(instance: str | None, trusted_root: str | None, local_root: Path | None) -> TrustedRoot:
    if trusted_root:
        path = Path(trusted_root)
        if not path.is_file():
            raise UsageError(f"{path}: no such trusted root file; pass --trusted-root FILE")
        return parse_trusted_root(path.read_bytes(), str(path))
    if instance in _SHIPPED_ROOTS:
        return shipped_trusted_root(instance)
    if instance == "local":
        if local_root is None or not local_root.is_file():
            raise UsageError(
                f"{local_root}: no local Sigstore trusted root; sign a snapshot first or pass --trusted-root FILE"
            )
        return parse_trusted_root(local_root.read_bytes(), str(local_root))
    raise UsageError(f"--instance {instance!r}: expected one of {', '.join(INSTANCES)} (or --trusted-root FILE)")


# -- policy ---------------------------------------------------------------------


def matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern) if "*" in pattern else value == pattern


@dataclass(frozen=True)
class Policy:
    identity: str
    issuer: str
    source_repository: str
    source_ref: str
    builder_id: str


POLICY_KEYS = {f.name.replace("_", "-") for f in dataclasses.fields(Policy)}


def packaged_policy_text() -> str:
    return (importlib.resources.files("opencode_release.verify") / "identity-policy.toml").read_text(encoding="utf-8")


def load_policy(instance: str, policy_file: str | None, overrides: dict[str, str | None]) -> Policy:
    """The section `instance` of the policy file, with flags taking precedence."""
    where = policy_file or "opencode_release/verify/identity-policy.toml"
    try:
        text = Path(policy_file).read_text(encoding="utf-8") if policy_file else packaged_policy_text()
        table = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{where}: not a readable policy file: {exc}") from exc
    section = table.get(instance, {})
    if not isinstance(section, dict):
        raise UsageError(f"{where}: [{instance}] must be a table")
    unknown = set(section) - POLICY_KEYS
    if unknown:
        raise UsageError(f"{where}: [{instance}]: unknown keys {sorted(unknown)}; expected {sorted(POLICY_KEYS)}")
    values = {**{k.replace("-", "_"): str(v) for k, v in section.items()}, **{k: v for k, v in overrides.items() if v}}
    missing = sorted(k.replace("_", "-") for k in (f.name for f in dataclasses.fields(Policy)) if not values.get(k))
    if missing:
        raise UsageError(f"{where}: [{instance}] sets no {', '.join(missing)}; add them or pass the flags")
    return Policy(**values)
