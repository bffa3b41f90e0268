"""Shared by the image tests: configure the images table of a copied product, and run stages on it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from opencode_release.core import config
from opencode_release.core.stage import Context
from opencode_release.release import pipeline, session

GNU = 'targets = ["linux-x86_64-gnu"]\nlibc-package = "libc6"'


def configure(product: Path, table: str) -> config.Settings:
    """The product's [tool.opencode-release.images] is `table` alone (the sample's own images table goes)."""
    path = product / "pyproject.toml"
    text = re.sub(r"\n\[tool\.opencode-release\.images\]\n(?:(?!\[).*\n?)*", "\n", path.read_text(encoding="utf-8"))
    path.write_text(text + f"\n[tool.opencode-release.images]\n{table}\n", encoding="utf-8")
    return config.load(path)


def run(settings: config.Settings, *names: str) -> Context:
    ctx, _ = session.run(settings, pipeline.stages_named(names), session.Request(snapshot=True, quiet=True))
    return ctx


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script, as a user runs it (in `env` when given, else this process's environment)."""
    command = [sys.executable, "-c", "import sys; from opencode_release.cli import main; sys.exit(main())", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=600, env=env)


def publish(product: Path, repository: str, *extra: str) -> dict[str, Any]:
    done = cli(
        "publish-image", "--registry", repository, "--project", str(product), "--version", "1.4.0", "--json", *extra
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def skopeo(*args: str) -> str:
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout
