"""Preflight: the checks a release must pass before anything is built.

Each check raises with the rule it enforces. Later areas add checks here
(calendar, changelog, signing identity) as small functions in CHECKS.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from ..errors import CheckFailed, ToolMissingError
from ..stage import Context, Stage
from ..versions import Version
from . import policy, publishing, source


def check_version(ctx: Context) -> None:
    version = Version.parse(ctx.ledger.version)
    if not ctx.snapshot and version.is_prerelease and not version.is_nightly:
        raise CheckFailed(f"version {version}: only nightlies may carry a pre-release tag")


def check_clean_tree(ctx: Context) -> None:
    if ctx.snapshot:
        return
    dirty = source.dirty_files(ctx.settings.project_dir)
    if dirty:
        raise CheckFailed(
            f"the source tree has uncommitted changes ({', '.join(dirty[:5])}); commit or stash them, "
            "or cut a --snapshot"
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


CHECKS: list[Callable[[Context], None]] = [
    check_version,
    check_clean_tree,
    check_tag_free,
    check_toolchain,
    # lifecycle policy (real releases): calendar order, LTS support, changelog, deprecations
    policy.check_stable_follows_last,
    policy.check_lts_patch,
    policy.check_changelog,
    publishing.check_publish_keys,  # the TUF keys a routine publish signs with (root only for a new repository)
]


class PreflightStage(Stage):
    name = "preflight"
    description = "clean tree, tag free, version allowed, toolchain present"
    always_run = True

    def run(self, ctx: Context) -> None:
        for check in CHECKS:
            check(ctx)
        ctx.reporter.note(f"{len(CHECKS)} checks passed")
