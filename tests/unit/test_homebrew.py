"""The Homebrew formula: golden file, `ruby -c`, and a Ruby stand-in for the DSL compared with the ledger."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from opencode_release.core.errors import ConfigError
from opencode_release.core.ledger import ArtifactKind
from opencode_release.core.stage import CollectingReporter, Context
from opencode_release.manifests import homebrew
from opencode_release.manifests.stages import HomebrewStage
from tests.fake_release import fake_release

TESTS = Path(__file__).resolve().parent.parent
GOLDEN = TESTS / "testdata" / "homebrew" / "opencode.rb"
BASE = "https://opencode.example.org/targets/stable/1.4.0/"


def _formula(ctx: Context) -> Path:
    HomebrewStage().run(ctx)
    (artifact,) = ctx.ledger.by_kind(ArtifactKind.HOMEBREW_FORMULA)
    assert artifact.path == "manifests/homebrew/Formula/opencode.rb"
    return ctx.ledger.file(artifact)


def _load_in_ruby(path: Path) -> dict[str, object]:
    proc = subprocess.run(
        ["ruby", str(TESTS / "formula_standin.rb"), str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def test_formula_matches_the_golden_file(tmp_path: Path) -> None:
    text = _formula(fake_release(tmp_path)).read_text()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_formula_is_valid_ruby(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["ruby", "-c", str(_formula(fake_release(tmp_path)))], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "Syntax OK", proc.stderr


def test_dsl_stand_in_reads_every_platform_url_and_sha256_from_the_ledger(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path)
    declared = _load_in_ruby(_formula(ctx))
    archives = {a.target: a for a in ctx.ledger.by_kind(ArtifactKind.ARCHIVE)}
    expected = {
        key: {"url": f"{BASE}{archives[target].sha256}.{archives[target].name}", "sha256": archives[target].sha256}
        for key, target in (
            ("macos", "darwin-universal"),
            ("linux_intel", "linux-x86_64-gnu"),
            ("linux_arm", "linux-aarch64-gnu"),
        )
    }
    assert declared["platforms"] == expected
    assert declared["class"] == "Opencode" and declared["version"] == "1.4.0" and declared["license"] == "MIT"
    assert declared["desc"] == "AI coding agent's command-line interface"
    assert declared["homepage"] == "https://opencode.example.org"
    assert declared["instance_methods"] == ["install"] and declared["test_block"] is True


def test_linux_only_snapshot_writes_what_it_can_and_notes_the_rest(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=("linux-x86_64-gnu",))
    declared = _load_in_ruby(_formula(ctx))
    assert list(declared["platforms"]) == ["linux_intel"]  # type: ignore[call-overload]
    assert isinstance(ctx.reporter, CollectingReporter)
    assert "darwin-universal: no archive in this release; the formula has no macos block" in ctx.reporter.notes
    (artifact,) = ctx.ledger.by_kind(ArtifactKind.HOMEBREW_FORMULA)
    assert artifact.facts["missing"] == ["linux_arm", "macos"]


def test_no_macos_or_linux_archive_writes_no_formula(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=("windows-x86_64",))
    HomebrewStage().run(ctx)
    assert ctx.ledger.by_kind(ArtifactKind.HOMEBREW_FORMULA) == ()
    assert not (ctx.dist_dir / "manifests").exists()


def test_download_url_follows_the_channel_layout(tmp_path: Path) -> None:
    ctx = fake_release(
        tmp_path,
        channel="lts",
        only=("linux-x86_64-gnu",),
        toml={"channels": 'download-url = "https://dl.example.org/{channel}/{version}/{file}"'},
    )
    declared = _load_in_ruby(_formula(ctx))
    assert declared["platforms"] == {
        "linux_intel": {
            "url": "https://dl.example.org/lts/1.4/1.4.0/opencode-1.4.0-linux-x86_64-gnu.tar.gz",
            "sha256": ctx.ledger.by_kind(ArtifactKind.ARCHIVE)[0].sha256,
        }
    }


def test_a_download_url_without_file_is_refused_when_the_configuration_loads(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"channels.download-url: found 'https://dl.example.org/\{target\}'; "
        r"expected a URL template with \{file\}",
    ):
        fake_release(
            tmp_path, only=("linux-x86_64-gnu",), toml={"channels": 'download-url = "https://dl.example.org/{target}"'}
        )
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    ("name", "cls"), [("opencode", "Opencode"), ("open-code", "OpenCode"), ("opencode@2", "OpencodeAT2")]
)
def test_class_name_follows_homebrew(name: str, cls: str) -> None:
    assert homebrew.class_name(name) == cls
