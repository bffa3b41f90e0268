"""What a publish transaction is made of: its result, the nightly retention rule, the staged
changes, and the storage view that remembers what the transaction created, to undo it before
the commit (see publisher.py)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tuf.api.metadata import TargetFile

from ..core.errors import ReleaseError
from .channel_index import ChannelIndex
from .storage import ChannelError, Storage
from .tuf_repo import TufRepository

# What a transaction will delete once its timestamp is out: a publisher killed
# between the timestamp and the cleanup finishes the cleanup on the next run.
JOURNAL = ".publish-journal.json"


@dataclass(frozen=True, slots=True)
class Retention:
    keep: int  # newest nightlies that keep their payloads
    evidence_days: int  # how long evidence of a pruned nightly stays


@dataclass(frozen=True, slots=True)
class PublishResult:
    version: str
    status: str  # published | unchanged | yanked
    channels: tuple[str, ...]
    written: int = 0
    pruned: tuple[str, ...] = ()
    expired: tuple[str, ...] = ()
    deleted: int = 0
    # a yank's: channel -> the release its apt suite serves now ("" for none: the suite was taken down)
    apt_suites: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        extra = {"apt_suites": dict(self.apt_suites)} if self.apt_suites else {}
        return {
            "version": self.version,
            "status": self.status,
            "channels": list(self.channels),
            "files_written": self.written,
            "pruned": list(self.pruned),
            "expired": list(self.expired),
            "files_deleted": self.deleted,
            **extra,
        }


@dataclass
class Txn:
    tuf: TufRepository
    written: int = 0
    targets: list[tuple[str, TargetFile]] = field(default_factory=list)
    readable: dict[str, bytes] = field(default_factory=dict)
    # readable key -> (the stored TUF target it copies, whether it is that index rendered as HTML)
    copies: dict[str, tuple[str, bool]] = field(default_factory=dict)
    deletions: set[str] = field(default_factory=set)
    pruned: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)


class Tracked:
    """A transaction's view of the storage: what it creates is remembered, to undo before the commit.

    Consistent snapshots mean a transaction never replaces a file a client reads before the
    timestamp: it creates hash-named targets and versioned metadata, and the journal.
    """

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.description = inner.description
        self.created: list[str] = []
        self.committed = False
        self._lock = threading.Lock()

    def _remember(self, key: str) -> None:
        with self._lock:
            self.created.append(key)

    def read(self, key: str) -> bytes | None:
        return self.inner.read(key)

    def write(self, key: str, data: bytes) -> None:
        new = not self.committed and (_VERSIONED.match(key) is not None or self.inner.read(key) is None)
        self.inner.write(key, data)
        if new:
            self._remember(key)

    def create(self, key: str, data: bytes) -> bool:
        made = self.inner.create(key, data)
        if made and not self.committed:
            self._remember(key)
        return made

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def keys(self, prefix: str) -> Iterator[str]:
        return self.inner.keys(prefix)

    def lock(self, timeout: float) -> contextlib.AbstractContextManager[None]:
        return self.inner.lock(timeout)

    def undo(self) -> None:
        """Remove what was created, newest first; best effort (the first error is the one to report)."""
        for key in reversed(self.created):
            with contextlib.suppress(ReleaseError, OSError):
                self.inner.delete(key)


_VERSIONED = re.compile(r"metadata/\d+\.[^/]+\.json")


def write_copies(storage: Storage, copies: dict[str, tuple[str, bool]]) -> None:
    """The readable copies of committed TUF targets (an index also as HTML)."""
    for key, (stored, html) in sorted(copies.items()):
        data = storage.read(stored)
        if data is None:
            raise ChannelError(f"{storage.description}/{stored}: missing; the repository is inconsistent")
        storage.write(key, ChannelIndex.from_bytes(data, stored).to_html() if html else data)


def recover(storage: Storage, tuf: TufRepository) -> None:
    """Finish the cleanup of a committed transaction; forget that of one that never committed."""
    data = storage.read(JOURNAL)
    if data is None:
        return
    try:
        journal = json.loads(data)
        deletions = [str(key) for key in journal["delete"]]
        copies = {str(key): (str(stored), bool(html)) for key, stored, html in journal.get("readable", [])}
        committed_at = int(journal["timestamp_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ChannelError(f"{storage.description}/{JOURNAL}: not a publish journal: {exc}") from exc
    current = tuf.timestamp.signed.version if tuf.timestamp else 0
    if current >= committed_at:
        write_copies(storage, copies)
        for key in deletions:
            storage.delete(key)
    storage.delete(JOURNAL)
