"""The packet carries each release's reproduction: `procurement --reproduce` rebuilds the signed, published
release from its recorded commit, and PO.3.2 points at the result (computed: it does not hold on a mismatch)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from opencode_release.channels import repository
from opencode_release.core import config
from opencode_release.release import procurement
from tests.integration import signed_release
from tests.integration.test_reproduce import CHANGED, _release, _repository

pytestmark = pytest.mark.integration
TODAY = dt.datetime.now(dt.UTC).date()
QUARTER = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"


def _published(product: Path) -> config.Settings:
    _release(product)
    ledger = signed_release.resign(product)
    settings = config.load(product / "pyproject.toml")
    repository.repository(settings, snapshot=True).publish(ledger, ["stable", "lts/1.4"])
    return settings


def _read(packet: Path, name: str) -> Any:
    return json.loads((packet / name).read_text(encoding="utf-8"))


def test_a_reproduced_release_is_in_the_packet_and_po_3_2_points_at_it(tmp_path: Path) -> None:
    settings = _published(_repository(tmp_path))
    summary = procurement.build(settings, QUARTER, TODAY, reproduce_first=True)
    packet = Path(summary["packet"])
    assert summary["reproducibility"] == {"1.4.0": True}
    (row,) = _read(packet, "reproducibility/summary.json")["releases"]
    assert row["reproduced"] is True and row["ok"] is True and row["mismatched"] == []
    result = _read(packet, row["report"])
    assert result["ok"] is True and any(a["status"] == "matched" for a in result["artifacts"])
    tasks = {t["id"]: t for t in _read(packet, "ssdf/mapping.json")["tasks"]}
    assert tasks["PO.3.2"]["status"] == "partly met"  # the rest of PO.3.2 is not the pipeline's to show
    assert "does not hold" not in tasks["PO.3.2"]["how"]
    assert "reproducibility/1.4.0/reproduce.json" in [e["path"] for e in tasks["PO.3.2"]["evidence"]]
    assert "every compared file matched" in (packet / "report" / "report.html").read_text()
    # a packet made later reads the same result without rebuilding
    again = procurement.build(settings, QUARTER, TODAY)
    assert again["reproducibility"] == {"1.4.0": True}


def test_a_release_that_does_not_reproduce_is_shown_with_its_diff_and_po_3_2_does_not_hold(tmp_path: Path) -> None:
    product = _repository(tmp_path)
    source = product / CHANGED
    source.write_text(source.read_text() + "# not in the recorded commit\n", encoding="utf-8")
    settings = _published(product)
    summary = procurement.build(settings, QUARTER, TODAY, reproduce_first=True)
    packet = Path(summary["packet"])
    assert summary["reproducibility"] == {"1.4.0": False}
    (row,) = _read(packet, "reproducibility/summary.json")["releases"]
    assert row["ok"] is False and any(p.endswith(".whl") for p in row["mismatched"])
    diffs = sorted((packet / "reproducibility/1.4.0/diffs").iterdir())
    wheel_diff = next(p for p in diffs if p.name.endswith(".whl.diffoscope.txt"))
    assert "-# not in the recorded commit" in wheel_diff.read_text()
    manifest = {f["path"] for f in _read(packet, "packet-manifest.json")["files"]}
    assert f"reproducibility/1.4.0/diffs/{wheel_diff.name}" in manifest
    tasks = {t["id"]: t for t in _read(packet, "ssdf/mapping.json")["tasks"]}
    assert tasks["PO.3.2"]["status"] == "partly met"
    assert "does not hold: reproduced-and-matched" in tasks["PO.3.2"]["how"]
    assert "DIFFERS: " in (packet / "report" / "report.html").read_text()
