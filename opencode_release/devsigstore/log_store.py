"""An append-only log of entry bodies on disk and the RFC 6962 tree over them.

Entries live in `entries.jsonl`, one line per entry, only ever appended (under
a file lock, fsynced), so the tree keeps growing across releases and any
earlier checkpoint is a prefix of a later one: a consistency proof shows it.
Several processes may append to the same file; each reads what the others
wrote before it answers. Both Rekor APIs (v1 and v2) keep their entries here,
each in its own folder.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
import time
from pathlib import Path

from . import merkle


class EntryStore:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "entries.jsonl"
        self.path.touch(exist_ok=True)
        self._bodies: list[bytes] = []
        self._times: list[int] = []
        self._leaves: list[bytes] = []
        self._tree = merkle.TreeHasher(self._leaves)
        self._offset = 0
        self._lock = threading.Lock()
        with self._lock:
            self._catch_up()

    @property
    def size(self) -> int:
        return len(self._leaves)

    def body(self, index: int) -> bytes:
        return self._bodies[index]

    def integrated_time(self, index: int) -> int:
        return self._times[index]

    def leaf(self, index: int) -> bytes:
        return self._leaves[index]

    def _catch_up(self) -> None:
        """Read entries other processes appended since we last looked."""
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a torn tail from a crash: never integrated, never answered
                record = json.loads(line)
                if record["logIndex"] != len(self._bodies):
                    raise ValueError(f"{self.path}: entry {record['logIndex']} out of order")
                body = base64.b64decode(record["body"])
                self._bodies.append(body)
                self._times.append(int(record["integratedTime"]))
                self._leaves.append(merkle.leaf_hash(body))
                self._offset += len(line)

    def append(self, body: bytes) -> int:
        """Integrate `body`; its index in this log."""
        with self._lock, self.path.open("ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._catch_up()
            if self._offset != handle.seek(0, os.SEEK_END):
                handle.truncate(self._offset)  # drop a torn tail before appending
            index = self.size
            record = {"logIndex": index, "integratedTime": int(time.time()), "body": base64.b64encode(body).decode()}
            handle.write((json.dumps(record) + "\n").encode())
            handle.flush()
            os.fsync(handle.fileno())
            self._catch_up()
            return index

    def refresh(self) -> int:
        """The size after reading what other processes appended."""
        with self._lock:
            self._catch_up()
            return self.size

    def root(self, size: int) -> bytes:
        with self._lock:
            return self._tree.root(size)

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        """Root hash and audit path of entry `index` in the tree of `size` leaves."""
        with self._lock:
            self._catch_up()
            return self._tree.root(size), self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        with self._lock:
            self._catch_up()
            return self._tree.consistency_proof(old, new)
