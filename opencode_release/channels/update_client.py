"""The update client: what the CLI's opt-in auto-update runs, on `tuf.ngclient.Updater`.

It refreshes the TUF metadata (root rotation, timestamp, snapshot, the
channel's role and bins: rollback, freeze and mix-and-match are refused by
the updater), reads the channel's index as a verified target, picks the
newest release that is not yanked and has a download for this platform, and
downloads it through the updater, which checks its length and hash.
"""

from __future__ import annotations

import json
import os
import platform
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.ngclient import Updater

from ..core.fsio import check_name, check_relative
from ..core.versions import Version
from .channel_index import check_channel, index_key
from .storage import ChannelError


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


def _bootstrap_root(repo_url: str, metadata_dir: Path, trusted_root: Path | None) -> bytes | None:
    if (metadata_dir / "root.json").is_file():
        return None
    if trusted_root is not None:
        return trusted_root.read_bytes()
    # Trust on first use: the first root is fetched once, then only rotated by signed roots.
    url = f"{repo_url}/metadata/1.root.json"
    if not url.startswith(("http://", "https://", "file://")):
        raise ChannelError(f"--repo {repo_url}: expected an http(s):// or file:// URL")
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - scheme checked above
        data: bytes = response.read()
        return data


def check(
    repo_url: str,
    channel: str,
    cache_dir: Path,
    *,
    target: str | None = None,
    trusted_root: Path | None = None,
    current: str | None = None,
) -> Update | None:
    """The newest release of `channel` for `target`, downloaded and verified; None if `current` is newest."""
    check_channel(channel)
    repo_url = repo_url.rstrip("/")
    target = target or this_platform()
    metadata_dir, targets_dir = cache_dir / "metadata", cache_dir / "targets"
    metadata_dir.mkdir(parents=True, exist_ok=True)
    targets_dir.mkdir(parents=True, exist_ok=True)
    updater = Updater(
        str(metadata_dir),
        f"{repo_url}/metadata/",
        str(targets_dir),
        f"{repo_url}/targets/",
        bootstrap=_bootstrap_root(repo_url, metadata_dir, trusted_root),
    )
    updater.refresh()
    info = updater.get_targetinfo(index_key(channel))
    if info is None:
        raise ChannelError(f"{repo_url}: channel {channel} has no releases")
    index_file = str(targets_dir / f"{channel.replace('/', '-')}-index.json")
    index_path = updater.find_cached_target(info, index_file) or updater.download_target(info, index_file)
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
        where = f"{repo_url}/{index_key(channel)}"
        target_path = check_relative(download["path"], source=where)
        artifact = updater.get_targetinfo(target_path)
        if artifact is None:
            raise ChannelError(f"{repo_url}: {target_path} is in the index but not in the signed metadata")
        file = str(targets_dir / check_name(target_path.rsplit("/", 1)[-1], source=where))
        path = updater.find_cached_target(artifact, file) or updater.download_target(artifact, file)
        return Update(channel, release["version"], target, Path(path), artifact.hashes["sha256"], tuple(skipped))
    return None


def default_cache(repo_url: str) -> Path:
    import hashlib

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "opencode" / "updates" / hashlib.sha256(repo_url.encode()).hexdigest()[:16]
