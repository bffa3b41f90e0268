"""The GitHub Actions workflows, generated from the targets table and the settings.

Shape (release on a version tag, nightly on a schedule; the same jobs):

    plan -> build-<target> (one per compiled target) -> merge -> attest -> publish

- Least privilege: `permissions: {}` at the top, each job grants only what it uses.
- The attest job holds `id-token: write` and runs none of the project's code:
  no checkout, only the merged files, checked against the digests the merge
  job published as an output, then pinned signing actions (docs/slsa.md).
- No `${{ }}` expression inside a `run:` script: values reach scripts through
  `env:`, so no workflow input can become shell syntax.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import Settings
from ..core.formats import dump_yaml
from . import ci_pins, targets

CHECKOUT = ci_pins.uses("actions/checkout")
SETUP_PYTHON = ci_pins.uses("actions/setup-python")
UPLOAD = ci_pins.uses("actions/upload-artifact")
DOWNLOAD = ci_pins.uses("actions/download-artifact")
ATTEST = ci_pins.uses("actions/attest-build-provenance")
SIGSTORE = ci_pins.uses("sigstore/gh-action-sigstore-python")
HOST_RUNNER = "ubuntu-24.04"
PYTHON = "3.11"
NIGHTLY_CRON = "17 3 * * *"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are, relative to the repository root (the workflows' working directory)."""

    project: str  # the folder with the product's pyproject.toml
    dist: str  # the dist folder; releases land in <dist>/<version>

    @classmethod
    def of(cls, settings: Settings, repo_root: Path) -> Layout:
        def rel(path: Path) -> str:
            return Path(os.path.relpath(path, repo_root.resolve())).as_posix()

        return cls(project=rel(settings.project_dir), dist=rel(settings.path(settings.dist_dir)))


