"""The invoke collection (tasks.py in a checkout): one task per command, derived from its parser.

A task is a thin wrapper: it builds the same argparse Namespace the console
script would and calls the same `program.run`, so a flag, a default, an exit
code or a JSON document cannot differ between `invoke X` and
`opencode-release X`. `test` is the one task of the checkout alone.
"""

from __future__ import annotations

import argparse
import inspect
import keyword
import sys
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context as InvokeContext
from invoke.exceptions import Exit
from invoke.tasks import Task, task

from .command import Command, Output
from .program import _Parser, run
from .registry import commands


def _param(dest: str) -> str:
    return dest + "_" if keyword.iskeyword(dest) else dest


def _task_of(cmd: Command) -> Task[Any]:
    parser = _Parser(prog=f"invoke {cmd.name}")
    cmd.arguments(parser)
    if cmd.takes_json:
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    params = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    helps: dict[str, str] = {}
    positional: list[str] = []
    iterable: list[str] = []
    for action in actions:
        name = _param(action.dest)
        default = action.default
        if isinstance(action, argparse._AppendAction):
            iterable.append(name)
            default = None
        if not action.option_strings:
            positional.append(name)
            default = inspect.Parameter.empty
        params.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
        helps[name] = (action.help or "").replace("%%", "%")

    def body(c: InvokeContext, *args: Any, **kwargs: Any) -> None:
        values = dict(zip((p.name for p in params[1:]), args, strict=False)) | kwargs
        namespace = argparse.Namespace(**{a.dest: values.get(_param(a.dest), a.default) for a in actions})
        for a in actions:  # invoke gives an empty list for an iterable never passed
            if isinstance(a, argparse._AppendAction) and not getattr(namespace, a.dest):
                setattr(namespace, a.dest, None)
        code = run(cmd, namespace, Output(bool(getattr(namespace, "json", False))))
        if code:
            raise Exit(code=code)

    body.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    body.__doc__ = cmd.summary
    body.__name__ = cmd.name.replace("-", "_")
    return Task(body, name=cmd.name, help=helps, positional=positional, iterable=iterable, auto_shortflags=False)


@task(help={"fast": "unit tests only (skip integration tests)", "pytest_args": "extra pytest arguments"})
def test(c: InvokeContext, fast: bool = False, pytest_args: str = "") -> None:
    """Lint (ruff), format check, type-check (mypy strict), the CI workflow check and the test suite."""
    python = sys.executable  # the tools of this environment, activated or not
    c.run(f"{python} -m ruff check .", echo=True, pty=False)
    c.run(f"{python} -m ruff format --check .", echo=True, pty=False)
    c.run(f"{python} -m mypy", echo=True, pty=False)
    # The committed CI workflows must be what the configuration generates.
    c.run(f"{Path(python).parent / 'opencode-release'} ci --check", echo=True, pty=False)
    marker = '-m "not integration"' if fast else ""
    c.run(f"{python} -m pytest -n 2 {marker} {pytest_args}", echo=True, pty=False)


def collection() -> Collection:
    ns = Collection()
    for cmd in commands():
        ns.add_task(_task_of(cmd))
    ns.add_task(test)
    return ns


namespace = collection()
