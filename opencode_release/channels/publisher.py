"""Publishing a release into channels, yanking one, and nightly retention.

One publish is a transaction under the repository lock, in an order that
keeps every state a reader can see consistent:

1. `files`     the release's new files, release records and indexes as TUF targets (hash-prefixed,
                so nothing is replaced), and the journal of what steps 5-6 will do
2. `targets`   the bins, channel roles and top-level targets metadata
3. `snapshot`  the snapshot naming those versions
4. `timestamp` the timestamp naming that snapshot: the moment clients see the change (the commit)
5. `index`     the readable copies (`<channel>/index.json`, `index.html`, release records, the apt suite
                at `<channel>/apt/`): only now, so what a person, a script or apt reads without TUF never
                names what TUF does not cover
6. `cleanup`   files no metadata names any more (pruned payloads, old indexes)

A killed publisher leaves files nothing names yet; publishing again completes the
transaction (the journal finishes the copies and cleanup of a committed one). A write
failing before the commit (full disk, permission) removes what the transaction
created: the repository is left as it was, and the error is one line naming the
path. A channel's content is read from its TUF metadata, never from the copies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from tuf.api.metadata import TargetFile

from ..core.config_channels import ChannelSettings
from ..core.errors import LedgerError, ReleaseError
from ..core.fsio import check_name, check_relative, concurrently
from ..core.ledger import Artifact, Ledger
from . import apt_suite
from ._transaction import JOURNAL, Tracked, Txn, recover, write_copies
from ._transaction import PublishResult as PublishResult
from ._transaction import Retention as Retention
from .channel_index import ChannelIndex, PublishedFile, ReleaseEntry, check_channel, index_key, release_key
from .keys import Keyring
from .storage import ChannelError, Storage
from .tuf_repo import MAX_DEPTH, TufRepository, target_key

# Installable payloads go with retention; everything else is evidence and stays.
PAYLOAD_KINDS = frozenset({"archive", "binary", "deb", "wheel", "sdist"})
STEPS = ("files", "targets", "snapshot", "timestamp", "index", "cleanup")


class Repository:
    """A channel repository: storage + TUF metadata + the lock."""

    def __init__(
        self,
        storage: Storage,
        keyring: Keyring,
        settings: ChannelSettings,
        *,
        product: str,
        now: dt.datetime | None = None,
        retention: Retention | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.storage = storage
        self.keyring = keyring
        self.settings = settings
        self.product = product
        self.now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        self.retention = retention
        self.on_step = on_step or (lambda step: None)

    # -- reading ------------------------------------------------------------
    def _tuf(self) -> TufRepository:
        tuf = TufRepository(self.storage, self.keyring, self.settings, self.now)
        tuf.load()
        return tuf

    def _fetch(self, tuf: TufRepository, channel: str, target_path: str) -> bytes | None:
        """A target's bytes as the current metadata names them, hash-checked."""
        info = tuf.get_target(channel, target_path)
        if info is None:
            return None
        sha = info.hashes["sha256"]
        data = self.storage.read(target_key(target_path, sha))
        if data is None or hashlib.sha256(data).hexdigest() != sha:
            raise ChannelError(
                f"{self.storage.description}/{target_key(target_path, sha)}: missing or changed; "
                "the repository is inconsistent"
            )
        return data

    def _index(self, tuf: TufRepository, channel: str) -> ChannelIndex:
        data = self._fetch(tuf, channel, index_key(channel))
        return ChannelIndex.from_bytes(data, index_key(channel)) if data else ChannelIndex(channel, self.product)

    def _record(self, tuf: TufRepository, channel: str, version: str) -> ReleaseEntry | None:
        data = self._fetch(tuf, channel, release_key(channel, version))
        where = f"{self.storage.description}/{release_key(channel, version)}"
        return ReleaseEntry.from_bytes(data, where) if data else None

    def channels(self) -> list[str]:
        top = self._tuf().role("targets")
        roles = top.signed.delegations.roles if top and top.signed.delegations else None
        return sorted(role.paths[0][: -len("/*")] for role in (roles or {}).values() if role.paths)

    # -- writing --------------------------------------------------------------
    def _put(self, txn: Txn, channel: str, target_path: str, data: bytes, sha256: str = "") -> TargetFile:
        info = TargetFile(len(data), {"sha256": sha256 or hashlib.sha256(data).hexdigest()}, target_path)
        if self.storage.create(target_key(target_path, info.hashes["sha256"]), data):
            txn.written += 1
        txn.targets.append((channel, info))
        return info

    def _put_document(self, txn: Txn, channel: str, target_path: str, data: bytes, readable: str) -> str:
        previous = txn.tuf.get_target(channel, target_path)
        info = self._put(txn, channel, target_path, data)
        if previous is not None and previous.hashes["sha256"] != info.hashes["sha256"]:
            txn.deletions.add(target_key(target_path, previous.hashes["sha256"]))
        txn.readable[readable] = data
        stored = target_key(target_path, info.hashes["sha256"])
        txn.copies[readable] = (stored, False)
        return stored

    def _put_record(self, txn: Txn, channel: str, entry: ReleaseEntry) -> None:
        data = (json.dumps(entry.record(channel), indent=1, sort_keys=True) + "\n").encode()
        key = release_key(channel, entry.version)
        self._put_document(txn, channel, key, data, key)

    def _put_index(self, txn: Txn, index: ChannelIndex) -> None:
        key = index_key(index.channel)
        stored = self._put_document(txn, index.channel, key, index.to_bytes(), key)
        txn.copies[f"{index.channel}/index.html"] = (stored, True)

    def _commit(self, txn: Txn, tracked: Tracked) -> int:
        """Steps 2-6 once the new files are in place."""
        commit = (txn.tuf.timestamp.signed.version + 1) if txn.tuf.timestamp else 1
        copies: list[tuple[str, str, bool]] = [
            (key, stored, html) for key, (stored, html) in sorted(txn.copies.items()) if key in txn.readable or html
        ]
        journal = {"timestamp_version": commit, "delete": sorted(txn.deletions), "readable": copies}
        self.storage.write(JOURNAL, json.dumps(journal, sort_keys=True).encode())
        for channel, info in txn.targets:
            txn.tuf.add_target(channel, info)
        txn.tuf.refresh_expiring()
        txn.tuf.write_targets()
        self.on_step("targets")
        txn.tuf.write_snapshot()
        self.on_step("snapshot")
        txn.tuf.write_timestamp()
        tracked.committed = True
        self.on_step("timestamp")
        write_copies(self.storage, {key: (stored, html) for key, stored, html in copies})
        self.on_step("index")
        for key in sorted(txn.deletions):
            self.storage.delete(key)
        self.storage.delete(JOURNAL)
        self.on_step("cleanup")
        return len(txn.deletions)

    @contextlib.contextmanager
    def _transaction(self, tuf: TufRepository) -> Iterator[Tracked]:
        """Storage that remembers what this transaction created; a failure before the commit
        removes it again, so the repository is left as it was."""
        inner = self.storage
        tracked = Tracked(inner)
        self.storage = tuf.storage = tracked
        try:
            yield tracked
        except (ReleaseError, OSError) as exc:
            written = tracked.created or isinstance(exc, OSError) or isinstance(exc.__cause__, OSError)
            if tracked.committed or (isinstance(exc, ReleaseError) and not written):
                raise  # committed: the journal finishes it; nothing written: a plain refusal
            tracked.undo()
            message = " ".join(str(exc).split()) if isinstance(exc, ReleaseError) else f"{type(exc).__name__}: {exc}"
            raise ChannelError(f"{message}; nothing was changed: the repository is as it was") from exc
        finally:
            self.storage = tuf.storage = inner

    # -- publish ----------------------------------------------------------------
    def publish(self, ledger: Ledger, channels: Sequence[str]) -> PublishResult:
        version = ledger.version
        for channel in channels:
            check_channel(channel)
        with self.storage.lock(self.settings.lock_timeout_seconds):
            tuf = self._tuf()
            recover(self.storage, tuf)
            with self._transaction(tuf) as tracked:
                tuf.ensure_root()
                todo = [c for c in channels if not self._already(tuf, c, ledger)]
                if not todo:
                    return PublishResult(version, "unchanged", tuple(channels))
                txn = Txn(tuf)
                built = dt.datetime.fromtimestamp(ledger.source.epoch, dt.UTC).date().isoformat()
                entries = {
                    c: ReleaseEntry(
                        version, built, self.now.isoformat(), ledger.source.commit, tuple(self._upload(txn, c, ledger))
                    )
                    for c in todo
                }
                for channel, entry in entries.items():
                    tuf.ensure_channel(channel)
                    index = self._index(tuf, channel)
                    index.put(entry)
                    self._put_record(txn, channel, entry)
                    if channel in ("nightly", "snapshot") and self.retention is not None:
                        self._retain(txn, index, self.retention)
                    self._put_index(txn, index)
                    apt_suite.put_suite(self, txn, channel, ledger)
                self.on_step("files")
                deleted = self._commit(txn, tracked)
            return PublishResult(
                version, "published", tuple(todo), txn.written, tuple(txn.pruned), tuple(txn.expired), deleted
            )

    def _already(self, tuf: TufRepository, channel: str, ledger: Ledger) -> bool:
        recorded = self._record(tuf, channel, ledger.version)
        if recorded is None:
            return False
        theirs = {f.artifact_id: f.sha256 for f in recorded.files}
        ours = {a.id: a.sha256 for a in ledger.uploadable()}
        if theirs != ours:
            changed = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
            raise ChannelError(
                f"{channel} {ledger.version}: already published with different bytes ({', '.join(changed[:3])}); "
                "a published version is immutable: publish a new version"
            )
        return True

    def _upload(self, txn: Txn, channel: str, ledger: Ledger) -> Iterable[PublishedFile]:
        artifacts = sorted(ledger.uploadable(), key=lambda a: a.id)
        check_name(ledger.version, source=f"{ledger.path}: version")
        for artifact in artifacts:
            # The path rule on what the ledger says, before the first file is stored.
            ledger.file(artifact)
            target_path = check_relative(
                f"{channel}/{ledger.version}/{artifact.path}", source=f"{ledger.path}: artifact {artifact.id}"
            )
            if target_path.count("/") - channel.count("/") > MAX_DEPTH:
                raise ChannelError(
                    f"{artifact.path}: {target_path.count('/')} folders deep; a channel's "
                    f"delegation covers {MAX_DEPTH}: record it nearer the release folder"
                )

        def store(artifact: Artifact) -> tuple[bool, int]:
            path = ledger.file(artifact)
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != artifact.sha256:
                raise LedgerError(f"{path}: changed since the ledger recorded it; rerun its stage")
            target_path = f"{channel}/{ledger.version}/{artifact.path}"
            return self.storage.create(target_key(target_path, artifact.sha256), data), len(data)

        stored = concurrently(store, artifacts)
        txn.written += sum(created for created, _ in stored)
        for artifact, (_, length) in zip(artifacts, stored, strict=True):
            target_path = f"{channel}/{ledger.version}/{artifact.path}"
            info = TargetFile(length, {"sha256": artifact.sha256}, target_path)
            txn.targets.append((channel, info))
            yield PublishedFile(
                artifact.id,
                artifact.kind,
                target_path,
                target_key(target_path, artifact.sha256),
                info.length,
                artifact.sha256,
                artifact.target,
                artifact.kind in PAYLOAD_KINDS,
            )

    def _retain(self, txn: Txn, index: ChannelIndex, retention: Retention) -> None:
        """Nightly: newest `keep` keep their payloads; evidence goes after `evidence_days`."""
        channel, tuf = index.channel, txn.tuf
        releases = index.ordered()
        horizon = self.now - dt.timedelta(days=retention.evidence_days)
        for position, summary in enumerate(r for r in releases if not r["pruned"]):
            if position < retention.keep:
                continue
            found = self._record(tuf, channel, summary["version"])
            # the release entering in this very publish is not in the metadata yet
            key = release_key(channel, summary["version"])
            record = found or ReleaseEntry.from_bytes(txn.readable[key], key)
            for published in record.files:
                if published.payload:
                    tuf.remove_target(channel, published.target_path)
                    txn.targets = [(c, t) for c, t in txn.targets if t.path != published.target_path]
                    txn.deletions.add(published.url)
            pruned = replace(record, pruned=True)
            index.put(pruned)
            self._put_record(txn, channel, pruned)
            txn.pruned.append(record.version)
        for summary in index.ordered():
            if not summary["pruned"] or dt.datetime.fromisoformat(summary["published"]) >= horizon:
                continue
            old = self._record(tuf, channel, summary["version"])
            for path in [*(f.target_path for f in old.files), release_key(channel, summary["version"])] if old else []:
                info = tuf.get_target(channel, path)
                if info is not None:
                    txn.deletions.add(target_key(path, info.hashes["sha256"]))
                tuf.remove_target(channel, path)
            txn.targets = [(c, t) for c, t in txn.targets if not t.path.startswith(f"{channel}/{summary['version']}/")]
            txn.readable.pop(release_key(channel, summary["version"]), None)
            txn.deletions.add(release_key(channel, summary["version"]))
            del index.releases[summary["version"]]
            txn.expired.append(summary["version"])

    # -- refresh ----------------------------------------------------------------
    def refresh(self, apt: apt_suite.AptResigner | None = None) -> PublishResult:
        """Re-sign what is past half its lifetime (roles, snapshot, timestamp, with `apt` each channel's
        apt suite); run daily, needs no release.

        Without it a quiet channel's metadata would expire under its clients,
        which (rightly) refuse expired metadata: that is the freeze defence.
        """
        with self.storage.lock(self.settings.lock_timeout_seconds):
            tuf = self._tuf()
            recover(self.storage, tuf)
            if tuf.timestamp is None or tuf.snapshot is None:
                raise ChannelError(f"{self.storage.description}: no channel repository here; publish first")
            roles = tuf.refresh_expiring()
            half = {
                "snapshot": dt.timedelta(days=self.settings.snapshot_expiry_days) / 2,
                "timestamp": dt.timedelta(days=self.settings.timestamp_expiry_days) / 2,
            }
            due = [
                name
                for name, md in (("snapshot", tuf.snapshot), ("timestamp", tuf.timestamp))
                if md.signed.expires - self.now < half[name]
            ]
            if roles or due:
                with self._transaction(tuf) as tracked:
                    self._commit(Txn(tuf), tracked)
            # Each suite in a transaction of its own, after the TUF one: a missing apt key never
            # keeps the timestamp from being refreshed.
            resigned = apt_suite.resign_due(self, apt) if apt else []
            if not roles and not due and not resigned:
                return PublishResult("", "unchanged", ())
            return PublishResult("", "refreshed", tuple(sorted({*roles, "snapshot", "timestamp", *resigned})))

    # -- yank -------------------------------------------------------------------
    def yank(self, version: str, reason: str, channels: Sequence[str] | None = None) -> PublishResult:
        if not reason.strip():
            raise ChannelError(f"yank {version}: give a --reason; clients and people read it")
        with self.storage.lock(self.settings.lock_timeout_seconds):
            tuf = self._tuf()
            recover(self.storage, tuf)
            if tuf.root is None:
                raise ChannelError(f"{self.storage.description}: no channel repository here; publish first")
            with self._transaction(tuf) as tracked:
                txn = Txn(tuf)
                held, changed = [], []
                suites: dict[str, str] = {}
                for channel in channels or self.channels():
                    record = self._record(tuf, check_channel(channel), version)
                    if record is None:
                        continue
                    held.append(channel)
                    if record.yanked and record.yanked_reason == reason:
                        continue
                    yanked = replace(record, yanked=True, yanked_reason=reason)
                    index = self._index(tuf, channel)
                    index.put(yanked)
                    self._put_record(txn, channel, yanked)
                    self._put_index(txn, index)
                    served = apt_suite.after_yank(self, txn, channel, index, yanked)
                    if served is not None:
                        suites[apt_suite.apt_root(channel)] = served
                    changed.append(channel)
                if not held:
                    looked = ", ".join(channels or self.channels()) or "any channel"
                    raise ChannelError(f"{version}: not published in {looked}; nothing to yank")
                if not changed:
                    return PublishResult(version, "unchanged", tuple(held))
                self.on_step("files")
                deleted = self._commit(txn, tracked)
            return PublishResult(version, "yanked", tuple(changed), txn.written, deleted=deleted, apt_suites=suites)
