"""`reproduce --version X`: a release rebuilt from its recorded source commit, compared file by file.

The rebuild happens in a clean checkout of the recorded commit: a clone of the
product's repository in a temporary folder outside the release folder
(`git clone --shared`, so any commit the repository holds can be checked out),
removed when the run ends. It runs the pipeline's own stages there, only those
that make the kinds of file the release has (build and inspect for binaries,
package, image, deb, homebrew, winget, python-dists, checksum, sbom), with the
release's version, channel and SOURCE_DATE_EPOCH, and the checkout's own
configuration and lock. The product's build environment comes from the lock at
that commit; it is made in (or taken from) the product's state folder, keyed by
the lock's digest, as every build does. Signed evidence of the release run is
not rebuilt (reproduce_compare.py says why, kind by kind).

The result goes to `dist/reproduce/<version>/` beside the releases (never into
the release folder): `reproduce.json` and, per mismatched file, diffoscope's text.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..build import targets
from ..core import config
from ..core.config import Settings
from ..core.environment import minimal
from ..core.errors import StageError, UsageError
from ..core.formats import canonical_json
from ..core.fsio import write_atomic
from ..core.ledger import MANIFEST_NAME, ArtifactKind, Ledger
from ..core.versions import Version
from . import pipeline, session, source
from .reproduce_compare import compare, stages_of, toolchain, with_diffs

REPORT_NAME = "reproduce.json"
_COMMIT = re.compile(r"[0-9a-f]{40}")


def report_dir(settings: Settings, version: str) -> Path:
    return settings.path(settings.dist_dir) / "reproduce" / version


@dataclass(frozen=True, slots=True)
class Plan:
    """What a rebuild of one release needs, read and checked; nothing written."""

    release: Ledger
    repository: Path  # the repository's object store (.git, shared by its worktrees)
    project: str  # the product's pyproject.toml, relative to the repository's top
    stages: tuple[str, ...]  # in pipeline order
    built_here: tuple[str, ...]  # the release's binary targets this machine compiles

    def to_json(self) -> dict[str, Any]:
        ledger = self.release
        return {
            "version": ledger.version,
            "channel": ledger.channel,
            "source": {"repository": ledger.source.repository, "commit": ledger.source.commit},
            "epoch": ledger.source.epoch,
            "project": self.project,
            "stages": list(self.stages),
            "targets_rebuilt": list(self.built_here),
            "nuitka_here": _installed("nuitka"),
        }


def _installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def plan(settings: Settings, version: str) -> Plan:
    Version.parse(version)
    folder = session.release_dir(settings, version)
    if not (folder / MANIFEST_NAME).is_file():
        raise UsageError(f"{folder / MANIFEST_NAME}: no such release; restore its folder or pass another --version")
    release = Ledger.load(folder)
    commit = release.source.commit
    if not _COMMIT.fullmatch(commit) or commit == source.NO_COMMIT:
        raise UsageError(
            f"{release.path}: source.commit {commit[:60]!r} is not a recorded git commit; "
            "a release built outside git cannot be rebuilt from its source"
        )
    top = source.repository_root(settings.project_dir)
    store = source.common_dir(settings.project_dir)
    if top is None or store is None:
        raise UsageError(f"{settings.project_dir}: not inside a git repository; reproduce rebuilds from its history")
    if not source.has_commit(settings.project_dir, commit):
        raise UsageError(
            f"{release.path}: source commit {commit} is not in the repository at {top}; fetch it "
            f"(git fetch origin {commit}) and run again"
        )
    wanted = {stage for artifact in release.artifacts for stage in stages_of(artifact)}
    stages = tuple(s.name for s in pipeline.release_stages() if s.name in wanted)
    if not stages:
        raise UsageError(
            f"{release.path}: no artifact a rebuild makes (binary, archive, image, .deb, formula, winget "
            "manifest, wheel, sdist, checksums, SBOM); nothing to reproduce"
        )
    host = targets.host().name
    built = tuple(t for t in sorted({a.target for a in release.by_kind(ArtifactKind.BINARY) if a.target}) if t == host)
    project = settings.source_file.resolve().relative_to(top.resolve()).as_posix()
    return Plan(release, store, project, stages, built)


@contextlib.contextmanager
def clean_checkout(repository: Path, commit: str) -> Iterator[Path]:
    """A checkout of `commit` alone in a new temporary folder, removed afterwards. `repository`: the
    git folder of the repository plan() already read (so one the user's git trusts)."""
    with tempfile.TemporaryDirectory(prefix="opencode-reproduce-") as work:
        dest = Path(work) / "source"
        trusted = _trusting(repository, Path(work) / "gitconfig")
        _git("clone", "--quiet", "--shared", "--no-checkout", str(repository), str(dest), env=trusted)
        _git("-C", str(dest), "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit)
        yield dest


def _trusting(repository: Path, config: Path) -> dict[str, str]:
    """The environment for cloning `repository` when it belongs to another user than the one running.

    Git checks the owner of the clone's source at its git folder, while safe.directory usually names
    the worktree (actions/checkout adds the workspace: a job running as another uid than the checkout's
    owner reads the worktree and cannot clone it). The repository is the one plan() read through the
    user's own git configuration, so the user's trust in it is extended to its git folder for this
    clone alone: a global configuration that includes the user's and adds it (git 2.39 honours
    safe.directory only from global or system configuration, not from `-c`)."""
    given = os.environ.get("GIT_CONFIG_GLOBAL")
    home = Path(os.environ.get("HOME", "/nonexistent"))
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "git" / "config"
    own = [Path(given)] if given else [p for p in (xdg, home / ".gitconfig") if p.is_file()]
    includes = "".join(f"[include]\n\tpath = {json.dumps(str(p), ensure_ascii=False)}\n" for p in own)
    config.write_text(
        f"{includes}[safe]\n\tdirectory = {json.dumps(str(repository), ensure_ascii=False)}\n", encoding="utf-8"
    )
    return minimal(set_={"GIT_CONFIG_GLOBAL": str(config)})


def _git(*args: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False, env=env or minimal())
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise StageError(f"git {args[0] if args[0] != '-C' else args[2]}: {last[:200]}")


@contextlib.contextmanager
def _source_date_epoch(epoch: int) -> Iterator[None]:
    # The rebuild's ledger takes its epoch from here (source.describe): the release's, even when
    # the release was cut with SOURCE_DATE_EPOCH set rather than from the commit's time.
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before


def rebuild(settings: Settings, chosen: Plan, checkout: Path, *, quiet: bool = True) -> Ledger:
    """The chosen stages in `checkout`, with the product's own state folder (keys are not used)."""
    pyproject = checkout / chosen.project
    if not pyproject.is_file():
        raise UsageError(f"{chosen.project}: not in commit {chosen.release.source.commit}; the product moved since")
    there = config.load(pyproject)
    # The build environment is keyed by the lock's digest: the product's state folder holds the
    # same one when the lock is the same, and a different lock makes its own.
    there = replace(there, state_dir=str(settings.path(settings.state_dir)))
    release = chosen.release
    request = session.Request(
        version=release.version,
        channel=release.channel,
        snapshot=True,  # floors warn: the rebuild's files are compared, never published
        targets=chosen.built_here or None,
        quiet=quiet,
    )
    with _source_date_epoch(release.source.epoch):
        ctx, _ = session.run(there, pipeline.stages_named(chosen.stages), request)
    if ctx.ledger.source.commit != release.source.commit:
        raise StageError(f"the checkout is at {ctx.ledger.source.commit}, not {release.source.commit}")
    return ctx.ledger


def reproduce(settings: Settings, version: str, *, dry_run: bool = False, quiet: bool = True) -> dict[str, Any]:
    """Rebuild, compare, write the report; the document says what matched (`ok`: every compared file)."""
    chosen = plan(settings, version)
    out = report_dir(settings, version)
    if dry_run:
        compared = [a.path for a in chosen.release.artifacts if stages_of(a)]
        return {**chosen.to_json(), "would_compare": compared, "would_write": str(out / REPORT_NAME)}
    with clean_checkout(chosen.repository, chosen.release.source.commit) as checkout:
        rebuilt = rebuild(settings, chosen, checkout, quiet=quiet)
        rows = compare(chosen.release, rebuilt, chosen.built_here)
        scratch = out.with_name(out.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        rows = with_diffs(rows, chosen.release, rebuilt, scratch)
        tools = toolchain(chosen.release, rebuilt)
    document = _document(chosen, rows, tools)
    write_atomic(scratch / REPORT_NAME, canonical_json(document))
    _replace_folder(scratch, out)
    return {**document, "report": str(out / REPORT_NAME)}


def _document(chosen: Plan, rows: list[Any], tools: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    compared = counts.get("matched", 0) + counts.get("mismatched", 0) + counts.get("missing", 0)
    return {
        **chosen.to_json(),
        "checkout": "a temporary clone of the recorded commit, removed after the rebuild",
        "artifacts": [row.to_json() for row in rows],
        "counts": dict(sorted(counts.items())),
        "toolchain": tools,
        "ok": compared > 0 and not any(row.failed for row in rows),
    }


def _replace_folder(new: Path, old: Path) -> None:
    # The previous result of this version goes only once the new one is complete.
    if old.exists():
        shutil.rmtree(old)
    new.rename(old)


def load_report(settings: Settings, version: str) -> dict[str, Any] | None:
    """The last `reproduce` result of a release, or None when it was never reproduced."""
    path = report_dir(settings, version) / REPORT_NAME
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not a reproduce report ({exc}); run `opencode-release reproduce` again") from exc
    if not isinstance(document, dict) or document.get("version") != version:
        raise UsageError(f"{path}: not the reproduce report of {version}; run `opencode-release reproduce` again")
    return document
