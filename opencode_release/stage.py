"""The Stage contract and the Context a stage receives.

A stage is a small stateless object: a `name`, the artifact kinds it
`consumes` (their digests fingerprint its inputs, so the runner can tell when
a recorded run is still valid), an optional `skip`, and `run(ctx)`. Stages
never import one another; they meet in `ctx.ledger`. Stages never prefix their
own messages with their name: the runner does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from .artifacts import Ledger
from .config import Settings


class Progress(Protocol):
    def advance(self, amount: float = 1) -> None: ...


class Reporter(Protocol):
    """How stages talk to the person or CI watching."""

    def note(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def progress(self, description: str, total: float | None) -> contextlib.AbstractContextManager[Progress]: ...


class _NoProgress:
    def advance(self, amount: float = 1) -> None:
        pass


@dataclass
class CollectingReporter:
    """A reporter that keeps messages: for tests and `--json` runs."""

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    @contextlib.contextmanager
    def progress(self, description: str, total: float | None) -> Iterator[Progress]:
        yield _NoProgress()


@dataclass
class Context:
    settings: Settings
    ledger: Ledger
    reporter: Reporter
    # The targets this run builds here (the host's), and all the release covers.
    build_targets: tuple[str, ...]
    snapshot: bool = True
    dry_run: bool = False
    # Stage-specific choices from flags (e.g. {"signing.instance": "local"}).
    options: Mapping[str, Any] = field(default_factory=dict)
    # What early stages' `prepare` is computing, by stage name (the runner fills it).
    early: dict[str, Future[Any]] = field(default_factory=dict)

    def prepared(self, stage: Stage) -> Any:
        """The result of `stage.prepare`, when the runner started it early; None otherwise.

        Waits for it, and raises what it raised.
        """
        future = self.early.pop(stage.name, None)
        return None if future is None else future.result()

    @property
    def dist_dir(self) -> Path:
        return self.ledger.root

    @property
    def epoch(self) -> int:
        """SOURCE_DATE_EPOCH: the only clock a stage may embed."""
        return self.ledger.source.epoch

    @property
    def state_dir(self) -> Path:
        """The ignored folder for keys and local services, created on first use."""
        path = self.settings.path(self.settings.state_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


class Stage:
    """Base for stages; subclasses set `name`, `consumes` and implement `run`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    consumes: ClassVar[tuple[str, ...]] = ()
    # Checks (preflight, verify) run every time; they record no outputs.
    always_run: ClassVar[bool] = False
    # True when `prepare` needs nothing earlier stages make: the runner then
    # starts it on a worker thread as the run begins, alongside the compile,
    # and `run` collects it with `ctx.prepared(self)`. `prepare` may read the
    # settings and the source tree; it must not touch the ledger or report.
    early: ClassVar[bool] = False

    def skip(self, ctx: Context) -> str | None:
        """A reason not to run in this release (e.g. 'no Windows targets'), or None."""
        return None

    def fingerprint(self, ctx: Context) -> str:
        """Extra input to the resume fingerprint (settings the stage depends on)."""
        return ""

    def prepare(self, ctx: Context) -> Any:
        """The part of the work that can start early (see `early`)."""
        return None

    def run(self, ctx: Context) -> None:
        raise NotImplementedError
