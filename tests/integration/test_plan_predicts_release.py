"""`plan` predicts exactly what `release` then does (issue #14), over the real stages after a config edit.

`plan` is `release --dry-run`, the same request (cli/core.py). Here the whole pipeline runs over a copy
of the real build, the product's configuration is edited (apt.section: the .deb and everything after it
change), and the dry run's answer is compared stage by stage with what the real run then does. The dry
run changes nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from opencode_release.core import config
from opencode_release.release import pipeline, session
from opencode_release.release.runner import RunReport

pytestmark = pytest.mark.integration

# What a planned stage does in the real run; the rest are the same words in both.
IN_THE_RUN = {"planned": "ran"}


def _run(product: Path, *, dry_run: bool, skip: tuple[str, ...] = ()) -> RunReport:
    settings = config.load(product / "pyproject.toml")
    request = session.Request(snapshot=True, quiet=True, dry_run=dry_run, skip=skip)
    _, report = session.run(settings, pipeline.release_stages(), request)
    return report


def _statuses(report: RunReport) -> list[tuple[str, str]]:
    return [(r.name, r.status) for r in report.results]


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != ".lock"
    }


def test_plan_after_a_config_edit_is_what_the_release_then_does(release_copy: Path) -> None:
    # The whole pipeline once, everything recorded; not published yet (a published version is
    # immutable, and the edit below changes its files).
    _run(release_copy, dry_run=False, skip=("publish",))
    pyproject = release_copy / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert "[tool.opencode-release.apt]" not in text
    pyproject.write_text(text + '\n[tool.opencode-release.apt]\nsection = "utils"\n')

    work = release_copy.parent
    before = {name: _tree(work / name) for name in ("dist", "public")}
    planned = _statuses(_run(release_copy, dry_run=True))
    assert {name: _tree(work / name) for name in ("dist", "public")} == before  # the plan changed nothing

    done = _statuses(_run(release_copy, dry_run=False))
    assert [(name, IN_THE_RUN.get(status, status)) for name, status in planned] == done
    # Not a trivial prediction: the build stays, the .deb and what follows it run again.
    status = dict(done)
    assert status["build"] == status["package"] == "up-to-date"
    assert status["deb"] == status["apt-repo"] == status["sign"] == status["publish"] == "ran"

    # And once it has run, the plan says nothing is left but the stages that always run.
    again = dict(_statuses(_run(release_copy, dry_run=True)))
    always = {stage.name for stage in pipeline.release_stages() if stage.always_run}
    assert "preflight" in always and {name for name, s in again.items() if s in ("planned", "ran")} <= always
    assert again["deb"] == again["sign"] == "up-to-date"
