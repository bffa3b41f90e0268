"""docs/configuration.md, generated from the settings classes (a test fails when it drifts)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from typing import Any

from . import config, config_rules
from ._toml_dataclass import toml_fields

_INTRO = """\
# Configuration reference

Generated from `opencode_release/core/config.py` by
`python -m opencode_release.core.config_reference > docs/configuration.md`;
`tests/unit/test_config_reference.py` fails when this file and the code differ.

A product is configured by its own `pyproject.toml`. What `[project]` already
says is read from there: `name`, `version`, `description`, `license` (an SPDX
expression, PEP 639), `[project.urls]` (Homepage, Repository), `authors` or
`maintainers` and `[project.scripts]`. `[tool.opencode-release]` holds only
what the pipeline adds; a key set there wins over what is derived. Every
problem of the file is reported at once, one line each (file, key, what was
found, what is expected), and exits 2 before anything is built.
`opencode-release init` writes the table; `opencode-release check` validates it.
"""


def _type(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        return f"array of {_type(item)}"
    if dataclasses.is_dataclass(hint):
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "boolean", dt.date: "date"}.get(hint, str(hint))


def _default(spec: dataclasses.Field[Any]) -> str:
    derived = spec.metadata.get("derived", "")
    if derived:
        return f"from {derived}"
    value = spec.default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if isinstance(value, tuple):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]`"
    return f"`{value}`"


def _section(cls: type[Any], heading: str) -> list[str]:
    hints = typing.get_type_hints(cls)
    lines = [f"## `[{heading}]`", "", (cls.__doc__ or "").strip(), ""]
    lines += ["| key | type | default | example | meaning |", "|---|---|---|---|---|"]
    nested: list[tuple[type[Any], str]] = []
    for key, spec in toml_fields(cls).items():
        hint = hints[spec.name]
        if dataclasses.is_dataclass(hint):
            nested.append((hint, f"{heading}.{key}"))  # type: ignore[arg-type]
            continue
        item = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else None
        if item is not None and dataclasses.is_dataclass(item):
            nested.append((item, f"[{heading}.{key}]"))  # type: ignore[arg-type]
        example = spec.metadata.get("example", "")
        cells = [
            f"`{key}`",
            _type(hint),
            _default(spec),
            f"`{example}`" if example else "",
            spec.metadata.get("doc", ""),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    lines.append("")
    for child, name in nested:
        lines += _section(child, name)
    return lines


def _rules() -> list[str]:
    """What config_rules checks beyond the types, read from its tables (so this never drifts either)."""
    table = config.TABLE
    lines = ["## Rules checked when the file loads", ""]
    lines += ["Names that become file names, package names and URL parts match their pattern in full:", ""]
    lines += ["| key | pattern | what |", "|---|---|---|"]
    for key, (pattern, what) in config_rules.NAME_PATTERNS.items():
        lines.append(f"| `{table}.{key}` | `{pattern.replace('|', chr(92) + '|')}` | {what} |")
    lines += ["", "Numbers stay in their range (both ends included):", "", "| key | from | to |", "|---|---|---|"]
    lines += [f"| `{table}.{key}` | {low:g} | {high:g} |" for key, (low, high) in config_rules.RANGES.items()]
    files = ", ".join(f"`{key}`" for key in config_rules.PROJECT_FILES)
    placeholders = ", ".join(f"`{{{name}}}`" for name in config_rules.DOWNLOAD_URL_PLACEHOLDERS)
    lines += [
        "",
        f"The product's own files ({files}, and `channels.update-root`, which must exist) are paths inside the "
        "project: relative, normalised, no `..`, no absolute or drive path, no control character.",
        "`homepage` and `repository` are http(s):// URLs with no space, quote, backslash or angle bracket. "
        "No string setting holds a control character; `version` and the names above have no surrounding "
        f"space. `channels.download-url` has `{{file}}` and only the placeholders {placeholders}, and renders "
        "to an http(s) URL. `channels.timestamp-expiry-days` is at most `snapshot-expiry-days`.",
        "",
    ]
    return lines


def render() -> str:
    lines = [_INTRO, *_section(config.Settings, config.TABLE), *_rules()]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
