from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from opencode_release.core import config
from opencode_release.core.errors import ConfigError
from tests.conftest import PRODUCT, write_project


def test_sample_product_loads() -> None:
    settings = config.load(PRODUCT / "pyproject.toml")
    assert settings.name == "opencode"
    assert settings.version == "1.4.0"  # from [project].version
    assert set(settings.targets) == set(config.ALL_TARGETS)
    assert settings.lifecycle.stable_anchor == dt.date(2026, 1, 6)
    assert settings.project_dir == PRODUCT


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('name = "o"\npackage = "p"\ncolour = "red"\n', "tool.opencode-release: unknown key 'colour'; expected one of"),
        ('name = 3\npackage = "p"\n', "tool.opencode-release.name: found 3 (int); expected a string"),
        (
            'name = "o"\npackage = "p"\ntargets = ["linux-sparc-gnu"]\n',
            "tool.opencode-release.targets: unknown target 'linux-sparc-gnu'",
        ),
        ('name = "o"\npackage = "p"\nversion = "1.4"\n', "tool.opencode-release.version: version '1.4'"),
        (
            'name = "o"\npackage = "p"\ntargets = "linux-x86_64-gnu"\n',
            "targets: found 'linux-x86_64-gnu' (str); expected an array",
        ),
        ('name = "o"\npackage = "p"\n[signing]\ninstance = "moon"\n', "signing.instance: found 'moon'"),
        (
            'name = "o"\npackage = "p"\n[lifecycle]\nstable-anchor = "2026-01-06"\n',
            "lifecycle.stable-anchor: found '2026-01-06' (str); expected a date",
        ),
        (
            'name = "o"\npackage = "p"\n[lifecycle]\nnightly-keep = 0\n',
            "lifecycle.nightly-keep: found 0; expected a positive",
        ),
        (
            'name = "o"\npackage = "p"\n[lifecycle]\nnightly-keep = true\n',
            "nightly-keep: found True (bool); expected an integer",
        ),
        ('name = "o"\npackage = "p"\n[winget]\nflavour = 1\n', "tool.opencode-release.winget: unknown key 'flavour'"),
        ('package = "p"\n', "tool.opencode-release.name: missing; this key is required"),
    ],
)
def test_each_mistake_is_one_line_naming_file_and_key(tmp_path: Path, table: str, message: str) -> None:
    path = write_project(tmp_path, table)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    text = str(caught.value)
    assert text.startswith(str(path))
    assert message in text
    assert "\n" not in text
    assert caught.value.exit_code == 2


def test_missing_file_and_missing_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; pass --project"):
        config.load(tmp_path / "nope.toml")
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    with pytest.raises(ConfigError, match=r"no \[tool.opencode-release\] table"):
        config.load(tmp_path / "pyproject.toml")
