"""The `[tool.opencode-release]` table and the product's `[project]`, loaded into frozen settings.

Each section is a frozen dataclass; the loader walks the dataclass fields, so
adding a setting is adding a field (with its `doc`: docs/configuration.md is
generated from them, and a test fails when it drifts). TOML keys are the
kebab-case field names. What `[project]` already says (name, version,
description, license, URLs, authors, scripts) is the default
(`project_table.derived`). Every mistake is one line naming the file, the key,
what was found and what was expected, and all of them are reported at once,
before anything is built or written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config_rules, project_table
from ._toml_dataclass import build, setting
from .config_build import BuildSettings, SmokeSettings, check_build
from .config_channels import ChannelSettings, ci_store
from .config_images import ImageSettings, check_images
from .config_procurement import ProcurementSettings
from .errors import ConfigError
from .versions import Version

TABLE = "tool.opencode-release"
_STABLE_ANCHOR = dt.date(2026, 1, 6)

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
    """How releases are signed (Sigstore)."""

    instance: str = setting(
        "local",
        "production, staging, local (the embedded instance) or a path to a client trust-config .json",
        '"production"',
    )
    identity: str = setting(
        "",
        "the signer identity the local instance certifies (and verify expects)",
        '"release@mytool.local"',
        derived="release@<name>.local; for production and staging, the repository's reusable build workflow "
        "(<repository>/.github/workflows/build.yml@refs/tags/v*)",
    )
    issuer: str = setting(
        "http://127.0.0.1/oidc",
        "the OIDC issuer of that identity",
        '"https://token.actions.githubusercontent.com"',
        derived="http://127.0.0.1/oidc (the local instance); GitHub's for production and staging",
    )
    keys_dir: str = setting(
        "",
        "where real releases read private keys (in-toto, TUF, apt); empty: the state folder",
        '"/run/secrets/release"',
    )
    rekor_version: int = setting(
        1,
        "which Rekor the embedded instance (instance = local) logs into: 1, or 2 (no SET; time from its "
        "RFC 3161 timestamp authority instead)",
        "2",
    )


@dataclass(frozen=True, slots=True)
class LifecycleSettings:
    """The release calendar and what the pipeline keeps."""

    stable_anchor: dt.date = setting(  # noqa: RUF009 (setting() returns a dataclasses.field)
        _STABLE_ANCHOR, "a date of the stable train (unquoted TOML date)", "2026-01-06"
    )
    stable_cadence_weeks: int = setting(6, "weeks between two stables", "6")
    lts_month: int = setting(1, "the first stable of each year at or after this month opens that year's LTS line", "1")
    lts_support_months: int = setting(18, "months an LTS line gets patches", "18")
    nightly_keep: int = setting(30, "how many nightly payloads the nightly channel keeps", "30")
    evidence_days: int = setting(730, "days the evidence (SBOMs, provenance) of a pruned release is kept", "730")
    changelog: str = setting(
        "CHANGELOG.md", "the changelog (its format: docs/changelog.md), relative to the project", '"CHANGELOG.md"'
    )


@dataclass(frozen=True, slots=True)
class HomebrewSettings:
    """The Homebrew formula."""

    tap: str = setting(
        "",
        "the tap repository the formula is for",
        '"newcomer/homebrew-tap"',
        derived="<GitHub owner of the repository URL>/homebrew-tap",
    )
    formula: str = setting(
        "", "the formula name (Formula/<formula>.rb, class name from it)", '"mytool"', derived="name"
    )


@dataclass(frozen=True, slots=True)
class WingetSettings:
    """The winget-pkgs manifests."""

    identifier: str = setting(
        "",
        "PackageIdentifier, Publisher.Package",
        '"Newcomer.Mytool"',
        derived="<publisher>.<name>, each part capitalised, spaces removed",
    )
    publisher: str = setting(
        "",
        "the Publisher field",
        '"Newcomer"',
        derived="first [project] maintainer or author name, else the GitHub owner, else name",
    )
    manifest_version: str = setting("1.10.0", "the winget manifest schema version", '"1.10.0"')


@dataclass(frozen=True, slots=True)
class AptSettings:
    """The .deb packages and the apt repository."""

    # A real mail domain: lintian refuses .local/localhost maintainers (bogus-mail-host).
    maintainer: str = setting(
        "",
        "the Maintainer field, Name <email>",
        '"Ada Newcomer <ada@example.net>"',
        derived="first [project].maintainers (else authors) entry with an email",
    )
    section: str = setting("devel", "the Debian section", '"utils"')
    key_id: str = setting(
        "", "the gpg key that signs the repository; empty: a throwaway key (snapshots only)", '"0xABCDEF0123456789"'
    )
    valid_days: int = setting(
        7,
        "Valid-Until of every Release, in days from signing: apt refuses an older (replayed) InRelease after it",
        "14",
    )


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """The package index the wheel and sdist are uploaded to."""

    url: str = setting("", "upload URL (empty: no upload)", '"https://upload.pypi.org/legacy/"')
    username: str = setting(
        "__token__", "twine user name (the password comes from $OPENCODE_INDEX_PASSWORD)", '"__token__"'
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """The top of the table."""

    name: str = setting(
        "",
        "the binary's name (and the package name downstream)",
        '"mytool"',
        derived="the one [project.scripts] name, else [project].name",
    )
    package: str = setting(
        "",
        "the Python package compiled, relative to the project",
        '"src/mytool"',
        derived="the console script's top package, under src/ or beside pyproject.toml",
    )
    entry_point: str = setting(
        "",
        "module:function run when the package has no __main__.py",
        '"mytool.cli:main"',
        derived="the one [project.scripts] entry",
    )
    version: str = setting("", "the release version", '"1.2.0"', derived="[project].version")
    description: str = setting("", "one sentence about the product", '"A small tool"', derived="[project].description")
    homepage: str = setting(
        "",
        "the product's web page",
        '"https://mytool.example.net"',
        derived="[project.urls] Homepage (else Repository)",
    )
    license: str = setting("", "SPDX license expression", '"Apache-2.0"', derived="[project].license")
    repository: str = setting(
        "",
        "the source repository URL (provenance, verify)",
        '"https://github.com/newcomer/mytool"',
        derived="[project.urls] Repository (or Source)",
    )
    targets: tuple[str, ...] = setting(
        ALL_TARGETS, f"the targets released: {', '.join(ALL_TARGETS)}", '["linux-x86_64-gnu", "darwin-arm64"]'
    )
    dist_dir: str = setting("dist", "where releases are written, relative to the project", '"dist"')
    state_dir: str = setting(
        ".opencode-release", "the ignored folder for keys and local services", '".opencode-release"'
    )
    signing: SigningSettings = field(default_factory=SigningSettings)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    homebrew: HomebrewSettings = field(default_factory=HomebrewSettings)
    winget: WingetSettings = field(default_factory=WingetSettings)
    apt: AptSettings = field(default_factory=AptSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    smoke: SmokeSettings = field(default_factory=SmokeSettings)
    build: BuildSettings = field(default_factory=BuildSettings)
    images: ImageSettings = field(default_factory=ImageSettings)
    procurement: ProcurementSettings = field(default_factory=ProcurementSettings)
    # Not TOML keys: the runtime requirements [project].dependencies declares.
    dependencies: tuple[str, ...] = field(default=(), metadata={"toml": False})
    # Not TOML keys: where the settings came from, so paths resolve against it.
    project_dir: Path = field(default=Path(), metadata={"toml": False})
    source_file: Path = field(default=Path("pyproject.toml"), metadata={"toml": False})

    def path(self, relative: str) -> Path:
        return (self.project_dir / relative).resolve()

    def ci_channel_store(self) -> str:
        """Where CI publishes (channels.ci-storage or what it derives to)."""
        return ci_store(self.channels, self.name)


# Checks over loaded settings: each appends every problem it finds (hostile-input
# range and pattern rules plug in here too).
CHECKS: list[Callable[[Settings, str, list[str]], None]] = []


def load(pyproject: Path) -> Settings:
    """Settings from a product's pyproject.toml; every problem of the file in one ConfigError."""
    if not pyproject.is_file():
        raise ConfigError(f"{pyproject}: no such file; pass --project DIR with a pyproject.toml")
    try:
        text = pyproject.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{pyproject}: not valid TOML: {exc}") from exc
    return load_text(text, pyproject)


