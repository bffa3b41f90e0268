"""Metadata refresh: a quiet channel's metadata is re-signed before clients would see it expire."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from opencode_release.channels import update_client
from opencode_release.channels.update_client import UpdateError
from tests.integration.channel_helpers import NOW, TARGET, assert_consistent, make_ledger, repository, serve

pytestmark = pytest.mark.integration


def _check(url: str, cache: Path, public: Path) -> update_client.Update | None:
    return update_client.check(url, "stable", cache, target=TARGET, trusted_root=public / "metadata/1.root.json")


def test_refresh_resigns_what_would_expire_and_clients_accept_it_again(tmp_path: Path) -> None:
    public, keys = tmp_path / "public", tmp_path / "keys"
    repository(public, keys, now=NOW - dt.timedelta(days=10)).publish(
        make_ledger(tmp_path / "dist", "1.4.0", b"x"), ["stable"]
    )
    with serve(public) as url:
        with pytest.raises(UpdateError, match="ExpiredMetadataError"):  # timestamps live 7 days
            _check(url, tmp_path / "cache", public)
        assert repository(public, keys).refresh().status == "refreshed"
        assert_consistent(public)
        update = _check(url, tmp_path / "cache", public)
    assert update is not None and update.version == "1.4.0"
    assert repository(public, keys, now=NOW + dt.timedelta(hours=1)).refresh().status == "unchanged"
