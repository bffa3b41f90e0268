"""The jobs of the generated workflows (ci_workflow.py puts them together).

- Least privilege: each job grants only what it uses; the jobs that run this project's code or
  anything `pip` installs never hold `id-token: write` or a publishing secret.
- No `${{ }}` expression inside a `run:` script: values reach scripts through `env:`, so no
  workflow input can become shell syntax.
- Tools by exact version: uv (ci_pins.UV), and opencode-release itself from the package index at
  this package's version when the product lives in another repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.config import Settings
from . import ci_pins, targets

HOST_RUNNER = "ubuntu-24.04"
PYTHON = "3.11"
VERSION_ENV = {"VERSION": "${{ inputs.version }}"}
CALLER_VERSION_ENV = {"VERSION": "${{ needs.plan.outputs.version }}"}
# The files a build job hands on: the release folder, without the stages' scratch space.
DIST_UPLOAD = "{dist}/\n!{dist}/*/.work/\n"
# Nuitka's cache, the C compiler's and uv's (downloaded and built wheels: Nuitka comes as an sdist, built
# anew by every cold job), inside the checkout so the container writes them where actions/cache on the
# runner saves them.
CACHE_PATHS = ".cache/nuitka\n.cache/ccache\n.cache/uv\n"
UV_CACHE = {"UV_CACHE_DIR": "${{ github.workspace }}/.cache/uv"}
CACHED_IN_CONTAINER = (("NUITKA_CACHE_DIR", "nuitka"), ("CCACHE_DIR", "ccache"), ("UV_CACHE_DIR", "uv"))


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are, relative to the repository root (the workflows' working directory)."""

    project: str  # the folder with the product's pyproject.toml
    dist: str  # the dist folder; releases land in <dist>/<version>
    self_hosting: bool  # the repository is opencode-release's own: install it from the checkout

    @classmethod
    def of(cls, settings: Settings, repo_root: Path) -> Layout:
        def rel(path: Path) -> str:
            return Path(os.path.relpath(path, repo_root.resolve())).as_posix()

        return cls(
            project=rel(settings.project_dir),
            dist=rel(settings.path(settings.dist_dir)),
            self_hosting=_is_ours(repo_root),
        )

    @property
    def packages(self) -> str:
        """What `uv pip install` gets: this tool (from the checkout or the index) and the product."""
        tool = "-e ." if self.self_hosting else f"opencode-release=={__version__}"
        return f"{tool} -e ./{self.project}" if self.project != "." else f"{tool} -e ."


def _is_ours(repo_root: Path) -> bool:
    """The repository is opencode-release's own (its pyproject names the project)."""
    import tomllib

    pyproject = repo_root / "pyproject.toml"
    if not pyproject.is_file():
        return False
    return bool(
        tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name") == "opencode-release"
    )


