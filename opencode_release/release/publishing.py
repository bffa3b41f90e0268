"""Which channels a release goes to, the publish stage, and the nightly's version.

The channels area knows how to publish; this module knows the policy: a
stable goes to `stable`, and the year's LTS stable also opens `lts/<line>`;
an LTS patch goes to its line only; a nightly to `nightly`, with retention.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ..artifacts import Ledger
from ..channels import index as channel_index
from ..channels.keys import Keyring, role_key
from ..channels.publisher import Repository, Retention
from ..config import Settings
from ..errors import UsageError
from ..stage import Context, Stage
from ..versions import Version
from . import lifecycle, policy


def channels_for(settings: Settings, ledger: Ledger, today: dt.date) -> list[str]:
    version = Version.parse(ledger.version)
    chosen = ledger.channel
    if version.is_nightly or chosen == "nightly":
        if not version.is_nightly:
            raise UsageError(f"channel nightly: {version} is not a nightly version (X.Y.Z-nightly.YYYYMMDD+g<sha>)")
        return ["nightly"]
    if chosen == "lts":
        return [f"lts/{version.line}"]
    if chosen.startswith("lts/"):
        return [channel_index.check_channel(chosen)]
    if chosen != "stable":
        raise UsageError(f"channel {chosen!r}: expected stable, lts, lts/<major.minor> or nightly")
    stables = channel_index.release_dates(channel_index.read_index(policy.channel_storage(settings), "stable"))
    stables.setdefault(str(version), today)
    line = lifecycle.lts_line(settings.lifecycle, today.year, stables)
    opens_lts = line is not None and line.line == version.line and version.patch == 0
    return ["stable", f"lts/{version.line}"] if opens_lts else ["stable"]


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
        policy.channel_storage(settings),
        keyring(settings, snapshot=snapshot),
        settings.channels,
        product=settings.name,
        now=now,
        retention=Retention(life.nightly_keep, life.evidence_days),
        on_step=on_step,
    )


def nightly_version(settings: Settings, commit: str, day: dt.date) -> Version:
    """HEAD's nightly: the next patch of the product's version, dated, with the commit."""
    return Version.nightly(Version.parse(settings.version), day.strftime("%Y%m%d"), commit)


def nightly_published(settings: Settings, version: Version) -> bool:
    """True when this commit's nightly of this day is already in the channel: nothing new to do."""
    index = channel_index.read_index(policy.channel_storage(settings), "nightly")
    return any(Version.parse(v) == version and Version.parse(v).commit == version.commit for v in index.releases)


def check_publish_keys(ctx: Context) -> None:
    """Real releases: the TUF keys the publish will sign with are there before anything is built.

    The root key is asked for only when the repository does not exist yet.
    """
    if ctx.snapshot:
        return
    version = Version.parse(ctx.ledger.version)
    roles = ["targets", role_key("nightly" if version.is_nightly else "stable"), "snapshot", "timestamp"]
    if policy.channel_storage(ctx.settings).read("metadata/root.json") is None:
        roles.insert(0, "root")
    ring = keyring(ctx.settings, snapshot=False)
    for role in roles:
        ring.signer(role)


class PublishStage(Stage):
    name = "publish"
    description = "upload to the channel repository, then index, TUF targets, snapshot, timestamp"
    always_run = True  # idempotent: an identical release publishes nothing

    def run(self, ctx: Context) -> None:
        channels = channels_for(ctx.settings, ctx.ledger, policy.today(ctx))
        repo = repository(ctx.settings, snapshot=ctx.snapshot, now=ctx.option("publish.now"))
        result = repo.publish(ctx.ledger, channels)
        ctx.reporter.note(
            f"{result.status}: {', '.join(result.channels)} ({result.written} files written"
            + (f", pruned {len(result.pruned)} nightlies" if result.pruned else "")
            + f") in {repo.storage.description}"
        )
