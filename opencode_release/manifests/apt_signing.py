"""Which key signs a product's apt repository, and re-signing a published suite's Release.

The same choice for the apt-repo stage and for the channel refresh (`publish --refresh`):
CI's armored key from $OPENCODE_RELEASE_APT_KEY, else the configured `apt.key-id` from the
user's keyring, else (snapshots only) the state folder's throwaway key. The refresh gives a
suite a new Date and Valid-Until and signs it again; the indexes it lists stay as they were.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..core.config import Settings
from . import apt_repo, gpg
from .common import maintainer_email

# The files of a suite a re-signing changes (everything else in dists/<suite>/ stays).
RESIGNED = ("Release", "InRelease", "Release.gpg")


@contextlib.contextmanager
def signer(settings: Settings, *, snapshot: bool, state_dir: Path) -> Iterator[gpg.Signer]:
    armored = os.environ.get(gpg.KEY_ENV, "")
    if armored:  # CI's publish job: the key is its environment's secret
        with gpg.environment_signer(armored, settings.apt.key_id) as chosen:
            yield chosen
    elif snapshot and not settings.apt.key_id:
        yield gpg.snapshot_signer(
            state_dir, f"{settings.name} snapshot archive key <{maintainer_email(settings.apt.maintainer)}>"
        )
    else:
        yield gpg.configured_signer(settings.apt.key_id, str(settings.source_file))


class Resigner:
    """Re-signs a suite's Release for the channel refresh, valid for `apt.valid-days` from then."""

    def __init__(self, settings: Settings, *, snapshot: bool, state_dir: Path) -> None:
        self.settings, self.snapshot, self.state_dir = settings, snapshot, state_dir
        self.lifetime = dt.timedelta(days=settings.apt.valid_days)

    def __call__(self, release: bytes, now: dt.datetime) -> dict[str, bytes]:
        """{Release, InRelease, Release.gpg}: `release` dated `now`, signed with the repository's key."""
        stamp = int(now.timestamp())
        text = apt_repo.revalidated(release, stamp, stamp + self.settings.apt.valid_days * 86400)
        with (
            tempfile.TemporaryDirectory(prefix="ocapt-") as folder,
            signer(self.settings, snapshot=self.snapshot, state_dir=self.state_dir) as chosen,
        ):
            path = Path(folder) / "Release"
            path.write_bytes(text)
            inrelease, detached = gpg.sign_release(chosen, path)
            return {"Release": text, "InRelease": inrelease.read_bytes(), "Release.gpg": detached.read_bytes()}
