"""The two stages that join areas: preflight (source, release rules, keys) and publish (rules, channels).

Preflight's checks each raise with the rule they enforce; the release rules
come from lifecycle/, what was released from the channel repository.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import shutil
from collections.abc import Callable

from ..build import nuitka
from ..channels import channel_index
from ..channels.keys import role_key
from ..channels.repository import channel_storage, keyring, repository
from ..core.config import Settings
from ..core.errors import CheckFailed, ReleaseError, ToolMissingError, UsageError
from ..core.ledger import Ledger
from ..core.stage import Context, Stage
from ..core.versions import Version
from ..lifecycle import calendar, release_rules
from ..manifests.package_index import NOT_PACKAGED
from . import source


def released_on(settings: Settings, channel: str) -> dict[str, dt.date]:
    """What `channel` of the configured repository holds: version -> release date."""
    return channel_index.release_dates(channel_index.read_index(channel_storage(settings), channel))


def check_version(ctx: Context) -> None:
    version = Version.parse(ctx.ledger.version)
    if not ctx.snapshot and version.is_prerelease and not version.is_nightly:
        raise CheckFailed(f"version {version}: only nightlies may carry a pre-release tag")


def _named(files: tuple[str, ...]) -> str:
    return ", ".join(repr(f) if f != f.strip() or not f.isprintable() else f for f in files[:5]) + (
        f" and {len(files) - 5} more" if len(files) > 5 else ""
    )


def _packaged_ignored(ctx: Context, state: source.TreeState) -> tuple[str, ...]:
    """Ignored files inside the product's folder that its wheel, sdist or binary could take in."""
    top = source.repository_root(ctx.settings.project_dir)
    if top is None:
        return ()
    product = ctx.settings.project_dir.resolve()
    outputs = [
        ctx.settings.path(p) for p in (ctx.settings.dist_dir, ctx.settings.state_dir, ctx.settings.channels.root)
    ]
    found = []
    for name in state.ignored:
        path = (top / name).resolve()
        if not path.is_relative_to(product) or any(path.is_relative_to(out) for out in outputs):
            continue
        parts = path.relative_to(product).parts
        if not any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in NOT_PACKAGED):
            found.append(name)
    return tuple(found)


def check_clean_tree(ctx: Context) -> None:
    """A real release is built from the commit alone: no changed, untracked or ignored-but-packaged file."""
    if ctx.snapshot:
        return
    state = source.tree_state(ctx.settings.project_dir)
    problems = []
    if state.changed:
        problems.append(f"uncommitted changes ({_named(state.changed)})")
    if state.untracked:
        problems.append(f"untracked files ({_named(state.untracked)})")
    ignored = _packaged_ignored(ctx, state)
    if ignored:
        problems.append(f"ignored files the product would package ({_named(ignored)})")
    if problems:
        raise CheckFailed(
            f"the source tree has {'; '.join(problems)}: a real release is built from its commit alone; "
            "commit, remove or stash them, or cut a --snapshot"
        )


def check_tag_free(ctx: Context) -> None:
    if ctx.snapshot or Version.parse(ctx.ledger.version).is_nightly:
        return
    tag = f"v{ctx.ledger.version}"
    if source.tag_exists(ctx.settings.project_dir, tag) and not ctx.ledger.source.ref.endswith(tag):
        raise CheckFailed(f"tag {tag} already exists on another commit; versions are never reused")


def check_toolchain(ctx: Context) -> None:
    if not ctx.build_targets:
        return
    for tool in ("gcc",):
        if shutil.which(tool) is None:
            raise ToolMissingError(f"{tool} is not installed; run ./setup.sh")


def check_publish_keys(ctx: Context) -> None:
    """Real releases: the TUF keys the publish will sign with are there before anything is built.

    The root key is asked for only when the repository does not exist yet.
    """
    if ctx.snapshot:
        return
    version = Version.parse(ctx.ledger.version)
    roles = ["targets", role_key("nightly" if version.is_nightly else "stable"), "snapshot", "timestamp"]
    if channel_storage(ctx.settings).read("metadata/root.json") is None:
        roles.insert(0, "root")
    ring = keyring(ctx.settings, snapshot=False)
    for role in roles:
        ring.signer(role)


