"""The lifecycle calendar: stable trains, yearly LTS lines, support windows, the SVG calendar_svg."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from defusedxml import ElementTree

from opencode_release.core.config import LifecycleSettings
from opencode_release.lifecycle import calendar as lifecycle
from opencode_release.lifecycle import calendar_svg
from tests.conftest import REPO

POLICY = LifecycleSettings()  # anchor 2026-01-06, six weeks, LTS in January, 18 months
D = dt.date


def test_stable_dates_follow_the_anchor_every_six_weeks() -> None:
    assert lifecycle.stable_dates(POLICY, D(2026, 11, 23), 4) == [
        D(2026, 12, 8),
        D(2027, 1, 19),
        D(2027, 3, 2),
        D(2027, 4, 13),
    ]
    # a train day is its own first date; nothing before the anchor
    assert lifecycle.stable_dates(POLICY, D(2026, 12, 8), 1) == [D(2026, 12, 8)]
    assert lifecycle.stable_dates(POLICY, D(2020, 1, 1), 2) == [D(2026, 1, 6), D(2026, 2, 17)]


def test_first_stable_of_the_year_becomes_lts_with_18_months_of_patches() -> None:
    line = lifecycle.lts_line(POLICY, 2027, {})
    assert line == lifecycle.LtsLine(2027, D(2027, 1, 19), D(2028, 7, 18), None)
    july = LifecycleSettings(lts_month=7)
    assert lifecycle.lts_train(july, 2026) == D(2026, 8, 4)
    assert lifecycle.lts_train(POLICY, 2025) is None
    assert lifecycle.add_months(D(2026, 8, 31), 18) == D(2028, 2, 29)


def test_lts_line_is_named_by_the_stable_that_shipped_on_its_train() -> None:
    stables = {"1.0.0": D(2025, 11, 25), "1.1.0": D(2026, 1, 6), "1.2.0": D(2026, 2, 17)}
    assert lifecycle.lts_line(POLICY, 2026, stables) == lifecycle.LtsLine(2026, D(2026, 1, 6), D(2027, 7, 5), "1.1")
    assert lifecycle.find_line(POLICY, "1.1", stables) is not None
    assert lifecycle.find_line(POLICY, "1.2", stables) is None


def test_calendar_lists_lines_in_support_upcoming_and_past_end_of_life() -> None:
    cal = lifecycle.build_calendar(POLICY, D(2027, 9, 1), 3, {"1.1.0": D(2026, 1, 6), "2.0.0": D(2027, 1, 19)})
    assert cal.to_json() == {
        "from": "2027-09-01",
        "stable": ["2027-09-28", "2027-11-09", "2027-12-21"],
        "lts": [
            {
                "year": 2027,
                "line": "2.0",
                "name": "lts/2.0",
                "start": "2027-01-19",
                "end": "2028-07-18",
                "status": "in support",
            }
        ],
        "end_of_life": [
            {
                "year": 2026,
                "line": "1.1",
                "name": "lts/1.1",
                "start": "2026-01-06",
                "end": "2027-07-05",
                "status": "end of life",
            }
        ],
    }


def test_svg_timeline_has_a_mark_per_stable_and_a_bar_per_line() -> None:
    cal = lifecycle.build_calendar(POLICY, D(2027, 9, 1), 5, {"1.1.0": D(2026, 1, 6)})
    svg = ElementTree.fromstring(calendar_svg.render(cal, "opencode calendar"))
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in svg.iter(f"{ns}title")]
    assert [t for t in titles if t and t.startswith("stable ")] == [f"stable {d}" for d in cal.stables]
    assert "lts/1.1: 2026-01-06 to 2027-07-05 (end of life)" in titles
    assert "LTS 2027 (stable of 2027-01-19): 2027-01-19 to 2028-07-18 (in support)" in titles


def test_calendar_task_prints_json_and_writes_the_svg(tmp_path: Path) -> None:
    svg = tmp_path / "calendar.svg"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "invoke",
            "calendar",
            "--from",
            "2026-11-23",
            "--count",
            "2",
            "--svg",
            str(svg),
            "--json",
            "--project",
            str(REPO / "product"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(proc.stdout)
    assert data["stable"] == ["2026-12-08", "2027-01-19"]
    assert [line["name"] for line in data["lts"]][-1] == "LTS 2027 (stable of 2027-01-19)"
    assert svg.read_text().startswith("<svg")
    bad = subprocess.run(
        [sys.executable, "-m", "invoke", "calendar", "--from", "tomorrow"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "error: --from 'tomorrow': expected a date YYYY-MM-DD" in bad.stderr
