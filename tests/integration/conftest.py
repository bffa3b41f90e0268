"""Session fixtures of the image tests: one signed release with a gnu image, one registry it is pushed to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .image_helpers import GNU, configure, run
from .registry_server import RegistryServer, running_registry
from .signed_release import copy_release


@pytest.fixture(scope="session")
def signed_image_product(built_product: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built release with an image of the host's gnu binary, attested and signed. Read-only."""
    product = copy_release(built_product, tmp_path_factory.mktemp("signed-image"))
    settings = configure(product, GNU)
    run(settings, "image", "sbom", "provenance", "release-statement", "sign", "verify")
    return product


@pytest.fixture(scope="session")
def session_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """A registry of this test alone (tests that tamper with its storage)."""
    with running_registry(tmp_path / "registry") as server:
        yield server
