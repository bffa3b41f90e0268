"""Channel storage written from several threads: order of results, errors, and the bytes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from opencode_release.channels.storage import ChannelError, FileStorage
from opencode_release.core.fsio import concurrently


def test_concurrently_keeps_order_and_raises_after_the_others_finish() -> None:
    done: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        with lock:
            done.append(n)
        return n * n

    assert concurrently(work, [5, 1, 4, 2]) == [25, 1, 16, 4]
    with pytest.raises(ValueError, match="three"):
        concurrently(work, range(10))
    assert sorted(done[4:]) == [0, 1, 2, 4, 5, 6, 7, 8, 9]


def test_concurrent_creates_land_whole_and_still_refuse_different_bytes(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    items = [(f"targets/stable/1.0.0/{n % 3}/f{n}", bytes([n]) * (1000 + n)) for n in range(40)]
    assert concurrently(lambda item: storage.create(*item), items) == [True] * 40
    assert concurrently(lambda item: storage.create(*item), items) == [False] * 40
    assert all(storage.read(key) == data for key, data in items)
    assert not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(ChannelError, match="f7: already holds different bytes"):
        storage.create(items[7][0], b"other")


def test_under_the_lock_a_killed_writers_temp_files_go_from_the_folders_written_to(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    stale = tmp_path / "targets" / "stable" / ".abc.json.x1y2.tmp"
    elsewhere = tmp_path / "targets" / "nightly" / ".old.json.x3y4.tmp"
    for path in (stale, elsewhere):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half a file")
    storage.write("targets/stable/abc.json", b"{}")
    assert stale.exists()  # outside the lock another publisher may be writing it
    with storage.lock(5):
        storage.write("targets/stable/abc.json", b"{}")
    assert not stale.exists() and elsewhere.exists()
    assert storage.read("targets/stable/abc.json") == b"{}"
