"""Publish a procurement packet into the channel repository under each LTS line it covers.

The same transaction as a release's publish (publisher.py: lock, journal,
targets, snapshot, timestamp, cleanup), so the packet is a TUF target of the
`lts/<line>` role like the line's releases: `lts/<line>/procurement/<quarter>.zip`
and its Sigstore bundle. The packet of a quarter may be made again (a later
day, a new triage): the new bytes replace the old target, whose file goes in
the cleanup. It touches no channel index: update clients never see it as a release.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from ..core.errors import UsageError
from ._transaction import PublishResult, Txn, recover
from .channel_index import check_channel, role_name
from .publisher import Repository
from .tuf_repo import target_key


def packet_target(channel: str, quarter: str, name: str) -> str:
    return f"{channel}/procurement/{quarter}/{name}"


def publish_packet(
    publisher: Repository, quarter: str, files: Mapping[str, bytes], channels: Sequence[str]
) -> PublishResult:
    """`files` (name -> bytes) as targets of each `lts/<line>` channel, which must exist already."""
    for channel in channels:
        if not check_channel(channel).startswith("lts/"):
            raise UsageError(f"channel {channel}: a procurement packet is published under LTS lines only")
    # One transaction, as publisher.publish runs it (its steps are that module's; this adds other targets).
    with publisher.storage.lock(publisher.settings.lock_timeout_seconds):
        tuf = publisher._tuf()
        recover(publisher.storage, tuf)
        with publisher._transaction(tuf) as tracked:
            missing = [c for c in channels if tuf.role(role_name(c)) is None]
            if missing:
                raise UsageError(
                    f"{publisher.storage.description}: channel {missing[0]} does not exist; publish a release of "
                    "that line first"
                )
            txn = Txn(tuf)
            changed = []
            for channel in channels:
                for name, data in sorted(files.items()):
                    path = packet_target(channel, quarter, name)
                    previous = tuf.get_target(channel, path)
                    sha256 = hashlib.sha256(data).hexdigest()
                    if previous is not None and previous.hashes["sha256"] == sha256:
                        continue
                    if previous is not None:
                        txn.deletions.add(target_key(path, previous.hashes["sha256"]))
                    publisher._put(txn, channel, path, data, sha256)
                    changed.append(channel)
            if not changed:
                return PublishResult(quarter, "unchanged", tuple(channels))
            deleted = publisher._commit(txn, tracked)
        return PublishResult(quarter, "published", tuple(sorted(set(changed))), txn.written, (), (), deleted)
