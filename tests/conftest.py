"""Shared fixtures: a product folder to configure, a fresh ledger."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from opencode_release.core.ledger import Ledger, Source
from tests.secret_env import patched_environment, secret_environment

REPO = Path(__file__).resolve().parent.parent
PRODUCT = REPO / "product"


def write_project(folder: Path, table: str) -> Path:
    """A pyproject.toml with `table` as the [tool.opencode-release] body.

    Sub-tables are written `[signing]` and land under `[tool.opencode-release.signing]`.
    """
    body = re.sub(r"^\[([a-z-]+)\]$", r"[tool.opencode-release.\1]", textwrap.dedent(table), flags=re.M)
    path = folder / "pyproject.toml"
    project = '[project]\nname = "x"\nversion = "1.4.0"\nlicense = "MIT"\n'
    project += 'authors = [{ name = "X Team", email = "x@example.org" }]\n'
    path.write_text(project + "\n[tool.opencode-release]\n" + body, encoding="utf-8")
    return path


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    source = Source("https://example.org/repo", "a" * 40, "refs/tags/v1.4.0", 1767225600)
    return Ledger(tmp_path / "dist" / "1.4.0", product="opencode", version="1.4.0", channel="stable", source=source)


# -- one real snapshot build per test run --------------------------------------
# Nuitka takes ~40-70 s, so the whole suite shares one build of the sample
# product (through the `build`..`checksum` stages), made by whichever xdist
# worker gets the lock first. Tests that change it work on a copy.

BUILT_STAGES = ("preflight", "build", "inspect", "smoke", "package", "checksum")
# The shared build runs with secret-shaped values in the environment (tests/secret_env.py);
# tests/integration/test_no_secret_on_disk.py reads them here and searches every file for them.
SECRET_ENVIRONMENT = "secret-environment.json"


def _build_shared(root: Path) -> Path:
    import fcntl
    import shutil

    from opencode_release.core import config
    from opencode_release.release import pipeline, session

    product = root / "product"
    done = root / "built.ok"
    with (root / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if product.exists():
                shutil.rmtree(product)
            shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
            settings = config.load(product / "pyproject.toml")
            secrets = secret_environment()
            (root / SECRET_ENVIRONMENT).write_text(json.dumps(secrets), encoding="utf-8")
            with patched_environment(secrets):
                session.run(settings, pipeline.stages_named(BUILT_STAGES), session.Request(snapshot=True, quiet=True))
            done.write_text("ok")
    return product


def _build_inputs_digest() -> str:
    import hashlib

    digest = hashlib.sha256()
    # the environment the build runs in is an input too (tests/secret_env.py, written by this file)
    files = [REPO / "pyproject.toml", REPO / "tests" / "conftest.py", REPO / "tests" / "secret_env.py"]
    files += sorted((REPO / "opencode_release" / "build").rglob("*.py"))
    files += sorted(
        p
        for p in PRODUCT.rglob("*")
        if p.is_file()
        and not {"dist", "build", "__pycache__"} & set(p.relative_to(PRODUCT).parts)
        and ".egg-info" not in str(p)
    )
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _prune_old_builds(folder: Path, keep: Path, max_age_hours: float = 24) -> None:
    """Builds of other inputs (~250 MB each) left by earlier runs; none still in use is a day old."""
    import shutil
    import time

    for old in folder.glob("shared-build-*"):
        if old != keep and time.time() - old.stat().st_mtime > max_age_hours * 3600:
            shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(scope="session")
def built_product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of product/ whose ../dist/1.4.0 holds a real snapshot build. Read-only."""
    # Keyed by what the build depends on: a build left in /tmp by an earlier run
    # (or another checkout) of a different product must not be reused.
    shared = tmp_path_factory.getbasetemp().parent / f"shared-build-{_build_inputs_digest()}"
    _prune_old_builds(shared.parent, keep=shared)
    shared.mkdir(exist_ok=True)
    return _build_shared(shared)


@pytest.fixture
def release_copy(built_product: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the built release: returns the copied product folder."""
    import shutil

    root = tmp_path / "work"
    shutil.copytree(
        built_product.parent,
        root,
        symlinks=True,
        ignore=shutil.ignore_patterns("build.lock", "built.ok", ".work", SECRET_ENVIRONMENT),
    )
    return root / "product"
