"""The `[tool.opencode-release]` table, loaded into frozen settings.

Each section is a frozen dataclass; the loader walks the dataclass fields, so
adding a setting is adding a field. TOML keys are the kebab-case field names.
Every mistake is one line naming the file, the key, what was found and what
was expected; nothing is written before settings load.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError
from .versions import Version

TABLE = "tool.opencode-release"

ALL_TARGETS = (
    "darwin-x86_64",
    "darwin-arm64",
    "darwin-universal",
    "windows-x86_64",
    "windows-arm64",
    "linux-x86_64-gnu",
    "linux-aarch64-gnu",
    "linux-x86_64-musl",
    "linux-aarch64-musl",
)


@dataclass(frozen=True, slots=True)
class SigningSettings:
    # production | staging | local | a path to a client trust-config JSON file
    instance: str = "local"
    identity: str = "release@opencode.local"
    issuer: str = "http://127.0.0.1/oidc"
    # Where real releases read private keys (in-toto, TUF, apt); empty = state folder.
    keys_dir: str = ""


@dataclass(frozen=True, slots=True)
class LifecycleSettings:
    stable_anchor: dt.date = dt.date(2026, 1, 6)
    stable_cadence_weeks: int = 6
    # The first stable of each year at or after this month becomes the LTS line.
    lts_month: int = 1
    lts_support_months: int = 18
    nightly_keep: int = 30
    evidence_days: int = 730
    # Keep a Changelog file (plus an Incidents section), relative to the project.
    changelog: str = "CHANGELOG.md"


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    root: str = "public"
    # "filesystem" or "s3://bucket/prefix"
    storage: str = "filesystem"
    s3_endpoint: str = ""
    lock_timeout_seconds: float = 30.0
    # TUF metadata lifetimes: a client refuses metadata past its expiry (freeze attacks).
    timestamp_expiry_days: int = 7
    snapshot_expiry_days: int = 14
    targets_expiry_days: int = 365
    release_expiry_days: int = 365  # stable and lts/<line> roles
    nightly_expiry_days: int = 14
    # Each channel's targets are spread over 2**bits hash bins, so a publish
    # re-signs the few bins it touches, not the whole channel.
    hash_bin_bits: int = 8
    # Where distributors (Homebrew, winget) download a release file. Placeholders:
    # {homepage}, {channel} (stable | lts/<major.minor> | nightly), {version}, {file}.
    # Where the channel repository serves a published file: TUF's consistent
    # snapshot layout, `targets/<channel>/<version>/<sha256>.<file>` (see
    # channels/tuf_repo.py), so the default URL is one the publisher creates.
    download_url: str = "{homepage}/targets/{channel}/{version}/{sha256}.{file}"


@dataclass(frozen=True, slots=True)
class HomebrewSettings:
    tap: str = "opencode/homebrew-tap"
    formula: str = "opencode"


@dataclass(frozen=True, slots=True)
class WingetSettings:
    identifier: str = "OpenCode.OpenCode"
    publisher: str = "OpenCode"
    manifest_version: str = "1.10.0"


@dataclass(frozen=True, slots=True)
class AptSettings:
    # A real mail domain: lintian refuses .local/localhost maintainers (bogus-mail-host).
    maintainer: str = "OpenCode Release Team <release@opencode.example.org>"
    section: str = "devel"
    # Empty: a throwaway key in the state folder (snapshot releases only).
    key_id: str = ""


@dataclass(frozen=True, slots=True)
class IndexSettings:
    url: str = ""
    username: str = "__token__"


@dataclass(frozen=True, slots=True)
class Settings:
    name: str
    package: str
    version: str
    description: str = ""
    homepage: str = ""
    license: str = "MIT"
    repository: str = ""
    targets: tuple[str, ...] = ALL_TARGETS
    dist_dir: str = "dist"
    state_dir: str = ".opencode-release"
    signing: SigningSettings = field(default_factory=SigningSettings)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    homebrew: HomebrewSettings = field(default_factory=HomebrewSettings)
    winget: WingetSettings = field(default_factory=WingetSettings)
    apt: AptSettings = field(default_factory=AptSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    # Not TOML keys: where the settings came from, so paths resolve against it.
    project_dir: Path = field(default=Path(), metadata={"toml": False})
    source_file: Path = field(default=Path("pyproject.toml"), metadata={"toml": False})

    def path(self, relative: str) -> Path:
        return (self.project_dir / relative).resolve()


T = TypeVar("T")


def load(pyproject: Path) -> Settings:
    """Settings from a product's pyproject.toml."""
    if not pyproject.is_file():
        raise ConfigError(f"{pyproject}: no such file; pass --project DIR with a pyproject.toml")
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: not valid TOML: {exc}") from exc
    table = data.get("tool", {}).get("opencode-release")
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: no [{TABLE}] table; add one (see product/pyproject.toml)")
    table = dict(table)
    if "version" not in table:
        project_version = data.get("project", {}).get("version")
        if isinstance(project_version, str):
            table["version"] = project_version
    settings = _build(Settings, table, pyproject, TABLE)
    settings = dataclasses.replace(settings, project_dir=pyproject.parent.resolve(), source_file=pyproject.resolve())
    _check(settings, pyproject)
    return settings


