"""The update client: what the CLI's opt-in auto-update runs, on `tuf.ngclient.Updater`.

The root of trust is explicit: the caller passes the root metadata it trusts
(`update-check --root FILE`: a root.json obtained out of band or shipped with
the product). Taking the first
root from the server (trust on first use) is a loud opt-in, never the default.
Given that root, the updater refreshes the metadata (root rotation,
timestamp, snapshot, the channel's role and bins: rollback, freeze and
mix-and-match are refused), reads the channel's index as a verified target,
picks the newest release that is not yanked and has a download for this
platform, and downloads it through the updater, which checks its length and
hash.

The cache remembers the root it was started from; a cache started from
another root is discarded, so a passed root always wins. Every download is
bounded in length (metadata by the updater's caps, targets by their signed
length, the first root by the root cap) and all of them together by one
deadline, not only a socket timeout. `file://` repositories are read by the
same fetcher. Failures: `UpdateError` (exit 1: download, verification,
deadline), `UsageError` (exit 2: no root, a bad URL or channel); one line each.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import urllib3
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root
from tuf.ngclient import Updater, UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface

from ..core.errors import ReleaseError, UsageError, VersionError
from ..core.fsio import check_name, check_relative
from ..core.versions import Version
from .channel_index import check_channel, index_key

DEADLINE_SECONDS = 300.0  # one whole check: every metadata file and the download together
SOCKET_TIMEOUT_SECONDS = 15  # a connection silent this long is dropped, deadline or not
ANCHOR = "trusted-root.sha256"  # the root the cache was started from
TOFU_WARNING = (
    "WARNING: --trust-on-first-use: trusting whatever root {url} serves right now. Whoever can answer "
    "for that address today can sign every later update. Pin the root instead: --root FILE."
)


class UpdateError(ReleaseError):
    """The update check failed (download, verification, deadline); exit 1."""


def no_root_error() -> UsageError:
    return UsageError(
        "update-check: no root of trust; pass --root FILE (the repository's metadata/1.root.json, obtained "
        "out of band), or --project DIR of a product that pins one (channels.update-root); "
        "--trust-on-first-use accepts whatever root the server sends (unsafe)"
    )


@dataclass(frozen=True, slots=True)
class Update:
    channel: str
    version: str
    target: str
    path: Path  # the verified download
    sha256: str
    skipped: tuple[str, ...]  # newer releases passed over (yanked, no download for this platform)

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "version": self.version,
            "target": self.target,
            "path": str(self.path),
            "sha256": self.sha256,
            "skipped": list(self.skipped),
        }


def this_platform() -> str:
    """This machine's release target name, e.g. linux-x86_64-gnu or darwin-arm64."""
    system = platform.system().lower()
    machine = {"amd64": "x86_64", "aarch64": "aarch64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    if system == "linux":
        libc = "gnu" if platform.libc_ver()[0] == "glibc" else "musl"
        return f"linux-{'aarch64' if machine == 'arm64' else machine}-{libc}"
    if system == "darwin":
        return f"darwin-{'arm64' if machine in ('arm64', 'aarch64') else machine}"
    return f"windows-{'arm64' if machine in ('arm64', 'aarch64') else machine}"


class BoundedFetcher(FetcherInterface):
    """http(s) through urllib3 and file:// from disk, every read inside one overall deadline.

    The updater caps each file's length; this adds the deadline that a socket timeout alone
    does not give (a server sending a byte every few seconds never times out): every read
    returns what has arrived (`read1`), is bounded by the time left, and is followed by a
    look at the clock.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._pool = urllib3.PoolManager(headers={"User-Agent": "opencode-update-check"}, retries=False)

    def _left(self, url: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise tuf_errors.SlowRetrievalError(f"{url}: the update check ran past its deadline")
        return left

    def _fetch(self, url: str) -> Iterator[bytes]:
        if url.startswith("file://"):
            return self._file(url)
        wait = min(SOCKET_TIMEOUT_SECONDS, self._left(url))
        try:
            response = self._pool.request(
                "GET", url, preload_content=False, timeout=urllib3.Timeout(connect=wait, read=wait)
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: no answer within {wait:.0f} s") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise tuf_errors.DownloadError(f"{url}: {exc}") from exc
        if response.status >= 400:
            response.close()
            raise tuf_errors.DownloadHTTPError(f"{url}: HTTP {response.status}", response.status)
        return self._stream(url, response)

    def _stream(self, url: str, response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        try:
            while chunk := response.read1(1 << 16):
                self._left(url)
                yield chunk
        except urllib3.exceptions.TimeoutError as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: silent for {SOCKET_TIMEOUT_SECONDS} s") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise tuf_errors.DownloadError(f"{url}: {exc}") from exc
        finally:
            response.release_conn()

    def _file(self, url: str) -> Iterator[bytes]:
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            # what the updater reads as "no newer root" (and a missing file anywhere else)
            raise tuf_errors.DownloadHTTPError(f"{url}: no such file", 404) from None
        except OSError as exc:
            raise tuf_errors.DownloadError(f"{url}: {exc.strerror}") from None
        return self._read(url, handle)

    def _read(self, url: str, handle: IO[bytes]) -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(1 << 16):
                self._left(url)
                yield chunk


def _anchor_cache(cache_dir: Path, root: bytes) -> None:
    """Discard a cache started from another root; remember this one."""
    digest = hashlib.sha256(root).hexdigest()
    marker = cache_dir / ANCHOR
    recorded = marker.read_text(encoding="ascii").strip() if marker.is_file() else None
    if recorded != digest:
        for folder in ("metadata", "targets"):
            shutil.rmtree(cache_dir / folder, ignore_errors=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(digest + "\n", encoding="ascii")


def _check_root(data: bytes, where: str) -> None:
    """The root we were told to trust is root metadata signed by its own keys, or a usage error (exit 2):
    otherwise a bad local file would read as the server's fault."""
    try:
        root = Metadata[Root].from_bytes(data)
        if not isinstance(root.signed, Root):
            raise ValueError(f"a {root.signed.type} role, not root")
        root.verify_delegate(Root.type, root)
    except (tuf_errors.RepositoryError, ValueError, TypeError) as exc:
        raise UsageError(
            f"{where}: not TUF root metadata signed by its own keys ({type(exc).__name__}: {_one_line(exc)}); "
            "pass the repository's metadata/1.root.json"
        ) from None


def _first_root(repo_url: str, fetcher: BoundedFetcher, config: UpdaterConfig) -> bytes:
    with fetcher.download_file(f"{repo_url}/metadata/1.root.json", config.root_max_length) as handle:
        data: bytes = handle.read()
    return data


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    cause = exc.__cause__ or exc.__context__
    if cause is not None and " ".join(str(cause).split()) not in text:
        text += f" ({' '.join(str(cause).split())})"
    return text[:500]


def check(
    repo_url: str,
    channel: str,
    cache_dir: Path,
    *,
    trusted_root: Path | bytes | None,
    trust_on_first_use: bool = False,
    target: str | None = None,
    current: str | None = None,
    deadline_seconds: float = DEADLINE_SECONDS,
) -> Update | None:
    """The newest release of `channel` for `target`, downloaded and verified; None if `current` is newest.

    `trusted_root`: the root metadata to start from (a root.json file or its bytes). None refuses,
    unless `trust_on_first_use` (the caller prints TOFU_WARNING).
    """
    try:
        check_channel(channel)
    except ReleaseError as exc:  # the caller's mistake (exit 2), before anything is fetched
        raise UsageError(f"--{exc}") from None
    repo_url = repo_url.rstrip("/")
    if not repo_url.startswith(("http://", "https://", "file://")):
        raise UsageError(f"--repo {repo_url}: expected an http(s):// or file:// URL")
    if current is not None:
        Version.parse(current)  # a bad --current is the caller's mistake (exit 2), not the server's
    if trusted_root is None and not trust_on_first_use:
        raise no_root_error()
    if isinstance(trusted_root, Path):
        root_file = trusted_root
        try:
            trusted_root = root_file.read_bytes()
        except OSError as exc:
            raise UsageError(f"--root {root_file}: {exc.strerror}; pass the repository's root.json") from None
        _check_root(trusted_root, str(root_file))
    elif trusted_root is not None:
        _check_root(trusted_root, "the trusted root")
    fetcher = BoundedFetcher(time.monotonic() + deadline_seconds)
    config = UpdaterConfig()
    try:
        root = trusted_root if trusted_root is not None else _first_root(repo_url, fetcher, config)
        _anchor_cache(cache_dir, root)
    except OSError as exc:  # before any download: the cache folder is the caller's
        raise UsageError(f"--cache {cache_dir}: {exc.strerror}; pass a folder this user can write") from None
    except tuf_errors.DownloadError as exc:
        raise UpdateError(f"{repo_url}: download failed: {type(exc).__name__}: {_one_line(exc)}") from exc
    try:
        return _check(repo_url, channel, cache_dir, root, fetcher, config, target or this_platform(), current)
    except tuf_errors.RepositoryError as exc:
        raise UpdateError(f"{repo_url}: refused by TUF verification: {type(exc).__name__}: {_one_line(exc)}") from exc
    except tuf_errors.DownloadError as exc:
        raise UpdateError(f"{repo_url}: download failed: {type(exc).__name__}: {_one_line(exc)}") from exc
    except VersionError as exc:  # a version in the signed index that is not one
        raise UpdateError(f"{repo_url}/{index_key(channel)}: {exc}") from exc
    except ReleaseError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # a signed index of another shape, a cache folder that cannot be written
        raise UpdateError(f"{repo_url}: {type(exc).__name__}: {_one_line(exc)}") from exc


def _check(
    repo_url: str,
    channel: str,
    cache_dir: Path,
    root: bytes,
    fetcher: BoundedFetcher,
    config: UpdaterConfig,
    target: str,
    current: str | None,
) -> Update | None:
    metadata_dir, targets_dir = cache_dir / "metadata", cache_dir / "targets"
    metadata_dir.mkdir(parents=True, exist_ok=True)
    targets_dir.mkdir(parents=True, exist_ok=True)
    updater = Updater(
        str(metadata_dir),
        f"{repo_url}/metadata/",
        str(targets_dir),
        f"{repo_url}/targets/",
        fetcher=fetcher,
        config=config,
        bootstrap=root,  # always the root we were given, never the cache's
    )
    updater.refresh()
    info = updater.get_targetinfo(index_key(channel))
    if info is None:
        raise UpdateError(f"{repo_url}: channel {channel} has no releases")
    index_file = str(targets_dir / f"{channel.replace('/', '-')}-index.json")
    index_path = updater.find_cached_target(info, index_file) or updater.download_target(info, index_file)
    where = f"{repo_url}/{index_key(channel)}"
    index = json.loads(Path(index_path).read_text(encoding="utf-8"))
    skipped = []
    for release in sorted(index["releases"], key=lambda r: Version.parse(r["version"]), reverse=True):
        download = release["downloads"].get(target)
        if release["yanked"] or download is None:
            why = f"yanked: {release['yanked_reason']}" if release["yanked"] else f"no {target} download"
            skipped.append(f"{release['version']} ({why})")
            continue
        if current is not None and Version.parse(release["version"]) <= Version.parse(current):
            return None
        target_path = check_relative(download["path"], source=where)
        artifact = updater.get_targetinfo(target_path)
        if artifact is None:
            raise UpdateError(f"{repo_url}: {target_path} is in the index but not in the signed metadata")
        file = str(targets_dir / check_name(target_path.rsplit("/", 1)[-1], source=where))
        path = updater.find_cached_target(artifact, file) or updater.download_target(artifact, file)
        return Update(channel, release["version"], target, Path(path), artifact.hashes["sha256"], tuple(skipped))
    return None


def default_cache(repo_url: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "opencode" / "updates" / hashlib.sha256(repo_url.encode()).hexdigest()[:16]
