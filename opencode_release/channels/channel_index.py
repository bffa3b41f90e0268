"""The per-channel index a person or a script reads, and each release's record.

`<channel>/index.json` lists the channel's releases, newest first: version,
build date, publish time, commit, the download per target (size, sha256, URL)
and links to the evidence, with the yanked flag and reason. The full record of
one release (every file with its kind, size and digest) is
`<channel>/<version>/release.json`, so the channel index stays small and a
publish costs what it adds, not what the channel holds. URLs are relative to
the repository root. The same documents are TUF targets, so update clients
read them verified.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.errors import VersionError
from ..core.fsio import check_relative
from ..core.versions import Version
from .storage import ChannelError, Storage

SCHEMA_VERSION = 1


def role_name(channel: str) -> str:
    """The TUF role of a channel: `stable`, `nightly`, `lts-1.4`, `snapshots` (TUF has a `snapshot` role)."""
    return "snapshots" if channel == "snapshot" else channel.replace("/", "-")


def check_channel(channel: str) -> str:
    if channel in ("stable", "nightly", "snapshot"):
        return channel
    if channel.startswith("lts/"):
        line = channel[4:].split(".")
        if len(line) == 2 and all(part.isdigit() for part in line):
            return channel
    raise ChannelError(f"channel {channel!r}: expected stable, nightly, snapshot or lts/<major.minor> (e.g. lts/1.4)")


def index_key(channel: str) -> str:
    return f"{channel}/index.json"


def release_key(channel: str, version: str) -> str:
    return f"{channel}/{version}/release.json"


_SUMMARY_FIELDS = {
    "version": str,
    "date": str,
    "published": str,
    "commit": str,
    "yanked": bool,
    "yanked_reason": str,
    "pruned": bool,
    "downloads": dict,
    "release": str,
    "evidence": list,
}
_DOWNLOAD_FIELDS = {"name": str, "url": str, "size": int, "sha256": str, "path": str}


def _summary(release: Any) -> dict[str, Any]:
    """A channel index line of the shape the publisher writes (TypeError/KeyError otherwise)."""
    for name, kind in _SUMMARY_FIELDS.items():
        if not isinstance(release[name], kind):
            raise TypeError(f"release field {name!r} is not a {kind.__name__}")
    for download in release["downloads"].values():
        for name, kind in _DOWNLOAD_FIELDS.items():
            if not isinstance(download[name], kind) or isinstance(download[name], bool):
                raise TypeError(f"download field {name!r} is not a {kind.__name__}")
    if not all(isinstance(e, str) for e in release["evidence"]):
        raise TypeError("evidence is not a list of strings")
    return dict(release)


def _checked_time(text: Any) -> str:
    """An ISO 8601 time as written, once it is known to parse (TypeError/ValueError otherwise)."""
    dt.datetime.fromisoformat(text)
    return str(text)


@dataclass(frozen=True, slots=True)
class PublishedFile:
    artifact_id: str
    kind: str
    target_path: str  # the TUF target path: <channel>/<version>/<ledger path>
    url: str  # the stored file, relative to the repository root
    size: int
    sha256: str
    target: str | None
    payload: bool  # an installable download (binaries go with retention; evidence stays)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.artifact_id,
            "kind": self.kind,
            "path": self.target_path,
            "url": self.url,
            "size": self.size,
            "sha256": self.sha256,
            "target": self.target,
            "payload": self.payload,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "release record") -> PublishedFile:
        # The record is read back from the repository to prune and yank: its paths are data.
        url = check_relative(data["url"], source=f"{where}: file {data.get('id')!r}")
        if not url.startswith("targets/"):
            raise ChannelError(f"{where}: file {data.get('id')!r}: url {url!r} is not under targets/")
        target = data.get("target")
        return cls(
            str(data["id"]),
            str(data["kind"]),
            check_relative(data["path"], source=f"{where}: file {data.get('id')!r}"),
            url,
            int(data["size"]),
            str(data["sha256"]),
            None if target is None else str(target),
            bool(data["payload"]),
        )


@dataclass(frozen=True, slots=True)
class ReleaseEntry:
    version: str
    date: str  # build date (SOURCE_DATE_EPOCH), YYYY-MM-DD
    published: str  # when it entered this channel, ISO 8601 UTC
    commit: str
    files: tuple[PublishedFile, ...]
    yanked: bool = False
    yanked_reason: str = ""
    pruned: bool = False  # payload removed by retention; evidence kept

    @property
    def published_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.published)

    def downloads(self) -> dict[str, dict[str, Any]]:
        if self.pruned:
            return {}
        return {
            f.target or "any": {
                "name": f.target_path.rsplit("/", 1)[-1],
                "url": f.url,
                "size": f.size,
                "sha256": f.sha256,
                "path": f.target_path,
            }
            for f in self.files
            if f.payload and f.kind == "archive"
        }

    def summary(self, channel: str) -> dict[str, Any]:
        """The channel index's line for this release."""
        return {
            "version": self.version,
            "date": self.date,
            "published": self.published,
            "commit": self.commit,
            "yanked": self.yanked,
            "yanked_reason": self.yanked_reason,
            "pruned": self.pruned,
            "downloads": self.downloads(),
            "release": release_key(channel, self.version),
            "evidence": [f.url for f in self.files if not f.payload],
        }

    def record(self, channel: str) -> dict[str, Any]:
        return {
            **self.summary(channel),
            "schema_version": SCHEMA_VERSION,
            "channel": channel,
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_record(cls, data: Any, where: str = "release record") -> ReleaseEntry:
        """A release record as read back from a repository; ChannelError when it is not one."""
        try:
            entry = cls(
                str(Version.parse(data["version"])),
                str(data["date"]),
                _checked_time(data["published"]),
                str(data["commit"]),
                tuple(PublishedFile.from_json(f, where) for f in data["files"]),
                bool(data["yanked"]),
                str(data["yanked_reason"]),
                bool(data["pruned"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError, VersionError) as exc:
            raise ChannelError(f"{where}: not a release record: {type(exc).__name__}: {exc}") from exc
        if entry.version != data["version"]:
            raise ChannelError(f"{where}: version {data['version']!r} is not written canonically")
        return entry

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> ReleaseEntry:
        try:
            doc = json.loads(data)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
            raise ChannelError(f"{where}: not JSON: {exc}") from exc
        return cls.from_record(doc, where)


@dataclass
class ChannelIndex:
    channel: str
    product: str
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> summary

    def put(self, entry: ReleaseEntry) -> None:
        """Add or replace a release, keeping newest-first order with O(log n) version parses."""
        summary = entry.summary(self.channel)
        if entry.version in self.releases:
            self.releases[entry.version] = summary
            return
        versions = list(self.releases)
        new = Version.parse(entry.version)
        low, high = 0, len(versions)
        while low < high:
            middle = (low + high) // 2
            if Version.parse(versions[middle]) > new:
                low = middle + 1
            else:
                high = middle
        versions.insert(low, entry.version)
        releases = {**self.releases, entry.version: summary}
        self.releases = {v: releases[v] for v in versions}

    def ordered(self) -> list[dict[str, Any]]:
        """Newest first: the order `put` keeps and the stored index has."""
        return list(self.releases.values())

    def to_bytes(self) -> bytes:
        head = json.dumps({"channel": self.channel, "product": self.product, "schema_version": SCHEMA_VERSION})[:-1]
        # one release per line: readable, diffable, and the C encoder (no indent) keeps it fast
        lines = ",\n".join(json.dumps(r, sort_keys=True, separators=(",", ":")) for r in self.ordered())
        return f'{head}, "releases": [\n{lines}\n]}}\n'.encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> ChannelIndex:
        try:
            doc = json.loads(data)
            # stored newest first (the publisher writes it so): no re-sorting, no version parsing
            releases = {_summary(r)["version"]: r for r in doc["releases"]}
            if not isinstance(doc["channel"], str) or not isinstance(doc["product"], str):
                raise TypeError("channel and product must be strings")
            return cls(doc["channel"], doc["product"], releases)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ChannelError(f"{where}: not a channel index: {type(exc).__name__}: {exc}") from exc

    def to_html(self, limit: int = 100) -> bytes:
        """The newest `limit` releases as a table; index.json lists them all."""
        up = "../" * (self.channel.count("/") + 1)
        rows = []
        for r in self.ordered()[:limit]:
            links = " ".join(
                f'<a href="{html.escape(up + d["url"])}">{html.escape(t)}</a> '
                f"<small>{d['size']:,} B sha256 {d['sha256'][:16]}…</small>"
                for t, d in sorted(r["downloads"].items())
            ) or ("<em>pruned</em>" if r["pruned"] else "")
            state = f"yanked: {html.escape(r['yanked_reason'])}" if r["yanked"] else ""
            rows.append(
                f"<tr><td>{html.escape(r['version'])}</td><td>{r['date']}</td><td>{links}</td>"
                f'<td><a href="{html.escape(up + r["release"])}">evidence ({len(r["evidence"])})</a></td>'
                f"<td>{state}</td></tr>"
            )
        title = html.escape(f"{self.product} {self.channel}")
        return (
            f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>\n"
            "<table><tr><th>version</th><th>date</th><th>downloads</th><th>evidence</th><th>yanked</th></tr>\n"
            + "\n".join(rows)
            + "\n</table>\n"
            + (
                f'<p>{len(self.releases) - limit} older releases: <a href="index.json">index.json</a></p>\n'
                if len(self.releases) > limit
                else ""
            )
        ).encode()


def read_index(storage: Storage, channel: str, product: str = "") -> ChannelIndex:
    data = storage.read(index_key(channel))
    if data is None:
        return ChannelIndex(channel, product)
    return ChannelIndex.from_bytes(data, f"{storage.description}/{index_key(channel)}")


def read_release(storage: Storage, channel: str, version: str) -> ReleaseEntry | None:
    data = storage.read(release_key(channel, version))
    if data is None:
        return None
    return ReleaseEntry.from_bytes(data, f"{storage.description}/{release_key(channel, version)}")


def release_dates(index: ChannelIndex) -> dict[str, dt.date]:
    """version -> release (publish) day of every release the channel holds, yanked ones too."""
    return {v: dt.datetime.fromisoformat(r["published"]).date() for v, r in index.releases.items()}


def with_files(entry: ReleaseEntry, files: Iterable[PublishedFile]) -> ReleaseEntry:
    return replace(entry, files=tuple(files))
