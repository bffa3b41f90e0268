"""Frozen dataclasses from TOML tables: the keys are the kebab-case field names.

Every problem is appended to `problems` (file, key, what was found, what was
expected) instead of raised, so a file's mistakes are reported all at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def doc(text: str, example: str = "", derived: str = "") -> dict[str, str]:
    """Field metadata for the generated reference: what it is, an example, where the default comes from."""
    return {"doc": text, "example": example, "derived": derived}


def setting(default: Any, text: str, example: str = "", derived: str = "") -> Any:
    return dataclasses.field(default=default, metadata=doc(text, example, derived))


def toml_fields(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """The TOML keys of a settings class, kebab-case, with their fields."""
    return {f.name.replace("_", "-"): f for f in dataclasses.fields(cls) if f.metadata.get("toml", True)}


def build(cls: type[T], table: dict[str, Any], source: Path, where: str, problems: list[str]) -> T:
    hints = typing.get_type_hints(cls)
    fields = toml_fields(cls)
    for key in table:
        if key not in fields:
            problems.append(f"{source}: {where}: unknown key {key!r}; expected one of {', '.join(sorted(fields))}")
    values: dict[str, Any] = {}
    for key, spec in fields.items():
        if key not in table:
            continue
        try:
            values[spec.name] = _coerce(hints[spec.name], table[key], source, f"{where}.{key}", problems)
        except ConfigError as exc:
            problems.append(str(exc))
    return cls(**values)


def _coerce(hint: Any, value: Any, source: Path, where: str, problems: list[str]) -> Any:
    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {where}: found {value!r} ({type(value).__name__}); expected {expected}")

    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise wrong("a table")
        return build(hint, value, source, where, problems)  # type: ignore[arg-type]
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list):
            raise wrong("an array")
        return tuple(_coerce(item, v, source, f"{where}[{i}]", problems) for i, v in enumerate(value))
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
