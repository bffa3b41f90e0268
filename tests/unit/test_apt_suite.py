"""A channel's apt suite in the channel repository: which files, when the refresh re-signs, what it changes."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Snapshot, Targets, Timestamp

from opencode_release.channels import apt_suite
from opencode_release.channels.storage import ChannelError
from opencode_release.core import names
from opencode_release.core.errors import CheckFailed, ConfigError
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.manifests import apt_repo
from tests.integration.channel_helpers import NOW, assert_consistent, make_ledger, repository

RELEASE = (
    "Origin: opencode\nLabel: opencode\nSuite: stable\nCodename: stable\n"
    "Date: Thu, 01 Jan 2026 00:00:00 GMT\nValid-Until: Thu, 08 Jan 2026 00:00:00 GMT\n"
    "Architectures: amd64\nComponents: main\nDescription: opencode stable packages\n"
    "SHA256:\n 0123 10 main/binary-amd64/Packages\nSHA512:\n 4567 10 main/binary-amd64/Packages\n"
)


def _stamp(when: dt.datetime) -> str:
    return email.utils.format_datetime(when, usegmt=True)


def test_revalidated_changes_only_the_date_and_the_window() -> None:
    now = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp())
    text = apt_repo.revalidated(RELEASE.encode(), now, now + 7 * 86400).decode()
    assert "Date: Sun, 01 Mar 2026 00:00:00 GMT\nValid-Until: Sun, 08 Mar 2026 00:00:00 GMT\nArchitectures:" in text
    unchanged = [x for x in RELEASE.splitlines() if not x.startswith(("Date:", "Valid-Until:"))]
    assert [x for x in text.splitlines() if not x.startswith(("Date:", "Valid-Until:"))] == unchanged
    # a Release without a Valid-Until gets one
    without = RELEASE.replace("Valid-Until: Thu, 08 Jan 2026 00:00:00 GMT\n", "")
    assert text == apt_repo.revalidated(without.encode(), now, now + 7 * 86400).decode()


@pytest.mark.parametrize("data", [b"\xff\xfe", b"", b"Origin: x\nno digests\n", b"Suite: x\nSHA256:\n a 1 b\n"])
def test_revalidated_refuses_what_is_not_our_release(data: bytes) -> None:
    with pytest.raises(CheckFailed, match=r"^Release: "):
        apt_repo.revalidated(data, 0, 1)


@pytest.mark.parametrize(
    ("left", "due"), [(dt.timedelta(days=5), False), (dt.timedelta(days=3), True), (dt.timedelta(days=-1), True)]
)
def test_a_suite_is_due_once_less_than_half_its_lifetime_is_left(left: dt.timedelta, due: bool) -> None:
    release = RELEASE.replace("Thu, 08 Jan 2026 00:00:00 GMT", _stamp(NOW + left)).encode()
    assert apt_suite.due(release, NOW, dt.timedelta(days=7)) is due


def test_a_suite_without_a_readable_valid_until_is_due() -> None:
    assert apt_suite.due(
        RELEASE.replace("Valid-Until: Thu, 08 Jan 2026 00:00:00 GMT\n", "").encode(), NOW, dt.timedelta(7)
    )
    assert apt_suite.due(RELEASE.replace("Thu, 08 Jan 2026 00:00:00 GMT", "soon").encode(), NOW, dt.timedelta(7))


@pytest.mark.parametrize("channel", ["stable", "nightly", "snapshot", "lts/1.4", "lts/12.0"])
def test_the_channels_suite_is_the_one_the_manifests_sign(channel: str) -> None:
    assert names.apt_suite(channel) == apt_repo.suite_for(channel, "9.9")


@pytest.mark.parametrize("channel", ["beta", "lts/1", "lts/a.b", "lts/../x", "lts/1.4/x"])
def test_a_channel_without_a_suite(channel: str) -> None:
    assert names.apt_suite(channel) is None and apt_suite.release_path(channel) is None


def _with_apt(dist: Path, version: str, deb: bytes, until: dt.datetime) -> Ledger:
    """make_ledger's release plus an apt repository of suite stable (as the apt-repo stage lays it out)."""
    ledger = make_ledger(dist, version, deb * 10)
    apt = ledger.root / "manifests/apt"
    pool = f"pool/main/o/opencode/opencode_{version}_amd64.deb"
    files = {
        pool: deb,
        "dists/stable/main/binary-amd64/Packages": f"Package: opencode\nFilename: {pool}\n".encode(),
        "dists/stable/Release": RELEASE.replace("Thu, 08 Jan 2026 00:00:00 GMT", _stamp(until)).encode(),
        "dists/stable/InRelease": b"signed " + version.encode(),
        "opencode-archive-keyring.gpg": b"key",
    }
    for relative, data in files.items():
        (apt / relative).parent.mkdir(parents=True, exist_ok=True)
        (apt / relative).write_bytes(data)
        kind = ArtifactKind.DEB if relative.startswith("pool/") else ArtifactKind.APT_INDEX
        ledger.record(apt / relative, kind)
    ledger.save()
    return ledger


