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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core import names
from ..core.errors import ReleaseError
from ..core.fsio import check_relative
from ..core.ledger import Artifact, ArtifactKind, Ledger
from ._transaction import Txn
from .storage import ChannelError
from .tuf_repo import target_key

if TYPE_CHECKING:  # the publisher calls in here; its transaction steps stay its own
    from .publisher import Repository


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


def plan(ledger: Ledger, channel: str) -> SuitePlan | None:
    """The channel's suite from this release, when the release has an apt repository of that suite."""
    suite = names.apt_suite(channel)
    if suite is None:
        return None
    marker = f"dists/{suite}/"
    uploadable = ledger.uploadable()
    roots = {a.path.split(marker)[0] for a in uploadable if a.kind == ArtifactKind.APT_INDEX and marker in a.path}
    if len(roots) != 1:
        return None  # no suite of this channel in the release (a stable opening its LTS line)
    (root,) = roots
    documents: list[tuple[str, Artifact]] = []
    copies: list[tuple[str, Artifact]] = []
    for artifact in sorted(uploadable, key=lambda a: a.path):
        if artifact.kind not in (ArtifactKind.APT_INDEX, ArtifactKind.DEB) or not artifact.path.startswith(root):
            continue
        rest = artifact.path[len(root) :]
        if rest.startswith("dists/") and not rest.startswith(marker):
            continue  # another suite's
        (documents if rest.startswith("dists/") else copies).append((f"{apt_root(channel)}/{rest}", artifact))
    return SuitePlan(suite, tuple(documents), tuple(copies))


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
    txn.deletions |= {check_relative(f"{apt_root(channel)}/{name}", source=f"{channel} Packages") for name in pool}


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
