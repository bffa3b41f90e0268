"""Shared by the image tests: configure the images table of a copied product, and run stages on it."""

from __future__ import annotations

from pathlib import Path

from opencode_release.core import config
from opencode_release.core.stage import Context
from opencode_release.release import pipeline, session

GNU = 'targets = ["linux-x86_64-gnu"]\nlibc-package = "libc6"'


def configure(product: Path, table: str) -> config.Settings:
    path = product / "pyproject.toml"
    path.write_text(path.read_text(encoding="utf-8") + f"\n[tool.opencode-release.images]\n{table}\n", encoding="utf-8")
    return config.load(path)


def run(settings: config.Settings, *names: str) -> Context:
    ctx, _ = session.run(settings, pipeline.stages_named(names), session.Request(snapshot=True, quiet=True))
    return ctx