def test_the_plan_takes_the_channel_s_suite_only(tmp_path: Path) -> None:
    ledger = _with_apt(tmp_path / "dist", "1.4.0", b"deb", NOW)
    plan = apt_suite.plan(ledger, "stable")
    assert plan is not None
    assert [p for p, _ in plan.documents] == [
        "stable/apt/dists/stable/InRelease",
        "stable/apt/dists/stable/Release",
        "stable/apt/dists/stable/main/binary-amd64/Packages",
    ]
    assert [p for p, _ in plan.copies] == [
        "stable/apt/opencode-archive-keyring.gpg",
        "stable/apt/pool/main/o/opencode/opencode_1.4.0_amd64.deb",
    ]
    assert apt_suite.plan(ledger, "lts/1.4") is None  # a stable opening its LTS line has no lts suite
    assert apt_suite.plan(make_ledger(tmp_path / "other", "1.4.0", b"x"), "stable") is None


def test_a_newer_release_replaces_the_suite_and_its_pool(tmp_path: Path) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.4.0", b"old", NOW), ["stable"])
    assert (public / "stable/apt/pool/main/o/opencode/opencode_1.4.0_amd64.deb").read_bytes() == b"old"
    repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.5.0", b"new", NOW), ["stable"])
    assert (public / "stable/apt/dists/stable/InRelease").read_bytes() == b"signed 1.5.0"
    assert (public / "stable/apt/pool/main/o/opencode/opencode_1.5.0_amd64.deb").read_bytes() == b"new"
    assert not (public / "stable/apt/pool/main/o/opencode/opencode_1.4.0_amd64.deb").exists()
    assert_consistent(public)


def test_the_refresh_re_signs_a_due_suite_only_and_says_so(tmp_path: Path) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(
        _with_apt(tmp_path / "dist", "1.4.0", b"d", NOW + dt.timedelta(days=6)), ["stable"]
    )
    calls: list[bytes] = []

    def sign(release: bytes, now: dt.datetime) -> dict[str, bytes]:
        calls.append(release)
        return {"Release": b"R " + now.isoformat().encode(), "InRelease": b"I", "Release.gpg": b"G"}

    resigner = apt_suite.AptResigner(dt.timedelta(days=7), sign)
    assert repository(public, keys).refresh(resigner).status == "unchanged" and calls == []
    later = NOW + dt.timedelta(days=4)  # two days left of seven
    result = repository(public, keys, now=later).refresh(resigner)
    assert result.status == "refreshed" and "stable/apt" in result.channels
    assert calls == [(tmp_path / "dist/1.4.0/manifests/apt/dists/stable/Release").read_bytes()]
    assert (public / "stable/apt/dists/stable/Release").read_bytes() == b"R " + later.isoformat().encode()
    assert (public / "stable/apt/dists/stable/InRelease").read_bytes() == b"I"
    assert (public / "stable/apt/dists/stable/main/binary-amd64/Packages").is_file()
    assert_consistent(public)
    # without a resigner (a caller that holds no apt key) the suite is left alone
    assert "stable/apt" not in repository(public, keys, now=later + dt.timedelta(days=30)).refresh().channels


def test_a_suite_that_cannot_be_re_signed_is_one_line_and_the_tuf_refresh_still_happens(tmp_path: Path) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.4.0", b"d", NOW), ["stable"])
    before = json.loads((public / "metadata/timestamp.json").read_bytes())["signed"]["version"]

    def no_key(release: bytes, now: dt.datetime) -> dict[str, bytes]:
        raise ConfigError("pyproject.toml: apt.key-id is empty; a real release signs the apt repository")

    later = repository(public, keys, now=NOW + dt.timedelta(days=5))
    with pytest.raises(ChannelError) as caught:
        later.refresh(apt_suite.AptResigner(dt.timedelta(days=7), no_key))
    assert str(caught.value).startswith("stable/apt: Release not re-signed: pyproject.toml: apt.key-id is empty")
    assert len(str(caught.value).splitlines()) == 1
    timestamp = json.loads((public / "metadata/timestamp.json").read_bytes())["signed"]
    assert timestamp["version"] == before + 1  # the timestamp was due and is refreshed all the same
    assert (public / "stable/apt/dists/stable/InRelease").read_bytes() == b"signed 1.4.0"
    assert_consistent(public)


