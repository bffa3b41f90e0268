"""The runner: order, resume by fingerprint, cascade, dry run, error prefixes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import pytest

from opencode_release.core import config
from opencode_release.core.errors import CheckFailed, StageError
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.core.stage import Context, Stage
from opencode_release.release.runner import ConsoleReporter, RunReport, run_stages
from tests.conftest import PRODUCT


class Maker(Stage):
    """Writes one file whose content depends on what it consumes."""

    name = "maker"
    description = "makes a file"
    consumes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, content: bytes = b"made", kind: str = ArtifactKind.BINARY) -> None:
        self.content, self.kind, self.calls = content, kind, 0

    def run(self, ctx: Context) -> None:
        self.calls += 1
        path = ctx.dist_dir / f"{self.name}.out"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.content)
        ctx.ledger.record(path, self.kind)


class Packer(Maker):
    name = "packer"
    consumes: ClassVar[tuple[str, ...]] = (ArtifactKind.BINARY,)

    def __init__(self) -> None:
        super().__init__(b"packed", ArtifactKind.ARCHIVE)


class Failing(Stage):
    name = "failing"

    def run(self, ctx: Context) -> None:
        raise CheckFailed("binary x: needs glibc 2.35")


def _ctx(ledger: Ledger) -> tuple[Context, ConsoleReporter]:
    reporter = ConsoleReporter(RunReport(), quiet=True)
    settings = config.load(PRODUCT / "pyproject.toml")
    return Context(settings=settings, ledger=ledger, reporter=reporter, build_targets=()), reporter


def _statuses(report: RunReport) -> list[str]:
    return [r.status for r in report.results]


def test_second_run_is_up_to_date_and_runs_nothing(ledger: Ledger) -> None:
    maker, packer = Maker(), Packer()
    ctx, reporter = _ctx(ledger)
    assert _statuses(run_stages([maker, packer], ctx, reporter)) == ["ran", "ran"]
    ctx, reporter = _ctx(Ledger.load(ledger.root))
    assert _statuses(run_stages([maker, packer], ctx, reporter)) == ["up-to-date", "up-to-date"]
    assert (maker.calls, packer.calls) == (1, 1)


def test_a_missing_output_reruns_its_stage_and_every_later_stage(ledger: Ledger) -> None:
    maker, packer = Maker(), Packer()
    ctx, reporter = _ctx(ledger)
    run_stages([maker, packer], ctx, reporter)
    (ledger.root / "maker.out").unlink()
    ctx, reporter = _ctx(Ledger.load(ledger.root))
    assert _statuses(run_stages([maker, packer], ctx, reporter)) == ["ran", "ran"]


def test_changed_input_digest_reruns_the_consumer_only(ledger: Ledger) -> None:
    ctx, reporter = _ctx(ledger)
    run_stages([Maker(), Packer()], ctx, reporter)
    # Another writer (a resumed build with new source) changes the binary's bytes.
    (ledger.root / "maker.out").write_bytes(b"new bytes")
    ledger.record(ledger.root / "maker.out", ArtifactKind.BINARY)
    ctx, reporter = _ctx(ledger)
    assert _statuses(run_stages([Packer()], ctx, reporter)) == ["ran"]


def test_rerun_replaces_the_stage_outputs_instead_of_accumulating(ledger: Ledger) -> None:
    ctx, reporter = _ctx(ledger)
    run_stages([Maker()], ctx, reporter)
    (ledger.root / "maker.out").unlink()
    run_stages([Maker(b"other")], ctx, reporter)
    assert len(ledger.by_kind(ArtifactKind.BINARY)) == 1
    assert ledger.verify_file(ledger.by_kind(ArtifactKind.BINARY)[0])


def test_dry_run_plans_without_writing(ledger: Ledger) -> None:
    ctx, reporter = _ctx(ledger)
    ctx.dry_run = True
    maker = Maker()
    assert _statuses(run_stages([maker], ctx, reporter)) == ["planned"]
    assert maker.calls == 0 and not ledger.path.exists()


def test_failure_is_prefixed_with_stage_name_and_keeps_exit_code(ledger: Ledger) -> None:
    ctx, reporter = _ctx(ledger)
    with pytest.raises(StageError) as caught:
        run_stages([Maker(), Failing()], ctx, reporter)
    assert str(caught.value) == "failing: binary x: needs glibc 2.35"
    assert caught.value.exit_code == 1
    # What finished before the failure is recorded, so a rerun resumes after it.
    assert [s.name for s in Ledger.load(ledger.root).stages] == ["maker"]


def test_skip_reason_is_reported(ledger: Ledger, tmp_path: Path) -> None:
    class Never(Maker):
        name = "never"

        def skip(self, ctx: Context) -> str | None:
            return "no Windows targets"

    ctx, reporter = _ctx(ledger)
    report = run_stages([Never()], ctx, reporter)
    assert report.results[0].status == "skipped" and report.results[0].note == "no Windows targets"


class Slow(Maker):
    """Waits (up to 10 s) for the early stage's `prepare` to start: only concurrency lets it go on."""

    name = "slow"

    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.started, self.saw_early = started, False

    def run(self, ctx: Context) -> None:
        self.saw_early = self.started.wait(10)
        super().run(ctx)


