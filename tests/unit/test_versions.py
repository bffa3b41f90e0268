from __future__ import annotations

import pytest

from opencode_release.core.errors import VersionError
from opencode_release.core.versions import Version


def test_releases_order_numerically() -> None:
    assert Version.parse("1.10.0") > Version.parse("1.9.3")
    assert Version.parse("1.4.3") > Version.parse("1.4.0")


def test_nightly_sorts_between_previous_patch_and_its_release() -> None:
    nightly = Version.parse("1.5.0-nightly.20261123+gabc1234")
    assert Version.parse("1.4.9") < nightly < Version.parse("1.5.0")


def test_nightlies_order_by_date() -> None:
    assert Version.parse("1.5.0-nightly.20261122+gaaaaaaa") < Version.parse("1.5.0-nightly.20261123+gbbbbbbb")


def test_nightly_constructor_bumps_patch() -> None:
    version = Version.nightly(Version.parse("1.4.0"), "20261123", "abc1234def")
    assert str(version) == "1.4.1-nightly.20261123+gabc1234"
    assert version.is_nightly and version.commit == "abc1234" and version.nightly_date == "20261123"


def test_debian_form_keeps_nightly_before_release() -> None:
    assert Version.parse("1.5.0-nightly.20261123+gabc1234").debian() == "1.5.0~nightly.20261123+gabc1234"


@pytest.mark.parametrize("text", ["1.4", "v1.4.0", "01.4.0", "1.4.0-", "banana"])
def test_malformed_versions_are_refused(text: str) -> None:
    with pytest.raises(VersionError, match="not a semantic version"):
        Version.parse(text)


def test_nightly_needs_a_date_and_commit() -> None:
    with pytest.raises(VersionError, match=r"nightly\.YYYYMMDD"):
        Version.parse("1.5.0-nightly.2026+gabc1234")
    with pytest.raises(VersionError, match="g<shortsha>"):
        Version.parse("1.5.0-nightly.20261123")
