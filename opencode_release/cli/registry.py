"""Every command of the console script, by module. Add a module here to add its commands.

A distributor's `verify`, `verify-release` and `verify-image` need none of the pipeline: when
one of them is the command asked for, only its module is imported (`for_argv`),
so the console script starts without the build, attest and channel code and
their dependencies (start-up is most of a small verification's time).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

from .command import Command

MODULES = ("core", "manifests", "channels", "images", "verify", "ci", "project", "procurement", "reproduce")
# Commands whose module stands alone, by the module that defines them (a test checks the names).
STANDALONE = {"verify": ("verify", "verify-release", "verify-image")}


def _modules(names: Sequence[str] = MODULES) -> tuple[ModuleType, ...]:
    # Imported here, not at the top: a module may import `command` freely.
    return tuple(importlib.import_module(f"{__package__}.{name}") for name in names)


def commands(modules: Sequence[str] = MODULES) -> list[Command]:
    found: list[Command] = []
    for module in _modules(modules):
        one = getattr(module, "COMMAND", None)
        found.extend([one] if one is not None else getattr(module, "COMMANDS", ()))
    names = [c.name for c in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AssertionError(f"commands defined twice: {', '.join(duplicates)}")
    return found


def for_argv(arguments: Sequence[str]) -> list[Command]:
    """The commands a command line can need: only its module's when that module stands alone."""
    asked = next((a for a in arguments if not a.startswith("-")), None)
    for module, names in STANDALONE.items():
        if asked in names:
            return commands((module,))
    return commands()