def with_releases(rule: Callable[[Context, release_rules.Released], None]) -> Callable[[Context], None]:
    """A release rule as a preflight check: what was released comes from the configured repository."""

    @functools.wraps(rule)
    def check(ctx: Context) -> None:
        rule(ctx, functools.partial(released_on, ctx.settings))

    return check


def check_entry_point(ctx: Context) -> None:
    """What the build compiles is there: a package with __main__.py, or a console script inside it."""
    if not ctx.build_targets:
        return
    problem = nuitka.entry_problem(ctx.settings.path(ctx.settings.package), ctx.settings.entry_point)
    if problem:
        raise CheckFailed(f"{ctx.settings.source_file}: {problem}")


CHECKS: list[Callable[[Context], None]] = [
    check_version,
    check_entry_point,
    release_rules.check_required_stages,  # --skip of a stage the channel's rules require
    check_clean_tree,
    check_tag_free,
    check_toolchain,
    # lifecycle policy (real releases): calendar order, LTS support, changelog, deprecations
    with_releases(release_rules.check_stable_follows_last),
    with_releases(release_rules.check_lts_patch),
    with_releases(release_rules.check_changelog),
    check_publish_keys,  # the TUF keys a routine publish signs with (root only for a new repository)
]


class PreflightStage(Stage):
    name = "preflight"
    description = "clean tree, tag free, version allowed, toolchain present"
    always_run = True
    checks_only = True
    gate = True  # nothing starts, not even early work, before it passes

    def run(self, ctx: Context) -> None:
        failed: list[ReleaseError] = []
        for check in CHECKS:
            try:
                check(ctx)
            except ReleaseError as exc:  # every failing rule, not only the first
                failed.append(exc)
        if len(failed) == 1:
            raise failed[0]
        if failed:
            error = CheckFailed(f"{len(failed)} preflight rules failed:\n" + "\n".join(f"  {e}" for e in failed))
            error.exit_code = max(e.exit_code for e in failed)
            raise error
        ctx.reporter.note(f"{len(CHECKS)} checks passed")


def channels_for(settings: Settings, ledger: Ledger, today: dt.date) -> list[str]:
    """A stable goes to `stable`, and the year's LTS stable also opens `lts/<line>`; an LTS patch
    goes to its line only; a nightly to `nightly`."""
    version = Version.parse(ledger.version)
    chosen = ledger.channel
    if version.is_snapshot or chosen == "snapshot":
        # A snapshot never reaches a channel people install from, and never opens an LTS line.
        if not version.is_snapshot or chosen != "snapshot":
            raise UsageError(
                f"channel {chosen}: {version}: only snapshot versions (X.Y.Z-snapshot.YYYYMMDD.N+g<sha>) "
                "publish, and only to the snapshot channel"
            )
        return ["snapshot"]
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
    stables = released_on(settings, "stable")
    stables.setdefault(str(version), today)
    line = calendar.lts_line(settings.lifecycle, today.year, stables)
    opens_lts = line is not None and line.line == version.line and version.patch == 0
    return ["stable", f"lts/{version.line}"] if opens_lts else ["stable"]


class PublishStage(Stage):
    name = "publish"
    description = "upload to the channel repository, then index, TUF targets, snapshot, timestamp"
    always_run = True  # idempotent: an identical release publishes nothing

    def run(self, ctx: Context) -> None:
        now = ctx.clock()
        repo = repository(ctx.settings, snapshot=ctx.snapshot, now=now)
        result = repo.publish(ctx.ledger, channels_for(ctx.settings, ctx.ledger, now.date()))
        ctx.reporter.note(
            f"{result.status}: {', '.join(result.channels)} ({result.written} files written"
            + (f", pruned {len(result.pruned)} nightlies" if result.pruned else "")
            + f") in {repo.storage.description}"
        )