class Early(Stage):
    name = "early"
    early = True

    def __init__(self, started: threading.Event, fail: bool = False) -> None:
        self.started, self.fail, self.prepares, self.ran_with = started, fail, 0, None

    def prepare(self, ctx: Context) -> str:
        self.prepares += 1
        self.started.set()
        if self.fail:
            raise CheckFailed("python -m build failed")
        return "prepared"

    def run(self, ctx: Context) -> None:
        self.ran_with = ctx.prepared(self)
        path = ctx.dist_dir / "early.out"
        path.write_text(str(self.ran_with))
        ctx.ledger.record(path, ArtifactKind.WHEEL)


def test_an_early_stage_prepares_while_earlier_stages_run(ledger: Ledger) -> None:
    started = threading.Event()
    slow, early = Slow(started), Early(started)
    ctx, reporter = _ctx(ledger)
    assert _statuses(run_stages([slow, early], ctx, reporter)) == ["ran", "ran"]
    assert slow.saw_early and early.ran_with == "prepared" and early.prepares == 1


def test_an_up_to_date_early_stage_prepares_nothing(ledger: Ledger) -> None:
    started = threading.Event()
    ctx, reporter = _ctx(ledger)
    run_stages([Maker(), Early(started)], ctx, reporter)
    again = Early(threading.Event())
    ctx, reporter = _ctx(Ledger.load(ledger.root))
    assert _statuses(run_stages([Maker(), again], ctx, reporter)) == ["up-to-date", "up-to-date"]
    assert again.prepares == 0


def test_a_dry_run_prepares_nothing(ledger: Ledger) -> None:
    early = Early(threading.Event())
    ctx, reporter = _ctx(ledger)
    ctx.dry_run = True
    report = run_stages([early], ctx, reporter)
    assert _statuses(report) == ["planned"] and "alongside earlier stages" in report.results[0].note
    assert early.prepares == 0 and not (ledger.root / "early.out").exists()


def test_a_failed_prepare_fails_its_stage_in_its_turn(ledger: Ledger) -> None:
    started = threading.Event()
    slow, early = Slow(started), Early(started, fail=True)
    ctx, reporter = _ctx(ledger)
    with pytest.raises(StageError, match=r"^early: python -m build failed$"):
        run_stages([slow, early], ctx, reporter)
    assert ledger.stage("slow") is not None and ledger.stage("early") is None


def test_a_failure_before_the_early_stage_records_nothing_of_it(ledger: Ledger) -> None:
    early = Early(threading.Event())
    ctx, reporter = _ctx(ledger)
    with pytest.raises(StageError, match=r"^failing: "):
        run_stages([Failing(), early], ctx, reporter)
    assert early.prepares == 1 and early.ran_with is None and ledger.stage("early") is None


class Gate(Stage):
    """A check like preflight: runs every time, in a dry run too."""

    name = "gate"
    always_run = True
    checks_only = True

    def __init__(self, refuse: bool = False) -> None:
        self.refuse, self.calls = refuse, 0

    def run(self, ctx: Context) -> None:
        self.calls += 1
        if self.refuse:
            raise CheckFailed("rule x refused")


def test_a_dry_run_runs_the_checks_and_refuses_what_the_real_run_would(ledger: Ledger) -> None:
    ctx, reporter = _ctx(ledger)
    ctx.dry_run = True
    gate = Gate()
    assert _statuses(run_stages([gate, Maker()], ctx, reporter)) == ["ran", "planned"]
    assert gate.calls == 1 and not ledger.root.exists()
    with pytest.raises(StageError, match="gate: rule x refused"):
        run_stages([Gate(refuse=True), Maker()], ctx, reporter)
    assert not ledger.root.exists()


def test_a_run_failing_before_its_first_output_leaves_no_ledger(ledger: Ledger) -> None:
    ctx, reporter = _ctx(ledger)
    with pytest.raises(StageError):
        run_stages([Gate(refuse=True), Maker()], ctx, reporter)
    assert not ledger.path.exists()
    with pytest.raises(StageError):
        run_stages([Gate(), Failing(), Maker()], ctx, reporter)
    assert not ledger.path.exists()


def test_a_plan_after_a_change_says_every_later_stage_runs_as_the_run_then_does(ledger: Ledger) -> None:
    ctx, reporter = _ctx(ledger)
    run_stages([Gate(), Maker(), Packer()], ctx, reporter)
    (ledger.root / "maker.out").unlink()
    for dry_run in (True, False):
        ctx, reporter = _ctx(Ledger.load(ledger.root))
        ctx.dry_run = dry_run
        statuses = _statuses(run_stages([Gate(), Maker(), Packer()], ctx, reporter))
        assert statuses == (["ran", "planned", "planned"] if dry_run else ["ran", "ran", "ran"])


def test_a_stage_left_out_on_request_is_recorded_until_it_runs(ledger: Ledger) -> None:
    ctx, reporter = _ctx(ledger)
    ctx.skip = ("packer",)
    report = run_stages([Maker(), Packer()], ctx, reporter)
    assert report.results[1].status == "skipped" and report.results[1].note == "left out with --skip"
    assert Ledger.load(ledger.root).extra["skipped_stages"] == {"packer": "left out with --skip"}
    ctx, reporter = _ctx(Ledger.load(ledger.root))
    assert _statuses(run_stages([Maker(), Packer()], ctx, reporter)) == ["up-to-date", "ran"]
    assert (
        "skipped_stages" not in Ledger.load(ledger.root).extra or not Ledger.load(ledger.root).extra["skipped_stages"]
    )