def load_text(text: str, pyproject: Path) -> Settings:
    """Settings from the text of `pyproject` (e.g. one about to be written), relative to its folder."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: not valid TOML: {exc}") from exc
    table = data.get("tool", {}).get("opencode-release")
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: no [{TABLE}] table; add one with `opencode-release init`")
    problems: list[str] = []
    merged = _merge(project_table.derived(data.get("project"), pyproject, problems, table), table)
    settings = build(Settings, merged, pyproject, TABLE, problems)
    project = data.get("project")
    declared = project.get("dependencies", []) if isinstance(project, dict) else []
    settings = dataclasses.replace(
        settings,
        project_dir=pyproject.parent.resolve(),
        source_file=pyproject.resolve(),
        dependencies=tuple(d for d in declared if isinstance(d, str)) if isinstance(declared, list) else (),
    )
    for check in (_check, *CHECKS):
        check(settings, str(pyproject), problems)
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))
    return settings


def _merge(defaults: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """The table over the derived defaults, one level of sub-tables deep."""
    merged = dict(defaults)
    for key, value in table.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _mentioned(problems: list[str], key: str) -> bool:
    return any(f"{TABLE}.{key}:" in p or f"[project].{key}:" in p for p in problems)


def _check(settings: Settings, where: str, problems: list[str]) -> None:
    for target in settings.targets:
        if target not in ALL_TARGETS:
            problems.append(
                f"{where}: {TABLE}.targets: unknown target {target!r}; expected one of {', '.join(ALL_TARGETS)}"
            )
    if not settings.name and not _mentioned(problems, "name"):
        problems.append(f"{where}: {TABLE}.name: missing; set [project].name or {TABLE}.name")
    if settings.version:
        try:
            Version.parse(settings.version)
        except Exception as exc:
            problems.append(f"{where}: {TABLE}.version: {exc}")
    elif not _mentioned(problems, "version"):
        problems.append(f"{where}: {TABLE}.version: missing; set [project].version")
    if settings.entry_point and ":" not in settings.entry_point:
        problems.append(f"{where}: {TABLE}.entry-point: found {settings.entry_point!r}; expected module:function")
    instance = settings.signing.instance
    if instance not in ("production", "staging", "local") and not instance.endswith(".json"):
        problems.append(
            f"{where}: {TABLE}.signing.instance: found {instance!r}; expected "
            "production, staging, local or a path to a trust-config .json file"
        )
    if settings.signing.rekor_version not in (1, 2):
        problems.append(
            f"{where}: {TABLE}.signing.rekor-version: found {settings.signing.rekor_version}; expected 1 or 2"
        )
    elif settings.signing.rekor_version != 1 and instance != "local":
        problems.append(
            f"{where}: {TABLE}.signing.rekor-version: applies to the embedded instance only; "
            f"with instance {instance!r} the instance's signing config chooses the log: remove the key"
        )
    if not settings.apt.maintainer and any(t.startswith("linux-") and t.endswith("-gnu") for t in settings.targets):
        problems.append(
            f'{where}: {TABLE}.apt.maintainer: missing; expected "Name <email>" here or a [project].maintainers '
            "(or authors) entry with name and email (the .deb of the Linux gnu targets needs one)"
        )
    config_rules.check(settings, where, problems, TABLE)
    check_images(settings.images, ALL_TARGETS, where, problems, TABLE)
    check_build(settings.build, where, problems, TABLE)
