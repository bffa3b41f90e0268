"""The configured channel repository: its storage, keys and publisher; what the nightly channel holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ..core.config import Settings
from ..core.versions import Version
from .channel_index import read_index
from .keys import Keyring
from .publisher import Repository, Retention
from .storage import Storage, open_storage


def keyring(settings: Settings, *, snapshot: bool) -> Keyring:
    """Snapshot releases: keys created on first use in the state folder. Real ones: configured keys only."""
    configured = settings.signing.keys_dir
    folder = settings.path(configured) / "tuf" if configured else settings.path(settings.state_dir) / "tuf-keys"
    return Keyring(folder, generate=snapshot and not configured)


def repository(
    settings: Settings, *, snapshot: bool, now: dt.datetime | None = None, on_step: Callable[[str], None] | None = None
) -> Repository:
    life = settings.lifecycle
    return Repository(
        channel_storage(settings),
        keyring(settings, snapshot=snapshot),
        settings.channels,
        product=settings.name,
        now=now,
        retention=Retention(life.nightly_keep, life.evidence_days),
        on_step=on_step,
    )


def nightly_published(settings: Settings, version: Version) -> bool:
    """True when this commit's nightly of this day is already in the channel: nothing new to do."""
    index = read_index(channel_storage(settings), "nightly")
    return any(Version.parse(v) == version and Version.parse(v).commit == version.commit for v in index.releases)


def channel_storage(settings: Settings) -> Storage:
    return open_storage(settings.channels.storage, settings.path(settings.channels.root), settings.channels.s3_endpoint)
