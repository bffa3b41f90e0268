"""A second product unlike the sample (tests/products/mytool: click, src layout, Apache-2.0, a BSD
dependency, no __main__.py): its manifests and SBOM are its own and mention nothing of the sample."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from opencode_release.attest import _release_sboms, sbom
from opencode_release.cli import program
from opencode_release.core.config import ALL_TARGETS
from opencode_release.core.ledger import ArtifactKind
from opencode_release.manifests.stages import DebStage, HomebrewStage, WingetStage
from tests.conftest import REPO
from tests.fake_release import fake_release

MYTOOL = REPO / "tests" / "products" / "mytool"
SAMPLE_WORDS = re.compile(r"opencode|\bMIT\b|example\.org", re.IGNORECASE)


def _initialised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    product = tmp_path / "mytool"
    shutil.copytree(MYTOOL, product)
    assert program.main(["init", "--project", str(product)]) == 0
    capsys.readouterr()
    text = (product / "pyproject.toml").read_text()
    every_target = "targets = [" + ", ".join(f'"{t}"' for t in ALL_TARGETS) + "]"
    (product / "pyproject.toml").write_text(re.sub(r"^targets = .*$", every_target, text, count=1, flags=re.M))
    return product


def _deb_text(deb: Path) -> str:
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    copyright_text = subprocess.run(
        ["tar", "-xO", "./usr/share/doc/mytool/copyright"], input=tar, capture_output=True, check=True
    ).stdout.decode()
    return control + listing + copyright_text


def test_formula_deb_winget_and_sbom_are_the_product_s_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    product = _initialised(tmp_path, capsys)
    ctx = fake_release(tmp_path / "release", version="0.3.0", product=product)
    assert ctx.settings.name == "mytool" and ctx.settings.license == "Apache-2.0"
    for stage in (DebStage(), HomebrewStage(), WingetStage()):
        stage.run(ctx)
    formula = (ctx.dist_dir / "manifests" / "homebrew" / "Formula" / "mytool.rb").read_text()
    assert "class Mytool < Formula" in formula and 'license "Apache-2.0"' in formula
    assert 'homepage "https://mytool.newcomer.example.net"' in formula
    (made,) = ctx.ledger.by_kind(ArtifactKind.DEB, target="linux-x86_64-gnu")
    deb = _deb_text(ctx.ledger.file(made))
    assert "Maintainer: Ada Newcomer <ada@newcomer.example.net>" in deb and "Apache-2.0" in deb
    winget = {p.name: p.read_text() for p in (ctx.dist_dir / "manifests" / "winget").rglob("*.yaml")}
    assert winget and all('PackageIdentifier: "AdaNewcomer.Mytool"' in t for t in winget.values())
    assert any('License: "Apache-2.0"' in t for t in winget.values())
    component = sbom.artifact_component(
        _release_sboms.product_of(ctx), ctx.ledger.by_kind(ArtifactKind.ARCHIVE)[0], archive=True
    )
    assert [lic.id for lic in component.licenses] == ["Apache-2.0"]
    for name, text in {"formula": formula, "deb": deb, **winget}.items():
        leaked = SAMPLE_WORDS.findall(text.replace("opencode-release", ""))
        assert not leaked, f"{name} mentions the sample: {leaked}"
