"""The runner: order, resume by fingerprint, cascade, dry run, error prefixes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from opencode_release import config
from opencode_release.artifacts import ArtifactKind, Ledger
from opencode_release.errors import CheckFailed, StageError
from opencode_release.release.runner import ConsoleReporter, RunReport, run_stages
from opencode_release.stage import Context, Stage
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
