"""The GitHub Actions workflows, generated from the targets table and the settings.

    release.yml (tag v*)     plan -> build (build.yml) -> publish (environment stable)
    nightly.yml (schedule)   plan -> build (build.yml) -> publish (environment nightly); refresh
    build.yml (reusable)     build-<target> per compiled target -> merge -> attest

The reusable build.yml builds, merges and attests: its identity (`build.yml@<ref>`, the
certificate's Build Signer URI) signs the provenance, and the verifier pins it apart from the
calling workflow (docs/slsa.md). Only its attest job may mint an OIDC token; it runs no project
code. Publishing secrets live in the publish job's environment and nowhere else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.config import Settings
from ..core.formats import dump_yaml
from . import ci_images, ci_pins, targets
from .ci_attest import attest
from .ci_jobs import CALLER_VERSION_ENV, HOST_RUNNER, PYTHON, Layout, build, download, merge, plan, run, setup
from .ci_procurement import (
    DISPATCH_INPUTS,
    DISPATCHED_QUARTER,
    PACKET_TUF_ROLES,
    QUARTERLY_CRON,
    procurement_job,
    procurement_publish_job,
    procurement_sign_job,
)

__all__ = [
    "FILES",
    "HOST_RUNNER",
    "NIGHTLY_CRON",
    "PYTHON",
    "QUARTERLY_CRON",
    "REFRESH_CRON",
    "TUF_ROLES",
    "Layout",
    "render",
    "stale",
    "tuf_secret_names",
    "unpinned",
    "workflow",
]

NIGHTLY_CRON = "17 3 * * *"
REFRESH_CRON = "41 4 * * *"
BUILD_WORKFLOW = ".github/workflows/build.yml"
# Environment-scoped secrets of the publish job: TUF role keys, the apt repository's key, the object
# store's credentials. GitHub hands each environment its own values. No in-toto key: CI makes no
# in-toto links (docs/slsa.md says why), and a secret nothing reads is only an exposure.
# The root key is read only while the store holds no root.json yet (channels/tuf_repo.py
# ensure_root), and a new root names the targets key too: the first release of a channel
# repository. Remove the root secret once the repository exists (and, from nightly's
# environment, the targets one).
_TUF_ROLES = {
    "stable": ("root", "release", "targets", "snapshot", "timestamp"),
    "nightly": ("root", "nightly", "targets", "snapshot", "timestamp"),
}
# every TUF role key a publish or refresh job may hold (never more)
TUF_ROLES = ("root", "targets", "release", "nightly", "snapshot", "timestamp")
_STORE_SECRETS = {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY"}


def tuf_secret_names(channel: str) -> list[str]:
    """The secrets holding the TUF role keys the publish job of `channel` signs with."""
    return [f"TUF_{r.upper()}_KEY" for r in _TUF_ROLES["nightly" if channel == "nightly" else "stable"]]


def _role_keys_env(roles: Sequence[str]) -> dict[str, str]:
    """The TUF keys of `roles` as channels/keys.py reads them, from the environment's secrets."""
    return {f"OPENCODE_RELEASE_TUF_{r.upper()}_KEY": f"${{{{ secrets.TUF_{r.upper()}_KEY }}}}" for r in roles}


def _store_env() -> dict[str, str]:
    return {name: f"${{{{ secrets.{secret} }}}}" for name, secret in _STORE_SECRETS.items()}


def _secrets_env(channel: str) -> dict[str, str]:
    env = _role_keys_env(_TUF_ROLES["nightly" if channel == "nightly" else "stable"])
    env["OPENCODE_RELEASE_APT_KEY"] = "${{ secrets.APT_SIGNING_KEY }}"
    return {**env, **_store_env()}


def _publish(settings: Settings, layout: Layout, channel: str) -> dict[str, Any]:
    images = ci_images.publish_env(settings)
    steps = [
        *setup(layout),
        download(layout.dist, name="release"),
        download("attested", name="attested"),
        run(
            "record the attestations, verify, sign the channel's indexes, publish to the store",
            f"opencode-release collect --project {layout.project} --from attested --phase publish "
            f'--version "$VERSION" --channel {channel} --instance production --store {settings.ci_channel_store()} '
            "--json" + ci_images.publish_flag(settings),
            {**CALLER_VERSION_ENV, **_secrets_env(channel), **images},
        ),
    ]
    if channel != "nightly":
        steps.append(
            run(
                "the deliverables and their evidence as the tag's GitHub Release",
                f'cd "{layout.dist}/$VERSION"\n'
                # the folder as it verified too (collect's verified-folder stage): the quarterly packet
                # (ci_procurement.py) is made from it
                'gh release create "v$VERSION" --verify-tag --title "v$VERSION" --notes "Checksums: SHA256SUMS" '
                "SHA256SUMS $(awk '{print $2}' SHA256SUMS) provenance.intoto.json provenance.intoto.json.sigstore.json "
                'release.intoto.json release.intoto.json.sigstore.json "../release-folder-$VERSION.tar.gz"\n',
                {**CALLER_VERSION_ENV, "GH_TOKEN": "${{ github.token }}"},
            )
        )
    return {
        "needs": ["plan", "build"],
        "runs-on": HOST_RUNNER,
        "environment": channel,
        "permissions": {
            "contents": "write" if channel != "nightly" else "read",
            **({"packages": "write"} if "github.token" in str(images) else {}),
        },
        "steps": steps,
    }


