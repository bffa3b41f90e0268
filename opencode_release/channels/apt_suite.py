"""A channel's apt suite in the channel repository, where apt clients read it.

A release's apt repository (`manifests/apt/` of its ledger: pool, `dists/<suite>/`, the
public key) is published with the release as TUF targets under `<channel>/<version>/`.
For apt clients the channel also carries its suite at plain paths, `<channel>/apt/`:
`dists/<suite>/...` as TUF targets of their own (so a re-signed Release is covered by
TUF too), the pool and the key as readable copies of the release's targets. Like every
readable copy they are written only after the timestamp that covers them.

`publish --refresh` re-signs a suite's Release (new Date and Valid-Until) once less than
half its lifetime is left, so a quiet channel never expires under its apt clients while a
replayed old InRelease still does.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ..core import names
from ..core.errors import ReleaseError
from ..core.fsio import check_relative
from ..core.ledger import Artifact, ArtifactKind, Ledger
from ._transaction import Txn
from .channel_index import ChannelIndex, PublishedFile, ReleaseEntry
from .storage import ChannelError
from .tuf_repo import target_key

if TYPE_CHECKING:  # the publisher calls in here; its transaction steps stay its own
    from .publisher import Repository

_T = TypeVar("_T")
_Placed = list[tuple[str, _T]]  # (path under <channel>/apt/, what is placed there)
_SIGNED = ("Release", "InRelease", "Release.gpg")  # what the refresh may have re-signed in place


@dataclass(frozen=True, slots=True)
class AptResigner:
    """What the refresh needs from whoever holds the apt key (the manifests area, through cli/)."""

    lifetime: dt.timedelta  # apt.valid-days
    sign: Callable[[bytes, dt.datetime], dict[str, bytes]]  # Release -> {Release, InRelease, Release.gpg}


@dataclass(frozen=True, slots=True)
class SuitePlan:
    suite: str
    documents: tuple[tuple[str, Artifact], ...]  # dists/ files: target path under <channel>/apt/
    copies: tuple[tuple[str, Artifact], ...]  # pool and key: readable path under <channel>/apt/


def apt_root(channel: str) -> str:
    return f"{channel}/apt"


def release_path(channel: str) -> str | None:
    """The target path of the channel's suite Release, when the channel has a suite."""
    suite = names.apt_suite(channel)
    return f"{apt_root(channel)}/dists/{suite}/Release" if suite else None


def _split(channel: str, suite: str, items: Iterable[tuple[str, str, _T]]) -> tuple[_Placed[_T], _Placed[_T]] | None:
    """(documents, copies) of the channel's suite among a release's (ledger path, kind, item), or None."""
    marker = f"dists/{suite}/"
    listed = sorted(items, key=lambda item: item[0])
    roots = {path.split(marker)[0] for path, kind, _ in listed if kind == ArtifactKind.APT_INDEX and marker in path}
    if len(roots) != 1:
        return None  # no suite of this channel in the release (a stable opening its LTS line)
    (root,) = roots
    documents: _Placed[_T] = []
    copies: _Placed[_T] = []
    for path, kind, item in listed:
        if kind not in (ArtifactKind.APT_INDEX, ArtifactKind.DEB) or not path.startswith(root):
            continue
        rest = path[len(root) :]
        if rest.startswith("dists/") and not rest.startswith(marker):
            continue  # another suite's
        (documents if rest.startswith("dists/") else copies).append((f"{apt_root(channel)}/{rest}", item))
    return documents, copies


def plan(ledger: Ledger, channel: str) -> SuitePlan | None:
    """The channel's suite from this release, when the release has an apt repository of that suite."""
    suite = names.apt_suite(channel)
    if suite is None:
        return None
    found = _split(channel, suite, ((a.path, a.kind, a) for a in ledger.uploadable()))
    return SuitePlan(suite, tuple(found[0]), tuple(found[1])) if found else None


def _published_plan(
    entry: ReleaseEntry, channel: str, suite: str
) -> tuple[_Placed[PublishedFile], _Placed[PublishedFile]] | None:
    """The same from a published release's record (its files' target paths are <channel>/<version>/<path>)."""
    prefix = f"{channel}/{entry.version}/"
    items = ((f.target_path.removeprefix(prefix), f.kind, f) for f in entry.files if f.target_path.startswith(prefix))
    return _split(channel, suite, items)


def pool_files(packages: bytes | None) -> set[str]:
    """The pool paths a Packages index names."""
    text = (packages or b"").decode("utf-8", "replace")
    return {line[len("Filename: ") :].strip() for line in text.splitlines() if line.startswith("Filename: ")}


def due(release: bytes, now: dt.datetime, lifetime: dt.timedelta) -> bool:
    """True when less than half of `lifetime` is left before the Release's Valid-Until (or it has none)."""
    for line in release.decode("utf-8", "replace").splitlines():
        if line.startswith("Valid-Until: "):
            try:
                until = email.utils.parsedate_to_datetime(line[len("Valid-Until: ") :])
            except (TypeError, ValueError):
                return True
            return until - now < lifetime / 2
        if line.startswith("SHA256:"):
            break
    return True


