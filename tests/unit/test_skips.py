"""--skip: which stages may be left out, and which a real release of each channel refuses to leave out."""

from __future__ import annotations

import pytest

from opencode_release.core import config
from opencode_release.core.errors import CheckFailed, UsageError
from opencode_release.core.ledger import Ledger
from opencode_release.core.stage import CollectingReporter, Context
from opencode_release.lifecycle import release_rules
from opencode_release.release import pipeline
from tests.conftest import PRODUCT


def test_only_known_stages_can_be_left_out_and_sign_takes_verify_along() -> None:
    assert pipeline.check_skips(("smoke", "homebrew", "smoke")) == ("smoke", "homebrew")
    assert pipeline.check_skips(("sign",)) == ("sign", "verify")
    with pytest.raises(UsageError, match="--skip build: not a stage that can be left out; expected smoke"):
        pipeline.check_skips(("build",))


def _ctx(ledger: Ledger, skip: tuple[str, ...], *, snapshot: bool, channel: str = "stable") -> Context:
    ledger.channel = channel
    settings = config.load(PRODUCT / "pyproject.toml")
    return Context(settings, ledger, CollectingReporter(), (), snapshot=snapshot, skip=skip)


@pytest.mark.parametrize(("channel", "skip"), [("stable", "smoke"), ("lts/1.4", "publish"), ("nightly", "sign")])
def test_a_real_release_refuses_to_leave_out_what_its_channel_requires(ledger: Ledger, channel: str, skip: str) -> None:
    with pytest.raises(CheckFailed, match=rf"rule required-stages: .* drop --skip {skip} or cut a --snapshot"):
        release_rules.check_required_stages(_ctx(ledger, (skip, "homebrew"), snapshot=False, channel=channel))


def test_what_a_channel_does_not_require_and_any_snapshot_may_be_left_out(ledger: Ledger) -> None:
    release_rules.check_required_stages(_ctx(ledger, ("homebrew", "winget", "index-upload"), snapshot=False))
    release_rules.check_required_stages(_ctx(ledger, ("publish",), snapshot=False, channel="nightly"))
    release_rules.check_required_stages(_ctx(ledger, ("smoke", "sign", "verify", "publish"), snapshot=True))
