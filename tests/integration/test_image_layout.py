"""The image stage on a real build: what it makes of the host's gnu binary, and what it refuses."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from opencode_release.core import config, oci
from opencode_release.core.errors import StageError
from opencode_release.core.ledger import ArtifactKind, Ledger

from .image_helpers import GNU, configure, run


def _index_digest(product: Path) -> str:
    ledger = Ledger.load(product.parent / "dist" / "1.4.0")
    (index,) = ledger.by_kind(ArtifactKind.IMAGE_INDEX)
    return str(index.facts["digest"])


def test_the_gnu_image_carries_the_hosts_libc_and_is_deterministic(release_copy: Path) -> None:
    settings = configure(release_copy, GNU)
    ctx = run(settings, "image")
    ledger = ctx.ledger
    (manifest,) = ledger.by_kind(ArtifactKind.IMAGE_MANIFEST)
    (index,) = ledger.by_kind(ArtifactKind.IMAGE_INDEX)
    assert manifest.uploadable and index.uploadable, "image manifests and index are signed and listed"
    assert manifest.target == "linux-x86_64-gnu" and manifest.facts["platform"] == "linux/amd64"
    libc = manifest.facts["libc"]
    assert libc["package"] == "libc6" and "/lib64/ld-linux-x86-64.so.2" in libc["files"]
    assert oci.sha256_digest(ledger.file(manifest).read_bytes()) == manifest.facts["digest"]
    assert json.loads(ledger.file(index).read_bytes())["manifests"][0]["digest"] == manifest.facts["digest"]
    layout = ledger.root / "oci" / "layout"
    found = subprocess.run(
        ["skopeo", "inspect", f"oci:{layout}:1.4.0"], capture_output=True, text=True, check=True
    ).stdout
    inspected = json.loads(found)
    assert inspected["Digest"] == index.facts["digest"], "the version tag names the index"
    assert inspected["Labels"]["org.opencontainers.image.version"] == "1.4.0"
    first = index.facts["digest"]
    shutil.rmtree(layout.parent)
    run(settings, "image")
    assert _index_digest(release_copy) == first, "the same release gives the same image digests"


def test_a_dynamic_binary_without_a_libc_package_is_refused(release_copy: Path) -> None:
    settings = configure(release_copy, 'targets = ["linux-x86_64-gnu"]')
    with pytest.raises(StageError, match=r"dynamically linked .*images\.libc-package = \"libc6\""):
        run(settings, "image")
    assert not (release_copy.parent / "dist" / "1.4.0" / "oci").exists(), "nothing written on a refusal"


def test_the_default_makes_musl_images_only_and_this_release_has_none(release_copy: Path) -> None:
    settings = configure(release_copy, "")
    ctx = run(settings, "image")
    assert not ctx.ledger.by_kind(ArtifactKind.IMAGE_INDEX)
    assert not (ctx.dist_dir / "oci").exists()


def _as_musl(product: Path, *, static: bool) -> None:
    """The host's binary recorded again as the musl target's, with the linkage a musl build has."""
    ledger = Ledger.load(product.parent / "dist" / "1.4.0")
    (gnu,) = ledger.by_kind(ArtifactKind.BINARY, target="linux-x86_64-gnu")
    inspection = {**gnu.facts["inspection"], "static": static, "needed": [] if static else ["libc.so"]}
    inspection["interpreter"] = None if static else "/lib/ld-musl-x86_64.so.1"
    ledger.record(
        ledger.file(gnu),
        ArtifactKind.BINARY,
        target="linux-x86_64-musl",
        facts={**gnu.facts, "inspection": inspection},
        artifact_id="binary:linux-x86_64-musl/opencode",
    )
    ledger.save()


def test_a_static_musl_binary_becomes_an_image_without_a_libc(release_copy: Path) -> None:
    _as_musl(release_copy, static=True)
    ctx = run(configure(release_copy, ""), "image")
    (manifest,) = ctx.ledger.by_kind(ArtifactKind.IMAGE_MANIFEST)
    assert manifest.target == "linux-x86_64-musl" and "libc" not in manifest.facts


def test_a_dynamic_musl_binary_is_left_out_by_default_and_refused_by_name(release_copy: Path) -> None:
    _as_musl(release_copy, static=False)
    ctx = run(configure(release_copy, ""), "image")
    assert not ctx.ledger.by_kind(ArtifactKind.IMAGE_INDEX), "the default never fails a release for an image"
    named = configure_again(release_copy, 'targets = ["linux-x86_64-musl"]')
    with pytest.raises(StageError, match=r'ld-musl-x86_64\.so\.1.*images\.libc-package = "musl"'):
        run(named, "image")


def configure_again(product: Path, table: str) -> config.Settings:
    path = product / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex("[tool.opencode-release.images]")], encoding="utf-8")
    return configure(product, table)
