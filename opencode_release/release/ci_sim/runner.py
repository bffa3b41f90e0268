"""One simulated GitHub Actions run: the repository as GitHub holds it, act as the runner.

Under the run's folder:
  git/<owner>/<name>.git   the simulated GitHub's copy of the repository at the commit being run
                           (with the run's ref); the checkout stand-in clones from it
  repo/                    act's working copy; origin names the GitHub repository (act takes
                           GITHUB_REPOSITORY from it); its workflows carry the token grants
  actions/, bin/           the stand-ins (assemble.py)
  runner/gitconfig         the runner user's global git config
  artifacts/               act's artifact storage (for this run; the Actions cache is the caller's,
                           as it outlives runs)
  act.log                  everything act printed
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...core.environment import minimal
from ...core.errors import UsageError
from . import act_runner, assemble, grants, token_endpoint


@dataclass(frozen=True)
class Run:
    """What starts the run: which repository, ref, workflow and event."""

    repository: str  # owner/name
    ref: str  # refs/tags/v1.4.0 | refs/heads/main
    caller: str  # .github/workflows/release.yml
    event: str  # push | schedule | workflow_dispatch
    labels: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)  # more variables for every job (no secrets)
    secrets: Mapping[str, str] = field(default_factory=dict)
    job: str | None = None  # run this job and what it needs, not the whole graph
    schedule: str = ""  # event schedule: the cron line that started it (github.event.schedule)
    inputs: Mapping[str, str] = field(default_factory=dict)  # workflow_dispatch's inputs (the `inputs` context)
    # the simulated Sigstore's client trust config, which the publish job verifies against instead of
    # public-good Sigstore's (with image_registry, the only changes to the generated scripts besides token grants)
    trust_config: str = ""
    # the registry the publish job pushes images to (ghcr.io/<owner>/<name>), and the simulated one it pushes
    # to instead (registry.py); ("", "") for a product whose CI makes no image
    image_registry: tuple[str, str] = ("", "")


def _git(*args: str, cwd: Path) -> str:
    # minimal(): a GIT_DIR or GIT_WORK_TREE in the caller's environment (a git hook's) would point git elsewhere
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=minimal())
    return done.stdout.strip()


def lay_out(repo_root: Path, folder: Path, run: Run) -> str:
    """The simulated GitHub's bare repository and act's working copy; returns the commit."""
    repo_root = repo_root.resolve()
    if _git("status", "--porcelain", "--untracked-files=no", cwd=repo_root):
        raise UsageError(f"{repo_root}: uncommitted changes; the simulation runs what is committed")
    commit = _git("rev-parse", "HEAD", cwd=repo_root)
    bare = folder / "git" / f"{run.repository}.git"
    shutil.rmtree(bare, ignore_errors=True)
    bare.parent.mkdir(parents=True, exist_ok=True)
    _git("clone", "-q", "--bare", "--no-tags", str(repo_root), str(bare), cwd=folder)
    _git("update-ref", run.ref, commit, cwd=bare)
    work = folder / "repo"
    shutil.rmtree(work, ignore_errors=True)
    _git("clone", "-q", "--no-checkout", str(bare), str(work), cwd=folder)
    _git("checkout", "-q", "-B", "main", commit, cwd=work)
    _git("remote", "set-url", "origin", f"https://github.com/{run.repository}.git", cwd=work)
    return commit


class _WorkflowLoader(yaml.SafeLoader):
    """YAML 1.1 reads a bare `on:` key as True; a workflow means the string."""


_WorkflowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
# YAML 1.2's booleans only (what GitHub's parser reads): true and false, not on/off/yes/no.
_WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_workflow(text: str) -> Any:
    return yaml.load(text, Loader=_WorkflowLoader)  # noqa: S506 (a SafeLoader without the bool resolver)


PRODUCTION_TRUST = "--instance production"
IMAGE_REGISTRY = "--image-registry "


def retarget(work: Path, generated: str, simulated: str) -> int:
    """Replace `generated` in the workflows by `simulated` (the simulated counterpart of a GitHub service);
    returns how many there were."""
    count = 0
    for path in sorted((work / ".github" / "workflows").glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        count += text.count(generated)
        path.write_text(text.replace(generated, simulated), encoding="utf-8")
    return count


def write_grants(work: Path, caller: str, token_url: str) -> list[grants.Grant]:
    folder = work / ".github" / "workflows"
    documents = {
        f".github/workflows/{p.name}": load_workflow(p.read_text(encoding="utf-8")) for p in folder.glob("*.yml")
    }
    changed, granted = grants.grant_id_tokens(documents, caller, token_url)
    for path, document in changed.items():
        if document != documents[path]:
            (work / path).write_text(yaml.safe_dump(document, sort_keys=False, width=1 << 20), encoding="utf-8")
    return granted


def run_workflow(
    repo_root: Path, folder: Path, run: Run, mint: token_endpoint.Mint, echo: bool = False, caches: Path | None = None
) -> tuple[int, Path]:
    """Run `run.caller` under act to the end; returns act's exit status and its log. `caches`: the
    Actions cache's folder (default: folder/caches)."""
    folder.mkdir(parents=True, exist_ok=True)
    commit = lay_out(repo_root, folder, run)
    if run.trust_config and not retarget(folder / "repo", PRODUCTION_TRUST, f"--instance {run.trust_config}"):
        raise UsageError(f"{run.caller}: no `{PRODUCTION_TRUST}` to point at the simulated Sigstore")
    generated, simulated = run.image_registry
    if generated and not retarget(folder / "repo", IMAGE_REGISTRY + generated, IMAGE_REGISTRY + simulated):
        raise UsageError(f"{run.caller}: no `{IMAGE_REGISTRY}{generated}` to point at the simulated registry")
    facts = token_endpoint.RunFacts(
        repository=run.repository,
        repository_id="100001",
        owner_id="100000",
        ref=run.ref,
        sha=commit,
        caller=run.caller,
        event_name=run.event,
    )
    standins = assemble.actions(folder)
    tools = assemble.tools(folder)
    shutil.rmtree(folder / "artifacts", ignore_errors=True)  # artifacts live for one run; caches persist
    (folder / "runner").mkdir(exist_ok=True)
    event_file = folder / "event.json"
    # default_branch: GitHub's cache scoping reads it (a run restores its ref's caches, then the default branch's)
    repository = {"visibility": "public", "full_name": run.repository, "default_branch": "main"}
    payload: dict[str, Any] = {"repository": repository}
    if run.event == "push":
        payload["ref"] = run.ref
    if run.schedule:
        payload["schedule"] = run.schedule
    if run.inputs:  # GitHub's workflow_dispatch payload carries them; act reads `inputs` from there
        payload["inputs"] = dict(run.inputs)
    event_file.write_text(json.dumps(payload), encoding="utf-8")
    secret_file = None
    if run.secrets:
        secret_file = folder / "secrets.env"
        secret_file.touch(mode=0o600)
        secret_file.write_text("".join(f"{k}={json.dumps(v)}\n" for k, v in run.secrets.items()), encoding="utf-8")
    granted: list[grants.Grant] = []
    with token_endpoint.serving(granted, facts, mint) as token_url:
        granted.extend(write_grants(folder / "repo", run.caller, token_url))
        act = act_runner.ActRun(
            workdir=folder / "repo",
            workflow=run.caller,
            event=run.event,
            event_file=event_file,
            labels=run.labels,
            standins=standins,
            artifacts=folder / "artifacts",
            caches=caches or folder / "caches",
            env={
                "OPENCODE_SIM_PYTHON": sys.executable,
                "OPENCODE_SIM_GIT_SERVER": f"file://{folder / 'git'}",
                # the runner user's global git config: actions/checkout's safe.directory goes here
                "GIT_CONFIG_GLOBAL": str(folder / "runner" / "gitconfig"),
                **run.env,
            },
            secret_file=secret_file,
            job=run.job,
        )
        log = folder / "act.log"
        code = act.run(log, act_runner.base_environment([tools]), echo=echo)
    return code, log
