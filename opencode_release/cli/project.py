"""`init` and `check`: bring a product folder to the pipeline, and say what is wrong with it, all at once."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..build import ci_workflow, environment, nuitka, targets
from ..core import config, project_table
from ..core.environment import minimal
from ..core.errors import ConfigError, ReleaseError, UsageError
from ..core.fsio import write_atomic
from ..verify import identity_policy, policy_template
from ._common import project_file
from .command import Command, Outcome, Output, dry_run_option, project_option

IGNORED = ("dist/", "public/", ".opencode-release/")


def _read(pyproject: Path) -> tuple[str, dict[str, Any]]:
    if not pyproject.is_file():
        raise UsageError(f"{pyproject}: no such file; run init in the product's folder (beside its pyproject.toml)")
    text = pyproject.read_text(encoding="utf-8")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: not valid TOML: {exc}") from exc


def _table(data: dict[str, Any], pyproject: Path) -> str:
    """The table init writes: what the pipeline adds, and, as comments, what it found in [project]."""
    problems: list[str] = []
    found = project_table.derived(data.get("project"), pyproject, problems, {})
    host = targets.host().name
    lines = [
        "",
        "# The release pipeline (opencode-release); every key: docs/configuration.md of opencode-release.",
        "# From [project]: " + ", ".join(f"{k} = {found[k]!r}" for k in ("name", "version", "license") if found.get(k)),
        f"#   package {found.get('package')!r}"
        + (f", entry point {found['entry-point']!r}" if found.get("entry-point") else ""),
        "[tool.opencode-release]",
        f'targets = ["{host}"]',
        "",
        "[tool.opencode-release.smoke]",
        '# version-pattern = "(^|\\\\s)v?{version}$"',
        '# commands = [{ args = ["--help"], expect = "Usage" }]',
        "",
    ]
    return "\n".join(lines)


def _git_root(folder: Path) -> Path:
    proc = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
        env=minimal(),
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else folder


def _init_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)
    dry_run_option(parser, "say what would be written; write nothing")


def _init(args: argparse.Namespace, out: Output) -> Outcome:
    pyproject = project_file(args.project) if args.project else Path("pyproject.toml")
    text, data = _read(pyproject)
    if isinstance(data.get("tool", {}).get("opencode-release"), dict):
        raise UsageError(f"{pyproject}: already has a [{config.TABLE}] table; `opencode-release check` validates it")
    new_text = text.rstrip("\n") + "\n" + _table(data, pyproject)
    # Everything is validated before anything is written.
    settings = config.load_text(new_text, pyproject)
    problem = nuitka.entry_problem(settings.path(settings.package), settings.entry_point)
    if problem:
        raise UsageError(problem)
    root = _git_root(pyproject.parent.resolve())
    workflows = ci_workflow.render(settings, root)
    gitignore = root / ".gitignore"
    present = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.is_file() else []
    missing = [line for line in IGNORED if line not in present and line.rstrip("/") not in present]
    # The product's identity policy: what its distributors (and verify-release --project) trust.
    policy_path = settings.project_dir / identity_policy.POLICY_FILE
    policy = None
    if policy_path.exists():
        out.say(f"{policy_path}: kept as it is")
    else:
        try:
            policy = policy_template.for_product(settings)
        except UsageError as exc:
            out.say(f"no identity policy written: {exc}")
    workflow_paths = [str(root / p) for p in workflows]
    plan = {
        "pyproject": str(pyproject),
        "workflows": workflow_paths,
        "gitignore": missing,
        "name": settings.name,
        "package": settings.package,
        "entry_point": settings.entry_point or f"{settings.package}/__main__.py",
        "policy": str(policy_path) if policy is not None else None,
    }
    if args.dry_run:
        out.say(
            f"would add [{config.TABLE}] to {pyproject}, write {len(workflows)} workflows"
            + (f" and {policy_path.name}" if policy is not None else "")
            + f", ignore {missing}"
        )
        return Outcome({**plan, "written": []})
    write_atomic(pyproject, new_text.encode())
    if policy is not None:
        write_atomic(policy_path, policy.encode())
    for path, body in workflows.items():
        write_atomic(root / path, body.encode())
    if missing:
        write_atomic(gitignore, ("\n".join([*present, *missing]) + "\n").encode())
    out.say(f"{pyproject}: [{config.TABLE}] added; {len(workflows)} workflows and .gitignore written")
    if policy is not None:
        out.say(f"{policy_path}: the identity policy to ship to distributors (verify-release --policy FILE)")
    out.say(f"next: `opencode-release check --project {pyproject.parent}`")
    written = [str(pyproject), *([str(policy_path)] if policy is not None else []), *workflow_paths]
    return Outcome({**plan, "written": [*written, *([str(gitignore)] if missing else [])]})


def problems_of(settings: config.Settings) -> list[str]:
    """What would stop a release of these settings, all of it (the configuration itself loaded)."""
    found: list[str] = []
    where = str(settings.source_file)
    problem = nuitka.entry_problem(settings.path(settings.package), settings.entry_point)
    if problem:
        found.append(f"{where}: {problem}")
    for tool in ("gcc",):
        if shutil.which(tool) is None:
            found.append(f"toolchain: {tool} is not on PATH (Nuitka needs a C compiler)")
    if importlib.util.find_spec("nuitka") is None:
        found.append("toolchain: Nuitka is not installed in this environment")
    signing = settings.signing
    if signing.instance == "local":
        if not signing.issuer.startswith("http://127.0.0.1"):
            found.append(f"{where}: signing.issuer {signing.issuer!r}: the local instance issues from http://127.0.0.1")
    elif signing.instance in ("production", "staging"):
        if signing.identity.endswith(".local"):
            found.append(
                f"{where}: signing.identity {signing.identity!r} is the local instance's; {signing.instance} "
                "certifies your CI workflow's identity (e.g. https://github.com/OWNER/REPO/.github/workflows/"
                "build.yml@refs/tags/v*)"
            )
        if not signing.issuer.startswith("https://"):
            found.append(f"{where}: signing.issuer {signing.issuer!r}: {signing.instance} needs an https OIDC issuer")
        if not signing.keys_dir:
            found.append(f"{where}: signing.keys-dir: empty; real releases read the TUF, in-toto and apt keys there")
        if not settings.repository:
            found.append(f"{where}: [project.urls] Repository: missing; provenance and verify need the source")
    found += _dependency_problems(settings)
    if settings.channels.storage != "filesystem" and not settings.channels.storage.startswith("s3://"):
        found.append(
            f"{where}: channels.storage {settings.channels.storage!r}: expected filesystem or s3://bucket/prefix"
        )
    return found


def _dependency_problems(settings: config.Settings) -> list[str]:
    """Every runtime dependency resolves in the build environment of this machine's target."""
    host = targets.host().name
    if not settings.build.isolated or host not in settings.targets:
        return []
    try:
        made = environment.ensure(settings, host, settings.path(settings.state_dir))
    except ReleaseError as exc:
        return [f"{settings.source_file}: dependencies: {exc}"]
    installed = {canonicalize_name(name): version for name, version in made.packages}
    problems = []
    for text in settings.dependencies:
        try:
            wanted = Requirement(text)
        except InvalidRequirement as exc:
            problems.append(f"{settings.source_file}: [project].dependencies: {text!r}: {exc}")
            continue
        if wanted.marker is not None and not wanted.marker.evaluate():
            continue
        have = installed.get(canonicalize_name(wanted.name))
        if have is None or not wanted.specifier.contains(have, prereleases=True):
            problems.append(
                f"{settings.source_file}: [project].dependencies: {text!r} does not resolve in the build "
                f"environment ({have or 'not installed'})"
            )
    return problems


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    project_option(parser)


def _check(args: argparse.Namespace, out: Output) -> Outcome:
    settings = config.load(project_file(args.project))
    found = problems_of(settings)
    for line in found:
        out.say(f"problem: {line}")
    if not found:
        out.say(f"{settings.source_file}: {settings.name} {settings.version} is ready to release")
        return Outcome({"product": settings.name, "version": settings.version, "problems": []})
    return Outcome(
        {"product": settings.name, "version": settings.version, "problems": found},
        1,
        f"{len(found)} problems in {settings.source_file}",
    )


COMMANDS = (
    Command(
        "init",
        "add the [tool.opencode-release] table, CI workflows and .gitignore lines to a product folder",
        _init_arguments,
        _init,
    ),
    Command(
        "check",
        "validate a product's configuration, entry point, toolchain, dependencies and signing settings",
        _check_arguments,
        _check,
    ),
)
