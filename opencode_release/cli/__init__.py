"""The console script `opencode-release`: the same task collection as tasks.py."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.program import Program

from .. import __version__
from . import attest, channels, ci, manifests, release_tasks, verify


def collection() -> Collection:
    ns = Collection()
    for module in (release_tasks, manifests, channels, attest, verify, ci):
        for name in getattr(module, "__all_tasks__", None) or _tasks_of(module):
            ns.add_task(getattr(module, name))
    return ns


def _tasks_of(module: object) -> list[str]:
    from invoke.tasks import Task

    return [name for name, value in vars(module).items() if isinstance(value, Task)]


namespace = collection()
program = Program(namespace=namespace, name="opencode-release", binary="opencode-release", version=__version__)


def main() -> None:
    program.run()
