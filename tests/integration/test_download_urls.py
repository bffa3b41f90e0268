"""Manifest download URLs name files the channel publisher really writes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release import pipeline, session

pytestmark = pytest.mark.integration


def test_homebrew_url_resolves_in_the_published_channel(release_copy: Path) -> None:
    settings = config.load(release_copy / "pyproject.toml")
    session.run(
        settings,
        pipeline.stages_named(("deb", "apt-repo", "homebrew", "publish")),
        session.Request(snapshot=True, quiet=True),
    )
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    (formula,) = ledger.by_kind(ArtifactKind.HOMEBREW_FORMULA)
    urls = re.findall(r'url "([^"]+)"', ledger.file(formula).read_text())
    assert urls, "the formula declares no download"
    public = settings.path(settings.channels.root)
    for url in urls:
        assert url.startswith(settings.homepage + "/")
        served = public / url.removeprefix(settings.homepage + "/")
        assert served.is_file(), f"{url} names nothing the publisher wrote under {public}"
        (archive,) = [a for a in ledger.by_kind(ArtifactKind.ARCHIVE) if url.endswith(a.name)]
        assert hashlib.sha256(served.read_bytes()).hexdigest() == archive.sha256


def test_apt_indexes_are_published_with_the_pool(release_copy: Path) -> None:
    settings = config.load(release_copy / "pyproject.toml")
    session.run(
        settings, pipeline.stages_named(("deb", "apt-repo", "publish")), session.Request(snapshot=True, quiet=True)
    )
    ledger = Ledger.load(release_copy.parent / "dist" / "1.4.0")
    public = settings.path(settings.channels.root)
    indexes = ledger.by_kind(ArtifactKind.APT_INDEX)
    assert any(a.name == "InRelease" for a in indexes)
    for index in indexes:
        folder = public / "targets" / "stable" / "1.4.0" / Path(index.path).parent
        assert (folder / f"{index.sha256}.{index.name}").is_file(), f"{index.path} was not published"
