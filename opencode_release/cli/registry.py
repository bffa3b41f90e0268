"""Every command of the console script, by module. Add a module here to add its commands."""

from __future__ import annotations

from types import ModuleType

from .command import Command


def _modules() -> tuple[ModuleType, ...]:
    # Imported here, not at the top: a module may import `command` freely.
    from . import channels, ci, core, images, manifests, procurement, project, verify

    return (core, manifests, channels, images, verify, ci, project, procurement)


def commands() -> list[Command]:
    found: list[Command] = []
    for module in _modules():
        one = getattr(module, "COMMAND", None)
        found.extend([one] if one is not None else getattr(module, "COMMANDS", ()))
    names = [c.name for c in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AssertionError(f"commands defined twice: {', '.join(duplicates)}")
    return found