def _suite_targets(public: Path) -> dict[str, str]:
    """The channel's suite documents the current metadata names (path -> sha256)."""
    timestamp = Metadata[Timestamp].from_bytes((public / "metadata/timestamp.json").read_bytes())
    snapshot = Metadata[Snapshot].from_bytes(
        (public / f"metadata/{timestamp.signed.snapshot_meta.version}.snapshot.json").read_bytes()
    )
    found: dict[str, str] = {}
    for name, meta in snapshot.signed.meta.items():
        role = Metadata[Targets].from_bytes((public / f"metadata/{meta.version}.{name}").read_bytes())
        found |= {p: i.hashes["sha256"] for p, i in role.signed.targets.items() if p.startswith("stable/apt/")}
    return found


POOL = "stable/apt/pool/main/o/opencode/opencode_{}_amd64.deb"


def test_yanking_the_release_the_suite_serves_puts_the_one_before_back(tmp_path: Path) -> None:
    # apt installs what the suite lists: a yanked version must leave it, not wait for the next release.
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.4.0", b"old", NOW), ["stable"])
    before = _suite_targets(public)
    repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.5.0", b"new", NOW), ["stable"])
    result = repository(public, keys).yank("1.5.0", "broken updater")
    assert result.to_json()["apt_suites"] == {"stable/apt": "1.4.0"}
    assert (public / "stable/apt/dists/stable/InRelease").read_bytes() == b"signed 1.4.0"
    assert (public / POOL.format("1.4.0")).read_bytes() == b"old"
    assert not (public / POOL.format("1.5.0")).exists()
    assert _suite_targets(public) == before  # what TUF clients are told: the same documents as then
    assert_consistent(public)
    # yanking a release the suite does not serve leaves the suite alone
    again = repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.6.0", b"newer", NOW), ["stable"])
    assert again.status == "published"
    assert "apt_suites" not in repository(public, keys).yank("1.4.0", "old bug").to_json()
    assert (public / "stable/apt/dists/stable/InRelease").read_bytes() == b"signed 1.6.0"


def test_yanking_the_only_release_takes_the_suite_down(tmp_path: Path) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.4.0", b"only", NOW), ["stable"])
    assert (public / "stable/apt/dists/stable/InRelease").is_file()
    result = repository(public, keys).yank("1.4.0", "withdrawn")
    assert result.to_json()["apt_suites"] == {"stable/apt": ""}
    assert sorted(p.relative_to(public).as_posix() for p in (public / "stable/apt").rglob("*") if p.is_file()) == []
    assert _suite_targets(public) == {}
    record = json.loads((public / "stable/1.4.0/release.json").read_bytes())  # a yank is not a deletion
    assert record["yanked"] is True and record["yanked_reason"] == "withdrawn"
    assert_consistent(public)


def _stored(public: Path) -> dict[Path, bytes]:
    """The repository's files, but the lock a publisher holds while it works (it names the time it was taken)."""
    return {p: p.read_bytes() for p in public.rglob("*") if p.is_file() and p.name != ".publish.lock"}


def test_a_yank_that_would_restore_a_suite_whose_stored_copy_is_gone_is_one_line_and_changes_nothing(
    tmp_path: Path,
) -> None:
    # the store is input too: the release record names the suite it published, and its bytes must be there
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.4.0", b"old", NOW), ["stable"])
    old_packages = (tmp_path / "dist/1.4.0/manifests/apt/dists/stable/main/binary-amd64/Packages").read_bytes()
    repository(public, keys).publish(_with_apt(tmp_path / "dist", "1.5.0", b"new", NOW), ["stable"])
    # the release's own copy of its Packages (targets/stable/1.4.0/..., hash-prefixed), which a yank restores
    kept = [p for p in (public / "targets/stable/1.4.0").rglob("*.Packages") if p.read_bytes() == old_packages]
    assert kept
    for path in kept:
        path.unlink()
    before = _stored(public)
    with pytest.raises(ChannelError) as caught:
        repository(public, keys).yank("1.5.0", "broken updater")
    message = str(caught.value)
    assert message.startswith(f"{kept[0]}: missing or changed; the repository is inconsistent") and "\n" not in message
    assert message.endswith("nothing was changed: the repository is as it was")
    assert _stored(public) == before, "nothing written"
