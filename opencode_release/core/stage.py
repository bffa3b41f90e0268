"""The Stage contract and the Context a stage receives.

A stage is a small stateless object: a `name`, the artifact kinds it
`consumes` (their digests fingerprint its inputs, so the runner can tell when
a recorded run is still valid), an optional `skip`, and `run(ctx)`. Stages
never import one another; they meet in `ctx.ledger`. Stages never prefix their
own messages with their name: the runner does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from .config import Settings
from .ledger import Ledger


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


class SigningSession(Protocol):
    """A running embedded Sigstore instance, as the sign stage needs it (devsigstore/ makes one)."""

    @property
    def trust_config_json(self) -> str: ...

    @property
    def trusted_root_json(self) -> str: ...

    def identity_token(self) -> str: ...

    def finish(self, bundles: list[str]) -> list[str]:
        """The instance's last word on the bundles it logged (e.g. inclusion proofs against one checkpoint)."""
        ...


# Starts the embedded instance for `(state_dir, issuer, identity)` for the length of a `with` block.
LocalSigstore = Callable[[Path, str, str], contextlib.AbstractContextManager[SigningSession]]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Context:
    settings: Settings
    ledger: Ledger
    reporter: Reporter
    # The targets this run builds here (the host's), and all the release covers.
    build_targets: tuple[str, ...]
    snapshot: bool = True
    dry_run: bool = False
    # The only wall clock stages read (release day, publish time); tests and re-runs set it.
    clock: Callable[[], dt.datetime] = utc_now
    # --instance from the command line, over the configured signing.instance.
    signing_instance: str | None = None
    # Stages the caller left out (`--skip`); the runner records them in the ledger.
    skip: tuple[str, ...] = ()
    # The embedded Sigstore, wired by release/ (areas never import devsigstore/).
    local_sigstore: LocalSigstore | None = None
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

    @property
    def instance(self) -> str:
        """Where this run signs and what it verifies against: local, production, staging or a trust config."""
        return self.signing_instance or self.settings.signing.instance


class Stage:
    """Base for stages; subclasses set `name`, `consumes` and implement `run`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    consumes: ClassVar[tuple[str, ...]] = ()
    # Checks (preflight, verify) run every time; they record no outputs.
    always_run: ClassVar[bool] = False
    # A check that reads and writes nothing of the release: it runs in a dry run too
    # (so `--dry-run` and `plan` refuse what the real run would refuse).
    checks_only: ClassVar[bool] = False
    # True when `prepare` needs nothing earlier stages make: the runner then
    # starts it on a worker thread as the run begins, alongside the compile,
    # and `run` collects it with `ctx.prepared(self)`. `prepare` may read the
    # settings and the source tree; it must not touch the ledger or report.
    early: ClassVar[bool] = False
    # True for the checks everything else waits for (preflight): early stages start only once
    # every gate has passed, so a refused release makes nothing, not even in the background.
    gate: ClassVar[bool] = False

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