def _refresh(settings: Settings, layout: Layout) -> dict[str, Any]:
    """Re-sign what is past half its lifetime in the store, even when nothing ships: snapshot and timestamp,
    any quiet role or hash bin (so the keys of the roles too; never the root key), and each channel's apt
    Release (a new Valid-Until, so the apt key)."""
    roles = ("targets", "release", "nightly", "snapshot", "timestamp")
    return {
        "if": "github.event.schedule == '" + REFRESH_CRON + "'",
        "runs-on": HOST_RUNNER,
        "environment": "refresh",
        "permissions": {"contents": "read"},
        "steps": [
            *setup(layout),
            run(
                "publish --refresh",
                f"opencode-release publish --project {layout.project} --refresh --store "
                f"{settings.ci_channel_store()} --json",
                {**_role_keys_env(roles), "OPENCODE_RELEASE_APT_KEY": "${{ secrets.APT_SIGNING_KEY }}", **_store_env()},
            ),
        ],
    }


def build_workflow(settings: Settings, layout: Layout) -> dict[str, Any]:
    compiled = [targets.get(t) for t in settings.targets if targets.get(t).built_natively]
    jobs: dict[str, Any] = {f"build-{t.name}": build(t, layout) for t in compiled}
    for t in compiled:  # the C library an image carries, from its target's own runner, before the upload
        steps = jobs[f"build-{t.name}"]["steps"]
        steps[-1:-1] = ci_images.build_steps(settings, t.name, layout)
    jobs["merge"] = merge(layout, list(jobs))
    jobs["attest"] = attest()
    inputs = {"version": {"type": "string", "required": True}, "channel": {"type": "string", "required": True}}
    return {
        "name": "build",
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {},
        "jobs": jobs,
        "defaults": {"run": {"shell": "bash"}},
    }


def workflow(settings: Settings, layout: Layout, channel: str) -> dict[str, Any]:
    if channel == "nightly":
        trigger: dict[str, Any] = {
            "schedule": [{"cron": NIGHTLY_CRON}, {"cron": REFRESH_CRON}, {"cron": QUARTERLY_CRON}],
            "workflow_dispatch": {"inputs": DISPATCH_INPUTS},
        }
    else:
        trigger = {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    # The refresh and quarterly schedules, and a dispatch naming a quarter, run only their own jobs.
    others = (
        f"github.event.schedule != '{REFRESH_CRON}' && github.event.schedule != '{QUARTERLY_CRON}' "
        f"&& !{DISPATCHED_QUARTER}"
    )
    nightly_only = {"if": others} if channel == "nightly" else {}
    jobs: dict[str, Any] = {
        "plan": {**nightly_only, **plan(layout, channel)},
        "build": {
            "needs": "plan",
            # what build.yml's jobs may use at most; only its attest job asks for id-token
            "permissions": {"contents": "read", "id-token": "write", "attestations": "write"},
            "uses": f"./{BUILD_WORKFLOW}",
            "with": {"version": "${{ needs.plan.outputs.version }}", "channel": channel},
        },
        "publish": _publish(settings, layout, channel),
    }
    if channel == "nightly":
        jobs["refresh"] = _refresh(settings, layout)
        jobs["procurement"] = procurement_job(layout, settings.ci_channel_store())
        jobs["procurement-sign"] = procurement_sign_job()
        packet_env = {**_role_keys_env(PACKET_TUF_ROLES), **_store_env()}
        jobs["procurement-publish"] = procurement_publish_job(layout, settings.ci_channel_store(), packet_env)
    return {
        "name": f"{channel} release" if channel == "nightly" else "release",
        "on": trigger,
        "permissions": {},
        "concurrency": {"group": f"{channel}-${{{{ github.ref }}}}", "cancel-in-progress": False},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }


HEADER = (
    "Generated by `invoke ci --write` from {source}; do not edit.\n"
    "`invoke ci --check` (part of `invoke test`) fails when this file is stale."
)
FILES = {".github/workflows/release.yml": "stable", ".github/workflows/nightly.yml": "nightly", BUILD_WORKFLOW: ""}


def render(settings: Settings, repo_root: Path) -> dict[str, str]:
    """Relative path -> text of every generated workflow."""
    layout = Layout.of(settings, repo_root)
    source = Path(os.path.relpath(settings.source_file, repo_root.resolve())).as_posix()
    header = HEADER.format(source=source).splitlines()
    return {
        path: _with_versions(
            dump_yaml(workflow(settings, layout, channel) if channel else build_workflow(settings, layout), header)
        )
        for path, channel in FILES.items()
    }


_USES = re.compile(r"^(\s*(?:- )?uses: )([\"']?)([^\"'\s]+)\2$", re.M)


def _with_versions(text: str) -> str:
    """`uses: owner/name@<commit>` gets its version in a comment (what a reviewer reads)."""

    def note(match: re.Match[str]) -> str:
        version = ci_pins.version_of(match.group(3))
        return match.group(0) + (f" # {version}" if version else "")

    return _USES.sub(note, text)


def stale(settings: Settings, repo_root: Path) -> list[str]:
    """The generated files that are missing or differ from what would be generated."""
    return [
        path
        for path, text in render(settings, repo_root).items()
        if not (repo_root / path).is_file() or (repo_root / path).read_text(encoding="utf-8") != text
    ]


def unpinned(repo_root: Path) -> list[str]:
    """Every `uses:` in the repository's workflows (generated or not) that is not pinned to a commit."""
    import yaml

    found: list[str] = []
    for path in sorted((repo_root / ".github" / "workflows").glob("*.y*ml")):
        relative = path.relative_to(repo_root).as_posix()
        found += ci_pins.unpinned_uses(relative, yaml.safe_load(path.read_text(encoding="utf-8")))
    return found
