"""Snapshots are snapshots: their own version form, their own channel, never in a real release's way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from opencode_release.channels import repository
from opencode_release.channels.channel_index import read_index
from opencode_release.core.errors import UsageError, VersionError
from opencode_release.core.versions import Version
from opencode_release.lifecycle import release_rules
from opencode_release.release import session, stages
from tests.fake_release import COMMIT, fake_release

DAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def test_a_snapshot_version_is_a_semver_prerelease_of_the_release_it_previews() -> None:
    first = Version.snapshot(Version.parse("1.4.0"), "20261201", 1, COMMIT)
    assert str(first) == "1.4.0-snapshot.20261201.1+g0123456"
    assert first.is_snapshot and not first.is_nightly and first.commit == "0123456"
    later = [Version.parse(v) for v in ("1.4.0-snapshot.20261201.2+gabcdef0", "1.4.0-snapshot.20261202.1+g1111111")]
    assert Version.parse("1.3.9") < first < later[0] < later[1] < Version.parse("1.4.0")
    for bad in ("1.4.0-snapshot.2026121.1+g0123456", "1.4.0-snapshot.20261201.0+g0123456", "1.4.0-snapshot.20261201.1"):
        with pytest.raises(VersionError, match="snapshot version"):
            Version.parse(bad)


def test_a_rerun_resumes_the_day_s_snapshot_of_a_commit_and_another_commit_takes_the_next_number(
    tmp_path: Path,
) -> None:
    ctx = fake_release(tmp_path)
    cfg = ctx.settings
    assert session.snapshot_version(cfg, DAY, COMMIT) == "1.4.0-snapshot.20261201.1+g0123456"
    started = session.release_dir(cfg, "1.4.0-snapshot.20261201.1+g0123456")
    started.mkdir(parents=True)
    (started / "release-manifest.json").write_text("{}")
    assert session.snapshot_version(cfg, DAY, COMMIT) == "1.4.0-snapshot.20261201.1+g0123456"
    assert session.snapshot_version(cfg, DAY, "f" * 40) == "1.4.0-snapshot.20261201.2+gfffffff"
    assert session.snapshot_version(cfg, DAY + dt.timedelta(days=1), "f" * 40) == "1.4.0-snapshot.20261202.1+gfffffff"


def test_a_snapshot_goes_only_to_the_snapshot_channel(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, version="1.4.0-snapshot.20261201.1+g0123456", channel="snapshot")
    assert stages.channels_for(ctx.settings, ctx.ledger, DAY) == ["snapshot"]
    ctx.ledger.channel = "stable"
    with pytest.raises(UsageError, match=r"only snapshot versions .* publish, and only to the snapshot channel"):
        stages.channels_for(ctx.settings, ctx.ledger, DAY)
    real = fake_release(tmp_path / "real", channel="snapshot")
    with pytest.raises(UsageError, match="only to the snapshot channel"):
        stages.channels_for(real.settings, real.ledger, DAY)


def test_a_published_snapshot_never_blocks_the_real_release_nor_opens_an_lts_line(tmp_path: Path) -> None:
    snap = fake_release(tmp_path, version="1.4.0-snapshot.20261201.1+g0123456", channel="snapshot")
    repo = repository.repository(snap.settings, snapshot=True, now=NOW)
    result = repo.publish(snap.ledger, stages.channels_for(snap.settings, snap.ledger, DAY))
    assert result.channels == ("snapshot",)
    storage = repository.channel_storage(snap.settings)
    assert list(read_index(storage, "snapshot").releases) == ["1.4.0-snapshot.20261201.1+g0123456"]
    assert not read_index(storage, "stable").releases
    # The real 1.4.0 of the same product: its rules see nothing released, and it opens its LTS line itself.
    real = fake_release(tmp_path, version="1.4.0")
    real.snapshot, real.clock = False, lambda: NOW
    release_rules.check_stable_follows_last(real, lambda channel: stages.released_on(real.settings, channel))
    assert stages.channels_for(real.settings, real.ledger, dt.date(2027, 1, 19)) == ["stable", "lts/1.4"]
