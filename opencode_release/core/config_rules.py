"""The rules a configuration must keep beyond its types (issue #15): names that become file names
and URL parts match a pattern, numbers stay in range, the product's own files stay inside it (the
path rule of core/fsio.py), and the download-url template renders. Checked when it loads; every
broken rule is one more line of the ConfigError (exit 2).
"""

from __future__ import annotations

import dataclasses
import re
import string
import urllib.parse
from collections.abc import Iterator
from typing import Any

from .errors import ConfigError
from .fsio import path_problem

# Names that become file names, package names and URL parts: each must match its pattern in full,
# or the configuration does not load (issue #15: a name with a '/' was used in output paths).
NAME_PATTERNS: dict[str, tuple[str, str]] = {
    # the binary, archive and .deb are named after it: a PEP 508 name, which is also a safe file name
    "name": (r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?", "letters, digits, '.', '_' or '-' (PEP 508)"),
    "homebrew.formula": (r"[a-z0-9](?:[a-z0-9@._+-]{0,62}[a-z0-9])?", "a Homebrew formula name"),
    "homebrew.tap": (r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/homebrew-[A-Za-z0-9._-]{1,64}", "OWNER/homebrew-NAME"),
    # winget's own PackageIdentifier pattern (schema 1.10.0)
    "winget.identifier": (
        r"[^.\s\\/:*?\"<>|\x01-\x1f]{1,32}(?:\.[^.\s\\/:*?\"<>|\x01-\x1f]{1,32}){1,7}",
        "Publisher.Package (winget PackageIdentifier)",
    ),
    # a bucket name (S3's rules) and key prefix; it becomes part of a workflow's script, so nothing else
    "channels.ci-storage": (
        r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/[A-Za-z0-9._-]+)*",
        "s3://BUCKET/PREFIX (CI publishes to an object store, never into the runner's folder)",
    ),
    "apt.section": (r"[a-z0-9][a-z0-9+.-]*(?:/[a-z0-9][a-z0-9+.-]*)?", "a Debian section such as devel"),
}
# Numbers with a range: (low, high), both inclusive.
RANGES: dict[str, tuple[float, float]] = {
    "lifecycle.stable-cadence-weeks": (1, 52),
    "lifecycle.lts-month": (1, 12),
    "lifecycle.lts-support-months": (1, 120),
    "lifecycle.nightly-keep": (1, 10_000),
    "lifecycle.evidence-days": (1, 36_500),
    "channels.lock-timeout-seconds": (0.1, 3600),
    "channels.timestamp-expiry-days": (1, 366),
    "channels.snapshot-expiry-days": (1, 3660),
    "channels.targets-expiry-days": (1, 3660),
    "channels.release-expiry-days": (1, 3660),
    "channels.nightly-expiry-days": (1, 3660),
    "channels.hash-bin-bits": (0, 16),
    "apt.valid-days": (1, 3650),
    "procurement.osv-max-bytes": (1, 1 << 40),
    "procurement.osv-deadline": (0.1, 86_400),
}
# The product's own files named in the table: the path rule of core/fsio.py, so inside the project
# (output and key folders, such as dist-dir or signing.keys-dir, may lie outside it by design).
PROJECT_FILES = (
    "package",
    "lifecycle.changelog",
    "build.lock",
    "procurement.statements",
    "procurement.osv-export",
    "procurement.vex-triage",
)
# ... or, for these, an http(s) URL (the OSV export is fetched: procurement/osv_fetch.py).
MAY_BE_A_URL = ("procurement.osv-export",)
DOWNLOAD_URL_PLACEHOLDERS = ("homepage", "channel", "version", "sha256", "file")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_URL = re.compile(r"https?://[^\s\"'<>\\`{}|^]+")


def check(settings: Any, where: str, problems: list[str], table: str) -> None:
    _check_text(settings, where, problems, table)
    _check_names(settings, where, problems, table)
    _check_ranges(settings, where, problems, table)
    _check_paths(settings, where, problems, table)
    _check_update_root(settings, where, problems, table)
    _check_urls(settings, where, problems, table)
    try:
        check_download_url(settings.channels.download_url, f"{where}: {table}.channels.download-url")
    except ConfigError as exc:
        problems.append(str(exc))


def value_of(settings: Any, key: str) -> Any:
    for part in key.split("."):
        settings = getattr(settings, part.replace("-", "_"))
    return settings


def _text_fields(settings: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    for spec in dataclasses.fields(settings):
        if not spec.metadata.get("toml", True):
            continue
        key, value = prefix + spec.name.replace("_", "-"), getattr(settings, spec.name)
        if dataclasses.is_dataclass(value):
            yield from _text_fields(value, key + ".")
        elif isinstance(value, str):
            yield key, value
        elif isinstance(value, tuple):
            yield from ((f"{key}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str))


def _check_text(settings: Any, where: str, problems: list[str], table: str) -> None:
    """No string setting carries control characters; names and the version no surrounding space."""
    for key, value in _text_fields(settings):
        if _CONTROL.search(value):
            problems.append(f"{where}: {table}.{key}: found {value!r}; control characters are not allowed")
        elif value != value.strip() and (key == "version" or key in NAME_PATTERNS):
            problems.append(f"{where}: {table}.{key}: found {value!r}; remove the surrounding whitespace")


def _check_names(settings: Any, where: str, problems: list[str], table: str) -> None:
    for key, (pattern, what) in NAME_PATTERNS.items():
        value = value_of(settings, key)
        if value and not re.fullmatch(pattern, value) and not any(f"{table}.{key}:" in p for p in problems):
            problems.append(f"{where}: {table}.{key}: found {value!r}; expected {what} (pattern {pattern})")


def _check_ranges(settings: Any, where: str, problems: list[str], table: str) -> None:
    for key, (low, high) in RANGES.items():
        value = value_of(settings, key)
        if not low <= value <= high:
            problems.append(f"{where}: {table}.{key}: found {value}; expected a number from {low:g} to {high:g}")
    channels = settings.channels
    if channels.timestamp_expiry_days > channels.snapshot_expiry_days:
        problems.append(
            f"{where}: {table}.channels.timestamp-expiry-days: found {channels.timestamp_expiry_days}, more than "
            f"snapshot-expiry-days ({channels.snapshot_expiry_days}); the timestamp must expire first"
        )


def _check_paths(settings: Any, where: str, problems: list[str], table: str) -> None:
    """Files of the product named in the table: inside the project folder (the path rule)."""
    for key in PROJECT_FILES:
        value = value_of(settings, key)
        if key in MAY_BE_A_URL and urllib.parse.urlsplit(value).scheme in ("http", "https"):
            if not urllib.parse.urlsplit(value).hostname:
                problems.append(f"{where}: {table}.{key}: found {value!r}: a URL without a host")
            continue
        problem = path_problem(value) if value else None
        if problem is not None:
            problems.append(f"{where}: {table}.{key}: found {value!r}: {problem}; expected a path inside the project")


def _check_urls(settings: Any, where: str, problems: list[str], table: str) -> None:
    """The product's URLs (from [project.urls] or the table) go into formulas, manifests, the .deb,
    provenance and the download URLs: http(s), nothing that ends a quoted string or a line."""
    for key in ("homepage", "repository"):
        value = value_of(settings, key)
        if value and not _URL.fullmatch(value) and not any(f"{table}.{key}:" in p for p in problems):
            problems.append(f"{where}: {table}.{key}: found {value!r}; expected an http(s):// URL")


def _check_update_root(settings: Any, where: str, problems: list[str], table: str) -> None:
    """The pinned TUF root: a .json file of the product, there when the configuration loads."""
    value = settings.channels.update_root
    if not value:
        return
    key = f"{where}: {table}.channels.update-root: found {value!r}"
    problem = path_problem(value)
    if problem is not None:
        problems.append(f"{key}: {problem}; expected a path inside the project")
    elif not value.endswith(".json"):
        problems.append(f"{key}; expected the repository's root metadata, a .json file")
    elif not settings.path(value).is_file():
        problems.append(
            f"{key}: no such file; copy the channel repository's metadata/1.root.json there (obtained out of band)"
        )


def check_download_url(template: str, where: str) -> None:
    """A `str.format` template with {file} and only the documented placeholders; renders to http(s)."""
    expected = "expected a URL template with {file} and only the placeholders " + ", ".join(
        "{" + p + "}" for p in DOWNLOAD_URL_PLACEHOLDERS
    )
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{where}: found {template!r}: {exc}; {expected}") from None
    names = [name for _, name, _, _ in parsed if name is not None]
    unknown = sorted({n for n in names if n not in DOWNLOAD_URL_PLACEHOLDERS})
    if unknown or "file" not in names or any(spec or conversion for _, name, spec, conversion in parsed if name):
        raise ConfigError(f"{where}: found {template!r}; {expected}")
    sample = template.format(
        homepage="https://example.org", channel="stable", version="1.4.0", sha256="0" * 64, file="f.tar.gz"
    )
    if not sample.startswith(("https://", "http://")):
        raise ConfigError(
            f"{where}: found {template!r}; it must give an http(s) URL (start with {{homepage}} or https://)"
        )
