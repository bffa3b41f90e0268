"""Preflight rules of the lifecycle policy, each with its exact message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from opencode_release.channels.channel_index import ChannelIndex, ReleaseEntry, index_key
from opencode_release.channels.storage import FileStorage
from opencode_release.core import config
from opencode_release.core.errors import CheckFailed
from opencode_release.core.ledger import Ledger
from opencode_release.core.stage import CollectingReporter, Context
from opencode_release.lifecycle import calendar, changelog, release_rules
from opencode_release.release import stages
from tests.conftest import write_project

D = dt.date
CHANGELOG = """\
# Changelog

## [1.5.0] - 2027-03-02
### Removed
- `opencode login --legacy-token`: use `opencode auth login`.
### Incidents
- None.

## [1.4.1] - 2027-02-01
### Fixed
- a crash.

## [1.4.0] - 2027-01-19
### Deprecated
- `opencode config --global-file`: set OPENCODE_CONFIG (removal: 1.5.0).

## [1.1.0] - 2026-01-06
### Deprecated
- `opencode login --legacy-token` is deprecated (removal: 1.5.0).
"""


def _context(
    tmp_path: Path,
    ledger: Ledger,
    version: str,
    channel: str,
    today: dt.date,
    stables: dict[str, str],
    lts: dict[str, str] | None = None,
    text: str = CHANGELOG,
) -> Context:
    settings = config.load(write_project(tmp_path, 'name = "opencode"\npackage = "src"\n[channels]\nroot = "public"\n'))
    (tmp_path / "CHANGELOG.md").write_text(text)
    storage = FileStorage(tmp_path / "public")
    for name, releases in (("stable", stables), (f"lts/{version.rsplit('.', 1)[0]}", lts or {})):
        index = ChannelIndex(name, "opencode")
        for v, day in releases.items():
            index.put(ReleaseEntry(v, day, f"{day}T12:00:00+00:00", "a" * 40, ()))
        storage.write(index_key(name), index.to_bytes())
    ledger.version, ledger.channel = version, channel
    return Context(
        settings,
        ledger,
        CollectingReporter(),
        (),
        snapshot=False,
        clock=lambda: dt.datetime.combine(today, dt.time(12), dt.UTC),
    )


STABLES = {"1.2.0": "2026-10-27", "1.3.0": "2026-12-08", "1.4.0": "2027-01-19"}


def test_a_newer_stable_passes_every_rule(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.5.0", "stable", D(2027, 3, 2), STABLES)
    stages.with_releases(release_rules.check_stable_follows_last)(ctx)
    stages.with_releases(release_rules.check_lts_patch)(ctx)
    stages.with_releases(release_rules.check_changelog)(ctx)


def test_stable_duplicate_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.4.0", "stable", D(2027, 3, 2), STABLES)
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_stable_follows_last)(ctx)
    assert str(err.value) == (
        "stable 1.4.0: rule stable-follows-last: 1.4.0 was already released on 2027-01-19; "
        "a version is never published twice"
    )


def test_stable_downgrade_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.3.5", "stable", D(2027, 3, 2), STABLES)
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_stable_follows_last)(ctx)
    assert str(err.value) == (
        "stable 1.3.5: rule stable-follows-last: the last stable is 1.4.0 (2027-01-19); "
        "a new stable must be newer (no downgrade)"
    )


def test_snapshots_and_nightlies_skip_the_rules(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.4.0", "stable", D(2027, 3, 2), STABLES, text="# nothing\n")
    ctx.snapshot = True
    stages.with_releases(release_rules.check_stable_follows_last)(ctx)
    stages.with_releases(release_rules.check_changelog)(ctx)
    ctx = _context(tmp_path, ledger, "1.4.1-nightly.20270301+gabcdef0", "nightly", D(2027, 3, 2), STABLES)
    stages.with_releases(release_rules.check_changelog)(ctx)


def test_lts_patch_to_a_line_in_support(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(
        tmp_path,
        ledger,
        "1.4.2",
        "lts",
        D(2027, 6, 1),
        STABLES,
        {"1.4.1": "2027-02-01"},
        text=CHANGELOG + "\n## [1.4.2] - 2027-06-01\n### Security\n- fix\n",
    )
    stages.with_releases(release_rules.check_lts_patch)(ctx)
    stages.with_releases(release_rules.check_changelog)(ctx)


def test_lts_patch_to_a_line_that_is_not_lts(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.3.1", "lts", D(2027, 6, 1), STABLES)
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_lts_patch)(ctx)
    assert str(err.value) == (
        "lts 1.3.1: rule lts-line: 1.3 is not an LTS line; known LTS lines: "
        "1.2 (2026-10-27 to 2028-04-26), 1.4 (2027-01-19 to 2028-07-18)"
    )


def test_an_lts_line_is_in_support_from_the_day_its_stable_shipped_not_before() -> None:
    # 1.2.0, the first stable of 2026, shipped in October: its line starts then, not at January's train.
    policy = config.LifecycleSettings()
    line = calendar.lts_line(policy, 2026, {"1.2.0": D(2026, 10, 27)})
    assert line is not None and (line.line, line.start, line.end) == ("1.2", D(2026, 10, 27), D(2028, 4, 26))
    assert line.status(D(2026, 10, 26)) == "upcoming" and line.status(D(2026, 10, 27)) == "in support"
    # Nothing shipped yet: the line is a projection from the train, with no version.
    upcoming = calendar.lts_line(policy, 2026, {})
    assert upcoming is not None and upcoming.line is None and upcoming.start == D(2026, 1, 6)


def test_lts_patch_past_end_of_life(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.4.2", "lts", D(2028, 7, 19), STABLES, {"1.4.1": "2027-02-01"})
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_lts_patch)(ctx)
    assert str(err.value) == (
        "lts 1.4.2: rule lts-support: line 1.4 is supported from 2027-01-19 to 2028-07-18; "
        "today is 2028-07-19: end of life"
    )


def test_lts_release_must_be_a_patch_bump(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.4.1", "lts", D(2027, 6, 1), STABLES, {"1.4.1": "2027-02-01"})
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_lts_patch)(ctx)
    assert str(err.value) == (
        "lts 1.4.1: rule lts-patch-bump: the last release of line 1.4 is 1.4.1 (2027-02-01); "
        "an LTS release must be a patch bump 1.4.x with x > 1"
    )


def test_changelog_needs_an_entry_for_the_version(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.6.0", "stable", D(2027, 4, 13), STABLES)
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_changelog)(ctx)
    assert str(err.value) == (
        "CHANGELOG.md: rule changelog-entry: no entry for 1.6.0; add '## [1.6.0] - YYYY-MM-DD' "
        "with sections from Added, Changed, Deprecated, Removed, Fixed, Security, Incidents"
    )


def test_changelog_sections_are_keep_a_changelog_plus_incidents() -> None:
    with pytest.raises(CheckFailed) as err:
        changelog.parse("## [1.0.0] - 2026-01-06\n### Misc\n- x\n", "CHANGELOG.md")
    assert str(err.value) == (
        "CHANGELOG.md:2: rule changelog-sections: 1.0.0 has section 'Misc'; expected one of "
        "Added, Changed, Deprecated, Removed, Fixed, Security, Incidents"
    )


def test_removal_not_carried_by_the_previous_lts_line_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    # LTS lines 1.2 and 1.4 shipped; 1.6.0's previous LTS line is 1.4, and 1.5.0's notice came after it.
    text = CHANGELOG.replace(
        "## [1.5.0] - 2027-03-02\n",
        "## [1.6.0] - 2027-04-13\n### Removed\n- `opencode telemetry`: gone.\n\n"
        "## [1.5.0] - 2027-03-02\n### Deprecated\n- `opencode telemetry`: unused (removal: 1.6.0).\n",
    )
    ctx = _context(tmp_path, ledger, "1.6.0", "stable", D(2027, 4, 13), STABLES, text=text)
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_changelog)(ctx)
    assert str(err.value) == (
        "CHANGELOG.md:3: rule deprecation-period: 1.6.0 removes 'opencode telemetry', deprecated in 1.5.0, "
        "which no release of the previous LTS line (1.4) carried; remove it in a line after the next LTS line"
    )


def test_removal_carried_by_the_previous_lts_line_passes(tmp_path: Path, ledger: Ledger) -> None:
    # 1.4.0 (an LTS line) announced it: its users had the notice for their whole cycle.
    text = CHANGELOG.replace(
        "### Removed\n- `opencode login", "### Removed\n- `opencode config --global-file`.\n- `opencode login"
    )
    ctx = _context(tmp_path, ledger, "1.5.0", "stable", D(2027, 3, 2), STABLES, text=text)
    stages.with_releases(release_rules.check_changelog)(ctx)


def test_removal_without_any_shipped_lts_line_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    ctx = _context(tmp_path, ledger, "1.5.0", "stable", D(2027, 3, 2), {})
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_changelog)(ctx)
    assert str(err.value) == (
        "CHANGELOG.md:3: rule deprecation-period: 1.5.0 removes 'opencode login --legacy-token', deprecated in "
        "1.1.0, which no release of an earlier LTS line (none yet) carried; remove it in a line after the next LTS line"
    )


def test_removal_before_its_announced_version_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    text = CHANGELOG.replace("is deprecated (removal: 1.5.0)", "is deprecated (removal: 2.0.0)")
    ctx = _context(tmp_path, ledger, "1.5.0", "stable", D(2027, 3, 2), STABLES, text=text)
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_changelog)(ctx)
    assert str(err.value) == (
        "CHANGELOG.md:3: rule deprecation-removal: 1.5.0 removes 'opencode login --legacy-token', announced in "
        "1.1.0 for removal in 2.0.0; keep it until 2.0.0 or announce an earlier removal"
    )


def test_removal_never_deprecated_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    text = CHANGELOG.replace("`opencode login --legacy-token`: use", "`opencode telemetry`: use")
    ctx = _context(tmp_path, ledger, "1.5.0", "stable", D(2027, 3, 2), STABLES, text=text)
    with pytest.raises(CheckFailed) as err:
        stages.with_releases(release_rules.check_changelog)(ctx)
    assert str(err.value) == (
        "CHANGELOG.md:3: rule deprecation-period: 1.5.0 removes 'opencode telemetry', which no earlier release "
        "announced under Deprecated; deprecate it first and remove it in a line after the next LTS line"
    )


def test_a_deprecation_needs_its_planned_removal() -> None:
    with pytest.raises(CheckFailed) as err:
        changelog.parse("## [1.0.0] - 2026-01-06\n### Deprecated\n- `x`: old.\n", "CHANGELOG.md")
    assert str(err.value) == (
        "CHANGELOG.md:1: rule changelog-format: 1.0.0 deprecates 'x' without a planned removal; "
        "end the bullet with '(removal: X.Y.Z)' (see docs/changelog.md)"
    )


def test_an_incident_names_its_date_affected_versions_and_advisory() -> None:
    entries = changelog.parse(
        "## [1.1.1] - 2026-01-10\n### Incidents\n- 2026-01-09: bad signature for 40 minutes\n"
        "  (affects: 1.1.0, 1.0.2; advisory: https://example.org/a/1).\n",
        "CHANGELOG.md",
    )
    (incident,) = changelog.incidents(entries)
    assert incident.to_json() == {
        "date": "2026-01-09",
        "summary": "bad signature for 40 minutes",
        "affected": ["1.1.0", "1.0.2"],
        "advisory": "https://example.org/a/1",
        "recorded_in": "1.1.1",
    }
    with pytest.raises(CheckFailed) as err:
        changelog.parse("## [1.1.1] - 2026-01-10\n### Incidents\n- the site was down.\n", "CHANGELOG.md")
    assert str(err.value) == (
        "CHANGELOG.md:1: rule changelog-format: 1.1.1 has incident 'the site was down.'; expected "
        "'YYYY-MM-DD: summary (affects: X.Y.Z, ...; advisory: URL)' or 'None.' (see docs/changelog.md)"
    )


def test_deprecations_in_force_say_after_which_lts_line_they_may_go() -> None:
    entries = changelog.parse(CHANGELOG, "CHANGELOG.md")
    found = [(f.deprecation.subject, f.removable_after) for f in changelog.in_force(entries, ["1.2", "1.4"])]
    # 1.5.0 removed the legacy token; the global file (1.4.0) stays until a line after LTS 1.4.
    assert found == [("opencode config --global-file", "1.4")]
    before = changelog.in_force(entries, ["1.2", "1.4"], at="1.4.1")
    assert [(f.deprecation.subject, f.removable_after) for f in before] == [
        ("opencode login --legacy-token", "1.2"),
        ("opencode config --global-file", "1.4"),
    ]
    assert changelog.in_force(entries, [], at="1.4.1")[0].to_json()["may_be_removed"] == (
        "in a line after the next LTS line"
    )


def test_sample_product_changelog_passes_for_its_version() -> None:
    from tests.conftest import PRODUCT

    entries = changelog.load(PRODUCT / "CHANGELOG.md")
    # The sample's 2026 line (1.1) carried the 1.0.0 notice that 1.4.0 acts on.
    changelog.check_deprecations(entries, "1.4.0", ["1.1"], "CHANGELOG.md")
    assert [i.advisory for i in changelog.incidents(entries)] == ["https://opencode.example.org/advisories/OC-2026-001"]


def test_real_release_needs_its_tuf_keys_before_anything_is_built(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]

    from opencode_release.channels.storage import ChannelError

    ctx = _context(tmp_path, ledger, "1.5.0", "stable", D(2027, 3, 2), STABLES)
    with pytest.raises(ChannelError) as err:
        stages.check_publish_keys(ctx)
    assert str(err.value) == (
        f"TUF root key: not found at {tmp_path}/.opencode-release/tuf-keys/root.pem nor in "
        "$OPENCODE_RELEASE_TUF_ROOT_KEY; real releases read keys from signing.keys-dir or the environment"
    )
    for role in ("root", "targets", "release", "snapshot", "timestamp"):
        monkeypatch.setenv(
            f"OPENCODE_RELEASE_TUF_{role.upper()}_KEY", CryptoSigner.generate_ed25519().private_bytes.decode()
        )
    stages.check_publish_keys(ctx)
    ctx.snapshot = True
    monkeypatch.delenv("OPENCODE_RELEASE_TUF_TARGETS_KEY")
    stages.check_publish_keys(ctx)  # snapshots create keys when they publish