def put_suite(repo: Repository, txn: Txn, channel: str, ledger: Ledger) -> None:
    """Stage the channel's suite from this release in a publish transaction."""
    suite = plan(ledger, channel)
    if suite is None:
        return
    pool: set[str] = set()
    for path, artifact in suite.documents:
        data = ledger.file(artifact).read_bytes()
        if path.endswith("/Packages"):  # the previous suite's packages leave the readable pool
            pool |= pool_files(repo._fetch(txn.tuf, channel, path))
            pool -= pool_files(data)
        repo._put_document(txn, channel, path, data, path)
    for path, artifact in suite.copies:
        txn.copies[path] = (target_key(f"{channel}/{ledger.version}/{artifact.path}", artifact.sha256), False)
        txn.readable[path] = b""  # a copy of a payload target: its bytes are read when it is copied
    _drop_pool(txn, channel, pool)


def _drop_pool(txn: Txn, channel: str, pool: set[str]) -> None:
    """The readable pool copies a suite no longer lists (names from a Packages index: the path rule first)."""
    txn.deletions |= {check_relative(f"{apt_root(channel)}/{name}", source=f"{channel} Packages") for name in pool}


def after_yank(repo: Repository, txn: Txn, channel: str, index: ChannelIndex, yanked: ReleaseEntry) -> str | None:
    """apt installs whatever the channel's suite lists: when that is the yanked release's, stage the newest
    release left (neither yanked nor pruned) in its place, or take the suite down. Returns the version the
    suite now serves ("" for none), None when it served another release (left alone)."""
    suite = names.apt_suite(channel)
    served = _published_plan(yanked, channel, suite) if suite else None
    if suite is None or served is None:
        return None
    packages = [(path, f) for path, f in served[0] if path.endswith("/Packages")]
    current = [txn.tuf.get_target(channel, path) for path, _ in packages]
    if not packages or any(
        c is None or c.hashes["sha256"] != f.sha256 for c, (_, f) in zip(current, packages, strict=True)
    ):
        return None
    pool = set().union(*(pool_files(repo._fetch(txn.tuf, channel, path)) for path, _ in packages))
    dists = f"{apt_root(channel)}/dists/{suite}"
    stale = {path for path, _ in served[0]} | {f"{dists}/{name}" for name in _SIGNED}
    for summary in index.ordered():
        if summary.get("yanked") or summary.get("pruned") or summary["version"] == yanked.version:
            continue
        record = repo._record(txn.tuf, channel, summary["version"])
        found = _published_plan(record, channel, suite) if record else None
        if record is None or found is None:
            continue
        for path, published in found[0]:
            data = repo._fetch(txn.tuf, channel, published.target_path)
            if data is None:
                raise ChannelError(f"{published.target_path}: named by {channel} {record.version} and not stored")
            pool -= pool_files(data) if path.endswith("/Packages") else set()
            repo._put_document(txn, channel, path, data, path)
            stale.discard(path)
        for path, published in found[1]:
            txn.copies[path] = (target_key(published.target_path, published.sha256), False)
            txn.readable[path] = b""
        _take_down(txn, channel, stale, pool)
        return record.version
    _take_down(txn, channel, stale, pool | {path.removeprefix(f"{apt_root(channel)}/") for path, _ in served[1]})
    return ""


def _take_down(txn: Txn, channel: str, documents: set[str], pool: set[str]) -> None:
    """Documents out of the metadata with their stored bytes and readable copies; pool copies gone."""
    for path in sorted(documents):
        info = txn.tuf.get_target(channel, path)
        if info is not None:
            txn.deletions.add(target_key(path, info.hashes["sha256"]))
            txn.tuf.remove_target(channel, path)
        txn.deletions.add(path)
    _drop_pool(txn, channel, pool)


def resign_due(repo: Repository, apt: AptResigner) -> list[str]:
    """Re-sign each channel's suite whose Release is due, one transaction per suite (under the
    caller's lock); the apt roots re-signed."""
    done: list[str] = []
    for channel in repo.channels():
        tuf = repo._tuf()
        path = release_path(channel)
        release = repo._fetch(tuf, channel, path) if path else None
        if path is None or release is None or not due(release, repo.now, apt.lifetime):
            continue
        try:
            with repo._transaction(tuf) as tracked:
                txn = Txn(tuf)
                for name, data in apt.sign(release, repo.now).items():
                    target = f"{path.rsplit('/', 1)[0]}/{name}"
                    repo._put_document(txn, channel, target, data, target)
                repo._commit(txn, tracked)
        except ReleaseError as exc:
            raise ChannelError(
                f"{apt_root(channel)}: Release not re-signed: {' '.join(str(exc).split())}; apt clients refuse "
                "it after its Valid-Until: fix the apt key and refresh again"
            ) from exc
        done.append(apt_root(channel))
    return done
