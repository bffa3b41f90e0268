"""When the wheel and index stages run, and what they refuse, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencode_release.core.errors import ConfigError
from opencode_release.manifests import package_index
from opencode_release.manifests.stages import IndexUploadStage, PythonDistsStage
from tests.fake_release import fake_release


def test_no_index_configured_skips_the_upload(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=())
    assert IndexUploadStage().skip(ctx) == "no package index configured (index.url)"


def test_an_index_without_a_wheel_skips_the_upload(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=(), toml={"index": 'url = "http://127.0.0.1:9/"'})
    assert IndexUploadStage().skip(ctx) == "no wheel in this release"


def test_a_release_version_other_than_the_products_builds_no_wheel(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, version="1.5.0-nightly.20261123+gabc1234", channel="nightly", only=())
    assert PythonDistsStage().skip(ctx) == (
        "the product's [project] version 1.4.0 is not the release version 1.5.0-nightly.20261123+gabc1234; no wheel"
    )
    assert PythonDistsStage().skip(fake_release(tmp_path / "same", only=())) is None


def test_upload_without_a_password_is_refused_before_twine_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in package_index.PASSWORD_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(
        ConfigError,
        match=r"^no package index password: set OPENCODE_INDEX_PASSWORD or "
        r"TWINE_PASSWORD",
    ):
        package_index.upload("http://127.0.0.1:9/", "__token__", [tmp_path / "x.whl"])
