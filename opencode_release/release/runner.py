"""One runner wraps every stage: logs, times, shows progress, resumes.

Resume rule: a stage is skipped when the ledger records it with the same
input fingerprint and every output it recorded is still on disk with its
digest. Once any stage really runs, every later stage runs too, since its
inputs may have changed in ways a fingerprint of kinds cannot see (facts).
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..core.errors import ReleaseError, StageError
from ..core.ledger import StageRecord
from ..core.stage import Context, Stage
from ..core.stage import Progress as ProgressHandle


@dataclass(frozen=True, slots=True)
class StageResult:
    name: str
    status: str  # ran | up-to-date | skipped | planned | failed
    seconds: float
    outputs: tuple[str, ...] = ()
    note: str = ""


@dataclass
class RunReport:
    results: list[StageResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "stages": [
                {
                    "name": r.name,
                    "status": r.status,
                    "seconds": round(r.seconds, 3),
                    "outputs": list(r.outputs),
                    "note": r.note,
                }
                for r in self.results
            ],
            "notes": self.notes,
            "warnings": self.warnings,
        }


class _Bar:
    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress, self._task = progress, task

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)


class ConsoleReporter:
    """Rich output on stderr, so stdout stays free for `--json`."""

    def __init__(self, report: RunReport, quiet: bool = False) -> None:
        self.console = Console(stderr=True, quiet=quiet, highlight=False)
        self.report = report
        self.stage = ""

    def note(self, message: str) -> None:
        self.report.notes.append(f"{self.stage}: {message}")
        self.console.print(f"  [dim]{self.stage}:[/dim] {message}")

    def warn(self, message: str) -> None:
        self.report.warnings.append(f"{self.stage}: {message}")
        self.console.print(f"  [yellow]warning[/yellow] {self.stage}: {message}")

    @contextlib.contextmanager
    def progress(self, description: str, total: float | None) -> Iterator[ProgressHandle]:
        if self.console.quiet or not self.console.is_terminal:
            self.console.print(f"  {self.stage}: {description} …")
            yield _Bar(None, None)
            return
        with Progress(
            TextColumn(f"  {self.stage}: {description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        ) as progress:
            yield _Bar(progress, progress.add_task(description, total=total))


def fingerprint(stage: Stage, ctx: Context) -> str:
    digest = hashlib.sha256(stage.fingerprint(ctx).encode())
    for artifact in sorted(ctx.ledger.artifacts, key=lambda a: a.id):
        if artifact.kind in stage.consumes:
            digest.update(f"\n{artifact.id}\0{artifact.sha256}".encode())
    return digest.hexdigest()


def _up_to_date(stage: Stage, ctx: Context, inputs: str) -> bool:
    record = ctx.ledger.stage(stage.name)
    if stage.always_run or record is None or record.inputs != inputs:
        return False
    return all(out in ctx.ledger and ctx.ledger.verify_file(ctx.ledger.get(out)) for out in record.outputs)


def _start_early(stages: Sequence[Stage], ctx: Context, pool: ThreadPoolExecutor) -> None:
    """Start `prepare` of each early stage that will certainly run (not skipped, not up to date)."""
    if ctx.dry_run:
        return
    for stage in stages:
        if stage.early and stage.skip(ctx) is None and not _up_to_date(stage, ctx, fingerprint(stage, ctx)):
            ctx.early[stage.name] = pool.submit(stage.prepare, ctx)


def run_stages(stages: Sequence[Stage], ctx: Context, reporter: ConsoleReporter) -> RunReport:
    # Early work starts once the gates (preflight) have passed; leaving the pool waits for
    # early work still going (a stage before it failed).
    gates = max((i for i, s in enumerate(stages, 1) if s.gate), default=0)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="early-stage") as pool:
        if gates == 0:
            _start_early(stages, ctx, pool)
        try:
            return _run_in_order(stages, ctx, reporter, gates, lambda: _start_early(stages[gates:], ctx, pool))
        finally:
            ctx.early.clear()


def _run_in_order(
    stages: Sequence[Stage],
    ctx: Context,
    reporter: ConsoleReporter,
    gates: int = 0,
    after_gates: Callable[[], None] | None = None,
) -> RunReport:
    report = reporter.report
    cascade = False
    for index, stage in enumerate(stages, 1):
        if index == gates + 1 and gates and after_gates is not None:
            after_gates()
        reporter.stage = stage.name
        header = f"[bold][{index}/{len(stages)}] {stage.name}[/bold]"
        reason = SKIPPED_BY_REQUEST if stage.name in ctx.skip else stage.skip(ctx)
        if reason:
            reporter.console.print(f"{header} [dim]skipped: {reason}[/dim]")
            report.results.append(StageResult(stage.name, "skipped", 0.0, note=reason))
            if reason == SKIPPED_BY_REQUEST and not ctx.dry_run:
                ctx.ledger.extra.setdefault("skipped_stages", {})[stage.name] = reason
            continue
        inputs = fingerprint(stage, ctx)
        if not cascade and _up_to_date(stage, ctx, inputs):
            record = ctx.ledger.stage(stage.name)
            outputs = record.outputs if record else ()
            reporter.console.print(f"{header} [green]up to date[/green] ({len(outputs)} outputs verified)")
            report.results.append(StageResult(stage.name, "up-to-date", 0.0, outputs, "outputs match the ledger"))
            continue
        if ctx.dry_run and not stage.checks_only:
            note = stage.description + (" (started as the run begins, alongside earlier stages)" if stage.early else "")
            reporter.console.print(f"{header} [cyan]would run[/cyan] {note}")
            report.results.append(StageResult(stage.name, "planned", 0.0, note=note))
            # The real run would rerun every later stage too: say so, as it will.
            cascade = cascade or not stage.always_run
            continue
        reporter.console.print(f"{header} {stage.description}")
        if not ctx.dry_run:
            ctx.ledger.extra.get("skipped_stages", {}).pop(stage.name, None)  # it runs this time
        result = _run_one(stage, ctx, inputs)
        report.results.append(result)
        cascade = cascade or not stage.always_run
    if ctx.ledger.extra.get("skipped_stages"):
        _save_what_was_made(ctx)
    return report


SKIPPED_BY_REQUEST = "left out with --skip"


def _save_what_was_made(ctx: Context) -> None:
    """Write the ledger once the release has one or made something: a run that fails (or only checks)
    before its first output leaves none behind; a dry run writes nothing."""
    if ctx.dry_run:
        return
    if ctx.ledger.artifacts or ctx.ledger.stages or ctx.ledger.extra or ctx.ledger.path.exists():
        ctx.ledger.save()


def _run_one(stage: Stage, ctx: Context, inputs: str) -> StageResult:
    previous = ctx.ledger.stage(stage.name)
    if previous is not None:
        # The stage owns what it recorded last time; it records it afresh.
        for output in previous.outputs:
            ctx.ledger.remove(output)
        ctx.ledger.forget_stage(stage.name)
    # Outputs are the records a stage adds; a stage that only adds facts to an
    # existing record (inspect) does not own that record.
    before = {a.id for a in ctx.ledger.artifacts}
    started = time.perf_counter()
    try:
        stage.run(ctx)
    except ReleaseError as exc:
        _save_what_was_made(ctx)
        error = StageError(f"{stage.name}: {exc}")
        error.exit_code = exc.exit_code
        raise error from exc
    except (OSError, subprocess.CalledProcessError) as exc:
        _save_what_was_made(ctx)
        raise StageError(f"{stage.name}: {exc}") from exc
    seconds = time.perf_counter() - started
    outputs = tuple(sorted(a.id for a in ctx.ledger.artifacts if a.id not in before))
    if not stage.always_run:
        ctx.ledger.finish_stage(StageRecord(stage.name, inputs, outputs))
    _save_what_was_made(ctx)
    return StageResult(stage.name, "ran", seconds, outputs)


def summary_table(report: RunReport) -> Table:
    table = Table(title="release summary")
    for column in ("stage", "status", "seconds", "outputs", "note"):
        table.add_column(column, justify="right" if column in ("seconds", "outputs") else "left")
    for r in report.results:
        table.add_row(r.name, r.status, f"{r.seconds:.2f}", str(len(r.outputs)), r.note)
    return table