def run(name: str, script: str, env: Mapping[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"name": name, **extra}
    if env:
        step["env"] = dict(env)
    step["run"] = script if script.endswith("\n") or "\n" not in script else script + "\n"
    return step


def checkout() -> dict[str, Any]:
    # Nothing pushes: no token left in .git/config for later steps to find.
    return {"uses": ci_pins.uses("actions/checkout"), "with": {"persist-credentials": False}}


def install(layout: Layout, cached: bool = False) -> dict[str, Any]:
    """A virtual environment with the exact uv, then opencode-release and the product; on PATH.
    `cached`: uv's cache in the checkout, which a build job's actions/cache restores and saves."""
    return run(
        "install opencode-release",
        "python -m venv .venv\n"
        'scripts="$PWD/.venv/bin"; if [ -d .venv/Scripts ]; then scripts="$PWD/.venv/Scripts"; fi\n'
        f'"$scripts/python" -m pip install -q uv=={ci_pins.UV}\n'
        f'"$scripts/uv" pip install -q --python "$scripts/python" {layout.packages}\n'
        'echo "$scripts" >> "$GITHUB_PATH"\n',
        UV_CACHE if cached else None,
    )


def setup(layout: Layout, architecture: str | None = None, cached: bool = False) -> list[dict[str, Any]]:
    python: dict[str, Any] = {"python-version": PYTHON}
    if architecture:
        python["architecture"] = architecture
    return [checkout(), {"uses": ci_pins.uses("actions/setup-python"), "with": python}, install(layout, cached)]


def upload(name: str, path: str) -> dict[str, Any]:
    return {
        "uses": ci_pins.uses("actions/upload-artifact"),
        "with": {"name": name, "path": path, "if-no-files-found": "error"},
    }


def download(path: str, name: str | None = None, pattern: str | None = None) -> dict[str, Any]:
    given = {"name": name} if name else {"pattern": pattern}
    return {"uses": ci_pins.uses("actions/download-artifact"), "with": {**given, "path": path}}


def plan(layout: Layout, channel: str) -> dict[str, Any]:
    return {
        "runs-on": HOST_RUNNER,
        "permissions": {"contents": "read"},
        "outputs": {"version": "${{ steps.plan.outputs.version }}"},
        "steps": [
            *setup(layout),
            run(
                "plan: the version and the targets this run builds",
                f'opencode-release ci --plan --project {layout.project} --channel {channel} --ref "$GITHUB_REF_NAME" '
                '--plan-file plan.json --github-output "$GITHUB_OUTPUT"',
                id="plan",
            ),
        ],
    }


def _cache(target: targets.Target, layout: Layout) -> dict[str, Any]:
    # Keyed by target, toolchain (Python, image, Nuitka pin) and the dependency lock (the pyprojects).
    toolchain = f"py{PYTHON}-{ci_pins.IMAGES[target.container][7:19] if target.container else target.runner}"
    locks = f"'pyproject.toml', '{layout.project}/pyproject.toml'" if layout.self_hosting else "'pyproject.toml'"
    return {
        "uses": ci_pins.uses("actions/cache"),
        "with": {"path": CACHE_PATHS, "key": f"nuitka-{target.name}-{toolchain}-${{{{ hashFiles({locks}) }}}}"},
    }


def build(target: targets.Target, layout: Layout) -> dict[str, Any]:
    command = f'opencode-release build --project {layout.project} --target {target.name} --version "$VERSION" --json'
    steps: list[dict[str, Any]] = [checkout(), _cache(target, layout)]
    if target.container:
        # docker run, not `container:`: JavaScript actions (checkout, upload) cannot run inside
        # an Alpine image on arm64, so they stay on the runner. The checkout belongs to the
        # runner's user, not to the container's root: git refuses such a repository ("dubious
        # ownership") unless told it is safe, and the ledger needs its commit.
        inner = " && ".join(
            [
                'git config --global --add safe.directory "$PWD"',
                *target.prepare,
                f"{target.python_exe} -m venv /tmp/venv",
                f"/tmp/venv/bin/python -m pip install -q uv=={ci_pins.UV}",
                f"/tmp/venv/bin/uv pip install -q --python /tmp/venv/bin/python {layout.packages}",
                f"/tmp/venv/bin/{command}",
            ]
        )
        caches = " ".join(f'-e {name}="$PWD/.cache/{folder}"' for name, folder in CACHED_IN_CONTAINER)
        image = ci_pins.image(target.container)
        script = f'docker run --rm -e VERSION {caches} -v "$PWD:$PWD" -w "$PWD" {image} sh -euc \'{inner}\''
        steps.append(run(f"build {target.name} in {target.container}", script, VERSION_ENV))
    else:
        steps += setup(layout, target.setup_python_arch, cached=True)[1:]
        cache_env = {"NUITKA_CACHE_DIR": "${{ github.workspace }}/.cache/nuitka"}
        steps.append(run(f"build {target.name}", command, {**VERSION_ENV, **cache_env}))
    steps.append(upload(f"partial-{target.name}", DIST_UPLOAD.format(dist=layout.dist)))
    return {
        "runs-on": target.runner,
        "permissions": {"contents": "read"},
        "timeout-minutes": 60,
        "steps": steps,
    }


def merge(layout: Layout, builds: list[str]) -> dict[str, Any]:
    return {
        "needs": builds,
        "runs-on": HOST_RUNNER,
        "permissions": {"contents": "read"},
        "outputs": {
            "subjects": "${{ steps.digests.outputs.subjects }}",
            "predicate": "${{ steps.digests.outputs.predicate }}",
        },
        "steps": [
            *setup(layout),
            download("partials", pattern="partial-*"),
            run(
                "merge the partial ledgers; universal binary, inspect, package, manifests, checksums, SBOMs",
                f'opencode-release collect --project {layout.project} --from partials --version "$VERSION" '
                '--channel "$CHANNEL" --json',
                {**VERSION_ENV, "CHANNEL": "${{ inputs.channel }}"},
            ),
            run(
                "publish the digests of every uploadable file and the release predicate for the attest job",
                f'opencode-release ci --subjects --project {layout.project} --version "$VERSION" > subjects.sha256\n'
                'echo "subjects=$(base64 -w0 subjects.sha256)" >> "$GITHUB_OUTPUT"\n'
                f'opencode-release ci --release-predicate --project {layout.project} --version "$VERSION" '
                "> release-predicate.json\n"
                'echo "predicate=$(base64 -w0 release-predicate.json)" >> "$GITHUB_OUTPUT"\n',
                VERSION_ENV,
                id="digests",
            ),
            upload("release", DIST_UPLOAD.format(dist=layout.dist)),
        ],
    }
