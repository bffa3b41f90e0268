"""The update metadata: a TUF repository written with python-tuf's metadata API.

Layout (consistent snapshots, as TUF repositories conventionally are):
`metadata/root.json` and `metadata/<N>.root.json`, `metadata/<N>.<role>.json`
for targets, snapshot and every delegated role, `metadata/timestamp.json`;
`targets/<dir>/<sha256>.<name>` for every target file.

Roles: top-level `targets` delegates each channel to its own role (`stable`,
`nightly`, `lts-1.4`) by path (`<channel>/...`); each channel role spreads
its targets over hash bins (TUF succinct delegation, `<role>-00` ...), so a
publish re-signs only the bins it touches and costs what it adds, not what
the channel holds. Each snapshot entry carries the role's expiry (an extra
field clients ignore), so a publish finds roles about to expire without
reading them all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from ..core.config_channels import ChannelSettings
from ..core.fsio import concurrently
from .channel_index import role_name
from .keys import Keyring, role_key
from .storage import ChannelError, Storage

EXPIRES = "x-opencode-expires"
MAX_DEPTH = 16  # path components below a channel that its delegation covers
# Compact: the C JSON encoder, so signing a snapshot of many bins stays cheap.
_SERIALIZER = JSONSerializer(compact=True)


def target_key(target_path: str, sha256: str) -> str:
    """Where a target file is stored: its name prefixed with its hash."""
    folder, _, name = target_path.rpartition("/")
    return f"targets/{folder}/{sha256}.{name}" if folder else f"targets/{sha256}.{name}"


def metadata_key(role: str, version: int) -> str:
    return f"metadata/{version}.{role}.json"


@dataclass
class _Staged:
    md: Metadata[Targets]
    signer_role: str  # which key signs it
    lifetime: dt.timedelta


class TufRepository:
    """Current metadata plus the changes a publish stages, written in TUF order."""

    def __init__(self, storage: Storage, keyring: Keyring, settings: ChannelSettings, now: dt.datetime) -> None:
        self.storage = storage
        self.keyring = keyring
        self.settings = settings
        self.now = now.replace(microsecond=0)
        self.root: Metadata[Root] | None = None
        self.snapshot: Metadata[Snapshot] | None = None
        self.timestamp: Metadata[Timestamp] | None = None
        self._roles: dict[str, Metadata[Targets]] = {}
        self.staged: dict[str, _Staged] = {}

    # -- reading ----------------------------------------------------------
    def _read(self, key: str) -> Any:
        data = self.storage.read(key)
        if data is None:
            raise ChannelError(f"{self.storage.description}/{key}: missing; the repository is inconsistent")
        try:
            return Metadata.from_bytes(data)
        except RepositoryError as exc:
            raise ChannelError(f"{self.storage.description}/{key}: not TUF metadata: {exc}") from exc

    def load(self) -> None:
        if self.storage.read("metadata/root.json") is not None:
            self.root = cast(Metadata[Root], self._read("metadata/root.json"))
        if self.storage.read("metadata/timestamp.json") is not None:
            self.timestamp = cast(Metadata[Timestamp], self._read("metadata/timestamp.json"))
            version = self.timestamp.signed.snapshot_meta.version
            self.snapshot = cast(Metadata[Snapshot], self._read(metadata_key("snapshot", version)))

    def role(self, name: str) -> Metadata[Targets] | None:
        """A targets-type role as staged or as the snapshot names it; None if it does not exist yet."""
        if name in self.staged:
            return self.staged[name].md
        if name not in self._roles:
            meta = self.snapshot.signed.meta.get(f"{name}.json") if self.snapshot else None
            if meta is None:
                return None
            self._roles[name] = cast(Metadata[Targets], self._read(metadata_key(name, meta.version)))
        return self._roles[name]

    # -- creating ---------------------------------------------------------
    def ensure_root(self) -> bool:
        """Create root (version 1) on first use; the only time the root key is needed."""
        if self.root is not None:
            self._check_keys()
            return False
        root_signer = self.keyring.signer("root")
        root = Root(expires=self.now + dt.timedelta(days=self.settings.targets_expiry_days), consistent_snapshot=True)
        root.add_key(root_signer.public_key, "root")
        for role in ("targets", "snapshot", "timestamp"):
            root.add_key(self.keyring.signer(role).public_key, role)
        md = Metadata(root)
        md.sign(root_signer)
        data = md.to_bytes(_SERIALIZER)
        self.storage.write(metadata_key("root", 1), data)
        self.storage.write("metadata/root.json", data)
        self.root = md
        return True

    def _check_keys(self) -> None:
        assert self.root is not None
        for role in ("targets", "snapshot", "timestamp"):
            keyid = self.keyring.signer(role).public_key.keyid
            if keyid not in self.root.signed.roles[role].keyids:
                raise ChannelError(
                    f"{self.storage.description}/metadata/root.json: does not trust this {role} key ({keyid[:16]}…, "
                    f"from {self.keyring.path(role)}); use the repository's {role} key or rotate it with the root key"
                )

    def _lifetime(self, role: str) -> tuple[str, dt.timedelta]:
        days = self.settings
        if role == "targets":
            return "targets", dt.timedelta(days=days.targets_expiry_days)
        channel = "nightly" if role.startswith(("nightly", "snapshots")) else "release"
        lifetime = days.nightly_expiry_days if channel == "nightly" else days.release_expiry_days
        return channel, dt.timedelta(days=lifetime)

    def stage(self, name: str, md: Metadata[Targets] | None = None) -> Metadata[Targets]:
        """Mark a targets-type role changed: next version, fresh expiry, signed by its key."""
        if name in self.staged:
            return self.staged[name].md
        current = md or self.role(name)
        signer, lifetime = self._lifetime(name)
        if current is None:
            current = Metadata(Targets(version=1))
        else:
            current.signed.version += 1
        current.signed.expires = self.now + lifetime
        self.staged[name] = _Staged(current, signer, lifetime)
        return current

    def ensure_channel(self, channel: str) -> str:
        """The channel's role, delegated from top-level targets on first use."""
        name = role_name(channel)
        top = self.role("targets")
        if (
            top is not None
            and top.signed.delegations
            and top.signed.delegations.roles
            and name in top.signed.delegations.roles
        ):
            return name
        top = self.stage("targets")
        key = self.keyring.signer(role_key(channel)).public_key
        if top.signed.delegations is None:
            top.signed.delegations = Delegations(keys={}, roles={})
        # TUF path patterns match component by component: one per depth, so deep
        # evidence (manifests/apt/pool/..., manifests/winget/...) is delegated too.
        paths = [channel + "/*" * depth for depth in range(1, MAX_DEPTH + 1)]
        top.signed.delegations.keys[key.keyid] = key
        assert top.signed.delegations.roles is not None
        top.signed.delegations.roles[name] = DelegatedRole(name, [key.keyid], 1, True, paths=paths)
        role = self.stage(name)
        bins = SuccinctRoles([key.keyid], 1, self.settings.hash_bin_bits, name)
        role.signed.delegations = Delegations(keys={key.keyid: key}, succinct_roles=bins)
        return name

    def _bin(self, channel: str, target_path: str) -> str:
        role = self.role(role_name(channel))
        if role is None or role.signed.delegations is None or role.signed.delegations.succinct_roles is None:
            raise ChannelError(f"channel {channel}: its TUF role has no hash bins; the repository is inconsistent")
        return role.signed.delegations.succinct_roles.get_role_for_target(target_path)

    def get_target(self, channel: str, target_path: str) -> TargetFile | None:
        if self.role(role_name(channel)) is None:
            return None
        md = self.role(self._bin(channel, target_path))
        return md.signed.targets.get(target_path) if md else None

    def add_target(self, channel: str, target: TargetFile) -> None:
        self.stage(self._bin(channel, target.path)).signed.targets[target.path] = target

    def remove_target(self, channel: str, target_path: str) -> None:
        name = self._bin(channel, target_path)
        md = self.role(name)
        if md is not None and target_path in md.signed.targets:
            self.stage(name).signed.targets.pop(target_path)

    def refresh_expiring(self) -> list[str]:
        """Re-sign roles past half their lifetime, so untouched bins never expire under clients."""
        refreshed = []
        for file_name, meta in self.snapshot.signed.meta.items() if self.snapshot else ():
            name = file_name[: -len(".json")]
            expires = meta.unrecognized_fields.get(EXPIRES)
            if name in self.staged or not isinstance(expires, str):
                continue
            _, lifetime = self._lifetime(name)
            if dt.datetime.fromisoformat(expires.replace("Z", "+00:00")) - self.now < lifetime / 2:
                self.stage(name)
                refreshed.append(name)
        return refreshed

    # -- writing, in TUF order ----------------------------------------------
    def write_targets(self) -> None:
        """Bins first, then channel roles, then top-level targets: parents after children
        (the roles of one level written concurrently, each level done before the next)."""
        levels: dict[tuple[bool, bool], list[tuple[str, bytes]]] = {}
        for name in sorted(self.staged):
            staged = self.staged[name]
            staged.md.signatures.clear()
            staged.md.sign(self.keyring.signer(staged.signer_role))
            level = levels.setdefault((name == "targets", self._is_channel(name)), [])
            level.append((metadata_key(name, staged.md.signed.version), staged.md.to_bytes(_SERIALIZER)))
        for _, files in sorted(levels.items()):
            concurrently(lambda file: self.storage.write(*file), files)

    def _is_channel(self, name: str) -> bool:
        top = self.role("targets")
        roles = top.signed.delegations.roles if top and top.signed.delegations else None
        return bool(roles) and name in roles  # type: ignore[operator]

    def write_snapshot(self) -> None:
        snapshot = self.snapshot or Metadata(Snapshot(version=1))
        for name, staged in self.staged.items():
            expires = staged.md.signed.expires.strftime("%Y-%m-%dT%H:%M:%SZ")
            snapshot.signed.meta[f"{name}.json"] = MetaFile(
                staged.md.signed.version, unrecognized_fields={EXPIRES: expires}
            )
        snapshot.signed.version += 1 if self.snapshot else 0
        snapshot.signed.expires = self.now + dt.timedelta(days=self.settings.snapshot_expiry_days)
        snapshot.signatures.clear()
        snapshot.sign(self.keyring.signer("snapshot"))
        self.storage.write(metadata_key("snapshot", snapshot.signed.version), snapshot.to_bytes(_SERIALIZER))
        self.snapshot = snapshot

    def write_timestamp(self) -> None:
        assert self.snapshot is not None
        timestamp = self.timestamp or Metadata(Timestamp(version=1))
        timestamp.signed.snapshot_meta = MetaFile(self.snapshot.signed.version)
        timestamp.signed.version += 1 if self.timestamp else 0
        timestamp.signed.expires = self.now + dt.timedelta(days=self.settings.timestamp_expiry_days)
        timestamp.signatures.clear()
        timestamp.sign(self.keyring.signer("timestamp"))
        self.storage.write("metadata/timestamp.json", timestamp.to_bytes(_SERIALIZER))
        self.timestamp = timestamp
