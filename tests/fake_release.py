"""A small fake release of the sample product for all nine targets, fixed to the byte.

Archives hold a tiny shell script (or fake .exe) instead of a Nuitka build, so
manifest generators can be tested for every target, and golden files stay
stable: same epoch, same source, same bytes every run.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from opencode_release.build import archives, targets
from opencode_release.core import config
from opencode_release.core.config import ALL_TARGETS, Settings
from opencode_release.core.ledger import ArtifactKind, Ledger, Source
from opencode_release.core.stage import CollectingReporter, Context

REPO = Path(__file__).resolve().parent.parent
EPOCH = 1767225600  # 2026-01-01T00:00:00Z
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fake_project(root: Path, settings: Mapping[str, str] | None = None, source: Path = REPO / "product") -> Settings:
    """A copy of a product's pyproject.toml and LICENSE (the sample's by default) under `root/product`.

    `settings` maps a section (e.g. "channels") to TOML lines added to its table.
    """
    product = root / "product"
    product.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "LICENSE", product / "LICENSE")
    text = (source / "pyproject.toml").read_text(encoding="utf-8")
    for section, lines in (settings or {}).items():
        header = f"[tool.opencode-release.{section}]\n"
        text = text.replace(header, header + lines + "\n") if header in text else text + f"\n{header}{lines}\n"
    (product / "pyproject.toml").write_text(text, encoding="utf-8")
    return config.load(product / "pyproject.toml")


def fake_release(
    root: Path,
    version: str = "1.4.0",
    channel: str = "stable",
    toml: Mapping[str, str] | None = None,
    only: tuple[str, ...] = ALL_TARGETS,
    product: Path = REPO / "product",
) -> Context:
    """A release folder with one small archive per target in `only`, recorded in a fresh ledger."""
    settings = fake_project(root, toml, product)
    dist = settings.path(settings.dist_dir) / version
    source = Source(settings.repository, COMMIT, f"refs/tags/v{version}", EPOCH)
    ledger = Ledger(dist, product=settings.name, version=version, channel=channel, source=source)
    stage_dir = root / "fake-binaries"
    for name in only:
        target = targets.get(name)
        folder = stage_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        binary = folder / f"{settings.name}{target.exe_suffix}"
        binary.write_text(f"#!/bin/sh\necho '{settings.name} {version}'\n# {name}\n")
        binary.chmod(0o755)
        stem = f"{settings.name}-{version}-{name}"
        entries = [
            archives.Entry(binary, f"{stem}/{binary.name}"),
            archives.Entry(settings.project_dir / "LICENSE", f"{stem}/LICENSE"),
        ]
        dest = dist / f"{stem}.{target.archive}"
        archives.make(target.archive, entries, dest, EPOCH)
        ledger.record(dest, ArtifactKind.ARCHIVE, target=name, facts={"format": target.archive})
    ledger.save()
    return Context(settings=settings, ledger=ledger, reporter=CollectingReporter(), build_targets=(), snapshot=True)
