"""The shards of the local Rekor v1: frozen trees before the one that grows, as the public log has.

Production Rekor v1 is sharded: when a Trillian tree is frozen, a new one takes
new entries, and an entry's `logIndex` is its *global* index (the sizes of all
inactive shards plus its index in the active tree), while its inclusion proof
is for the active tree alone, at the index inside that tree. Checkpoints name
the tree: `<log name> - <tree id>` (decimal Trillian id), `GET /api/v1/log`
answers the active tree's head with `treeID` and lists `inactiveShards`, and an
entry's id is the tree id (16 hex digits) followed by its leaf hash. All
shards share one signing key, so the log id (sha256 of the key) and the
trusted root's one v1 entry stay the same across shards.

The layout is made when the log is first opened, kept in `shards.json` beside
the active tree's entries, and never changes after: global indexes already
handed out must stay valid. The frozen shard's entries are placeholders nobody
fetches; only its size, root and signed tree head are kept.
"""

from __future__ import annotations

import fcntl
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.fsio import write_atomic
from . import merkle

# Entries in the frozen shard before the active one, by default: non-zero, so every
# snapshot's bundles carry a global logIndex that differs from the proof's index.
DEFAULT_INACTIVE_ENTRIES = 1000
LAYOUT_FILE = "shards.json"


class ShardLayoutError(ValueError):
    """A shard layout that cannot be used (unreadable, or not the one asked for)."""


@dataclass(frozen=True)
class FrozenShard:
    tree_id: int
    size: int
    root: bytes
    signed_tree_head: str

    def info(self) -> dict[str, Any]:
        """As `GET /api/v1/log` lists it under `inactiveShards`."""
        return {
            "rootHash": self.root.hex(),
            "treeSize": self.size,
            "signedTreeHead": self.signed_tree_head,
            "treeID": str(self.tree_id),
        }


@dataclass(frozen=True)
class ShardLayout:
    active_tree_id: int
    inactive: tuple[FrozenShard, ...]

    @property
    def offset(self) -> int:
        """What to add to an index in the active tree to get the global logIndex."""
        return sum(shard.size for shard in self.inactive)

    def entry_id(self, leaf: bytes) -> str:
        """The id Rekor answers an entry under: tree id (16 hex digits), then the leaf hash."""
        return f"{self.active_tree_id:016x}{leaf.hex()}"


def _tree_id() -> int:
    # Trillian tree ids are random positive int64s.
    return secrets.randbelow((1 << 63) - 1) + 1


def _placeholder_leaves(tree_id: int, size: int) -> list[bytes]:
    return [merkle.leaf_hash(f"frozen shard {tree_id} entry {i}".encode()) for i in range(size)]


def _read(path: Path) -> ShardLayout:
    try:
        data = json.loads(path.read_bytes())
        inactive = tuple(
            FrozenShard(int(s["treeID"]), int(s["treeSize"]), bytes.fromhex(s["rootHash"]), str(s["signedTreeHead"]))
            for s in data["inactiveShards"]
        )
        return ShardLayout(int(data["treeID"]), inactive)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ShardLayoutError(f"{path}: unreadable shard layout ({exc}); remove the log folder to start over") from exc


def load_or_create(
    folder: Path, sign_checkpoint: Callable[[int, int, bytes], str], inactive_entries: int | None
) -> ShardLayout:
    """The log's shards: read from `folder`, or made with `inactive_entries` frozen entries
    (default DEFAULT_INACTIVE_ENTRIES). `sign_checkpoint(tree_id, size, root)` signs a tree head.
    Asking for another count than an existing log has is an error, not a silent reshard."""
    path = folder / LAYOUT_FILE
    folder.mkdir(parents=True, exist_ok=True)
    # Several processes may open a new log at once: one makes the layout, the others read it.
    with (folder / f"{LAYOUT_FILE}.lock").open("ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            _write(
                path,
                _new_layout(
                    sign_checkpoint, DEFAULT_INACTIVE_ENTRIES if inactive_entries is None else inactive_entries
                ),
            )
    layout = _read(path)
    if inactive_entries is not None and layout.offset != inactive_entries:
        raise ShardLayoutError(
            f"{path}: the log already has {layout.offset} inactive-shard entries, not {inactive_entries}; "
            "use a new state folder for another layout"
        )
    return layout


def _new_layout(sign_checkpoint: Callable[[int, int, bytes], str], count: int) -> ShardLayout:
    if count < 0:
        raise ShardLayoutError(f"inactive-shard entries: found {count}; expected 0 or more")
    frozen: tuple[FrozenShard, ...] = ()
    if count:
        tree_id = _tree_id()
        root = merkle.TreeHasher(_placeholder_leaves(tree_id, count)).root(count)
        frozen = (FrozenShard(tree_id, count, root, sign_checkpoint(tree_id, count, root)),)
    return ShardLayout(_tree_id(), frozen)


def _write(path: Path, layout: ShardLayout) -> None:
    record = {"treeID": str(layout.active_tree_id), "inactiveShards": [s.info() for s in layout.inactive]}
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
