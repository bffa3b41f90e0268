"""Tasks of the channels and the lifecycle: calendar, publish, yank, nightly, update-check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from invoke.context import Context as InvokeContext
from invoke.tasks import task
from rich.console import Console
from rich.table import Table

from ..artifacts import write_atomic
from ..channels import index as channel_index
from ..errors import UsageError
from ..release import lifecycle, policy, timeline
from ._common import emit_json, handles_errors, settings

_HELP = {
    "project": "product folder or pyproject.toml (default: ./product)",
    "from": "first day of the calendar, YYYY-MM-DD (default: today, UTC)",
    "count": "how many upcoming stable dates",
    "svg": "also write the calendar as an SVG timeline to this file",
    "json": "print a JSON report on stdout",
}


def _date(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--from {text!r}: expected a date YYYY-MM-DD") from None


@task(help=_HELP, name="calendar")
@handles_errors
def calendar(c: InvokeContext, project: str | None = None, from_: str | None = None, count: int = 8,
             svg: str | None = None, json: bool = False) -> None:
    """Upcoming stable dates, LTS lines with their support windows, lines past end of life."""
    if count <= 0:
        raise UsageError(f"--count {count}: expected a positive number of stable dates")
    cfg = settings(project)
    start = _date(from_)
    storage = policy.channel_storage(cfg)
    stables = channel_index.release_dates(channel_index.read_index(storage, "stable"))
    cal = lifecycle.build_calendar(cfg.lifecycle, start, count, stables)
    if svg:
        write_atomic(Path(svg), timeline.render(cal, f"{cfg.name} release calendar from {start}").encode())
    if json:
        emit_json({**cal.to_json(), **({"svg": svg} if svg else {})})
        return
    console = Console()
    trains = Table(title=f"stable train (every {cfg.lifecycle.stable_cadence_weeks} weeks from "
                         f"{cfg.lifecycle.stable_anchor})")
    trains.add_column("#", justify="right")
    trains.add_column("stable date")
    trains.add_column("becomes LTS")
    lts_starts = {line.start for line in cal.lines}
    for number, day in enumerate(cal.stables, 1):
        trains.add_row(str(number), day.isoformat(), "yes" if day in lts_starts else "")
    console.print(trains)
    lines = Table(title=f"LTS lines ({cfg.lifecycle.lts_support_months} months of patches)")
    for column in ("line", "start of support", "end of support", "status"):
        lines.add_column(column)
    for line in (*cal.lines, *cal.end_of_life):
        lines.add_row(line.name, line.start.isoformat(), line.end.isoformat(), line.status(start))
    console.print(lines)
    if svg:
        console.print(f"timeline: {svg}")