# -- a small YAML writer: block style, JSON-quoted scalars where plain is unsafe --
# -- the jobs -----------------------------------------------------------------------
def _run(name: str, script: str, env: Mapping[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"name": name, **extra}
    if env:
        step["env"] = dict(env)
    step["run"] = script if script.endswith("\n") or "\n" not in script else script + "\n"
    return step


def _checkout() -> dict[str, Any]:
    # The build never pushes: no token left in .git/config for later steps to find.
    return {"uses": CHECKOUT, "with": {"persist-credentials": False}}


def _setup_host() -> list[dict[str, Any]]:
    return [
        _checkout(),
        {"uses": SETUP_PYTHON, "with": {"python-version": PYTHON}},
        _run("install (setup.sh: Debian packages, .venv, npm)", "./setup.sh"),
    ]


_VERSION_ENV = {"VERSION": "${{ needs.plan.outputs.version }}"}
_DIST_UPLOAD = "{dist}/\n!{dist}/*/.work/\n"


def _plan(layout: Layout, channel: str) -> dict[str, Any]:
    return {
        "runs-on": HOST_RUNNER,
        "permissions": {"contents": "read"},
        "outputs": {"version": "${{ steps.plan.outputs.version }}"},
        "steps": [
            *_setup_host(),
            _run(
                "plan: the version and the targets this run builds",
                f'.venv/bin/invoke ci --plan --project {layout.project} --channel {channel} --ref "$GITHUB_REF_NAME" '
                '--plan-file plan.json --github-output "$GITHUB_OUTPUT"',
                id="plan",
            ),
            {"uses": UPLOAD, "with": {"name": "plan", "path": "plan.json"}},
        ],
    }


def _build(target: targets.Target, layout: Layout) -> dict[str, Any]:
    invoke_build = f'invoke build --project {layout.project} --target {target.name} --version "$VERSION" --json'
    steps: list[dict[str, Any]] = [_checkout()]
    if target.container:
        # docker run, not `container:`: JavaScript actions (checkout, upload) cannot
        # run inside an Alpine image on arm64, so they stay on the runner.
        inner = " && ".join(
            [
                *target.prepare,
                f"{target.python_exe} -m venv /tmp/venv",
                "/tmp/venv/bin/python -m pip install -q -e . -e ./" + layout.project,
                f"/tmp/venv/bin/{invoke_build}",
            ]
        )
        image = ci_pins.image(target.container)
        script = f"docker run --rm -e VERSION -v \"$PWD:/src\" -w /src {image} sh -euc '{inner}'"
        steps.append(_run(f"build {target.name} in {target.container}", script, _VERSION_ENV))
    else:
        scripts = "Scripts" if target.os == "windows" else "bin"
        steps.append(
            {"uses": SETUP_PYTHON, "with": {"python-version": PYTHON, "architecture": target.setup_python_arch}}
        )
        steps.append(
            _run(
                "install",
                f"python -m venv .venv\n.venv/{scripts}/python -m pip install -q -e . -e ./{layout.project}\n",
            )
        )
        steps.append(_run(f"build {target.name}", f".venv/{scripts}/{invoke_build}", _VERSION_ENV))
    steps.append(
        {
            "uses": UPLOAD,
            "with": {
                "name": f"partial-{target.name}",
                "path": _DIST_UPLOAD.format(dist=layout.dist),
                "if-no-files-found": "error",
            },
        }
    )
    return {
        "needs": "plan",
        "runs-on": target.runner,
        "permissions": {"contents": "read"},
        "timeout-minutes": 60,
        "steps": steps,
    }


def _merge(layout: Layout, builds: Sequence[str]) -> dict[str, Any]:
    return {
        "needs": ["plan", *builds],
        "runs-on": HOST_RUNNER,
        "permissions": {"contents": "read"},
        "outputs": {"subjects": "${{ steps.digests.outputs.subjects }}"},
        "steps": [
            *_setup_host(),
            {"uses": DOWNLOAD, "with": {"pattern": "partial-*", "path": "partials"}},
            _run(
                "merge the partial ledgers; universal binary, inspect, package, manifests, checksums",
                f'.venv/bin/invoke collect --project {layout.project} --from partials --version "$VERSION" --json',
                _VERSION_ENV,
            ),
            _run(
                "publish the digests of every uploadable file for the attest job",
                f'.venv/bin/invoke ci --subjects --project {layout.project} --version "$VERSION" > subjects.sha256\n'
                'echo "subjects=$(base64 -w0 subjects.sha256)" >> "$GITHUB_OUTPUT"\n',
                _VERSION_ENV,
                id="digests",
            ),
            {
                "uses": UPLOAD,
                "with": {
                    "name": "release",
                    "path": _DIST_UPLOAD.format(dist=layout.dist),
                    "if-no-files-found": "error",
                },
            },
        ],
    }


def _attest() -> dict[str, Any]:
    subjects_env = {"SUBJECTS": "${{ needs.merge.outputs.subjects }}", **_VERSION_ENV}
    # Every uploadable file is signed; the deliverables (SHA256SUMS) get the provenance.
    check = (
        "printf '%s' \"$SUBJECTS\" | base64 -d > subjects.sha256\n"
        'cd "release/$VERSION"\n'
        "sha256sum --strict --check ../../subjects.sha256\n"
        'deliverables="$(awk -v d="release/$VERSION" \'{printf "%s/%s,", d, $2}\' SHA256SUMS)"\n'
        'echo "deliverables=${deliverables%,}" >> "$GITHUB_OUTPUT"\n'
        'echo "files=$(awk -v d="release/$VERSION" \'{printf "%s/%s ", d, $2}\' ../../subjects.sha256)" '
        '>> "$GITHUB_OUTPUT"\n'
    )
    keep = (
        "mkdir -p signed\n"
        'cp "$BUNDLE" signed/provenance.sigstore.json\n'
        'cd "release/$VERSION"\n'
        "find . -name '*.sigstore.json' -exec cp --parents {} ../../signed/ \\;\n"
    )
    return {
        "needs": ["plan", "merge"],
        "runs-on": HOST_RUNNER,
        # The only job that can mint an OIDC token: it checks out nothing and
        # runs no project code (docs/slsa.md).
        "permissions": {"id-token": "write", "attestations": "write"},
        "steps": [
            {"uses": DOWNLOAD, "with": {"name": "release", "path": "release"}},
            _run("check the files against the merge job's digests", check, subjects_env, id="subjects"),
            {
                "uses": ATTEST,
                "id": "provenance",
                "with": {"subject-path": "${{ steps.subjects.outputs.deliverables }}"},
            },
            {
                "uses": SIGSTORE,
                "with": {"inputs": "${{ steps.subjects.outputs.files }}", "upload-signing-artifacts": False},
            },
            _run(
                "gather the bundles, in the release folder's layout",
                keep,
                {"BUNDLE": "${{ steps.provenance.outputs.bundle-path }}", **_VERSION_ENV},
            ),
            {"uses": UPLOAD, "with": {"name": "signed", "path": "signed/", "if-no-files-found": "error"}},
        ],
    }


def _publish(layout: Layout, channel: str) -> dict[str, Any]:
    return {
        "needs": ["plan", "attest"],
        "runs-on": HOST_RUNNER,
        "environment": channel,
        "permissions": {"contents": "write"},
        "steps": [
            *_setup_host(),
            {"uses": DOWNLOAD, "with": {"name": "release", "path": layout.dist}},
            {"uses": DOWNLOAD, "with": {"name": "signed", "path": "signed"}},
            _run(
                "record the signatures, verify, publish",
                f".venv/bin/invoke collect --project {layout.project} --from signed --phase publish "
                f'--version "$VERSION" --channel {channel} --json',
                _VERSION_ENV,
            ),
        ],
    }


def workflow(settings: Settings, layout: Layout, channel: str) -> dict[str, Any]:
    compiled = [targets.get(t) for t in settings.targets if targets.get(t).built_natively]
    trigger: dict[str, Any] = (
        {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
        if channel != "nightly"
        else {"schedule": [{"cron": NIGHTLY_CRON}], "workflow_dispatch": {}}
    )
    jobs: dict[str, Any] = {"plan": _plan(layout, channel)}
    for target in compiled:
        jobs[f"build-{target.name}"] = _build(target, layout)
    jobs["merge"] = _merge(layout, [f"build-{t.name}" for t in compiled])
    jobs["attest"] = _attest()
    jobs["publish"] = _publish(layout, channel)
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
FILES = {".github/workflows/release.yml": "stable", ".github/workflows/nightly.yml": "nightly"}


def render(settings: Settings, repo_root: Path) -> dict[str, str]:
    """Relative path -> text of every generated workflow."""
    layout = Layout.of(settings, repo_root)
    source = Path(os.path.relpath(settings.source_file, repo_root.resolve())).as_posix()
    return {
        path: _with_versions(dump_yaml(workflow(settings, layout, channel), HEADER.format(source=source).splitlines()))
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