def _check(settings: Settings, pyproject: Path) -> None:
    for target in settings.targets:
        if target not in ALL_TARGETS:
            raise ConfigError(
                f"{pyproject}: {TABLE}.targets: unknown target {target!r}; expected one of {', '.join(ALL_TARGETS)}"
            )
    try:
        Version.parse(settings.version)
    except Exception as exc:
        raise ConfigError(f"{pyproject}: {TABLE}.version: {exc}") from exc
    instance = settings.signing.instance
    if instance not in ("production", "staging", "local") and not instance.endswith(".json"):
        raise ConfigError(
            f"{pyproject}: {TABLE}.signing.instance: found {instance!r}; expected "
            "production, staging, local or a path to a trust-config .json file"
        )
    for key, value in (
        ("lifecycle.stable-cadence-weeks", settings.lifecycle.stable_cadence_weeks),
        ("lifecycle.lts-support-months", settings.lifecycle.lts_support_months),
        ("lifecycle.nightly-keep", settings.lifecycle.nightly_keep),
        ("channels.timestamp-expiry-days", settings.channels.timestamp_expiry_days),
        ("channels.snapshot-expiry-days", settings.channels.snapshot_expiry_days),
        ("channels.targets-expiry-days", settings.channels.targets_expiry_days),
        ("channels.release-expiry-days", settings.channels.release_expiry_days),
        ("channels.nightly-expiry-days", settings.channels.nightly_expiry_days),
    ):
        if value <= 0:
            raise ConfigError(f"{pyproject}: {TABLE}.{key}: found {value}; expected a positive integer")
    if not 0 <= settings.channels.hash_bin_bits <= 16:
        raise ConfigError(
            f"{pyproject}: {TABLE}.channels.hash-bin-bits: found {settings.channels.hash_bin_bits}; expected 0-16"
        )
    if not 1 <= settings.lifecycle.lts_month <= 12:
        raise ConfigError(
            f"{pyproject}: {TABLE}.lifecycle.lts-month: found {settings.lifecycle.lts_month}; "
            "expected a month number 1-12"
        )


def _build(cls: type[T], table: dict[str, Any], source: Path, where: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {
        f.name.replace("_", "-"): f
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.metadata.get("toml", True)
    }
    for key in table:
        if key not in fields:
            raise ConfigError(f"{source}: {where}: unknown key {key!r}; expected one of {', '.join(sorted(fields))}")
    values: dict[str, Any] = {}
    for key, spec in fields.items():
        if key not in table:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: {where}.{key}: missing; this key is required")
            continue
        values[spec.name] = _coerce(hints[spec.name], table[key], source, f"{where}.{key}")
    return cls(**values)


def _coerce(hint: Any, value: Any, source: Path, where: str) -> Any:
    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {where}: found {value!r} ({type(value).__name__}); expected {expected}")

    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise wrong("a table")
        return _build(hint, value, source, where)  # type: ignore[arg-type]
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list):
            raise wrong("an array")
        return tuple(_coerce(item, v, source, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (types.UnionType, typing.Union):
        raise AssertionError(f"unsupported setting type {hint}")
    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if hint is dt.date:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise wrong("a date (YYYY-MM-DD, unquoted)")
        return value
    raise AssertionError(f"unsupported setting type {hint}")
