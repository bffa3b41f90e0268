"""Trust and policy for verification: trusted roots, the packaged policy, finding releases, bundle format."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencode_release.core import config
from opencode_release.core.errors import UsageError, VerificationError
from opencode_release.core.ledger import MANIFEST_NAME
from opencode_release.core.names import local_builder_id
from opencode_release.verify import identity_policy, policy_template
from opencode_release.verify.bundles import BundleVerifier
from opencode_release.verify.release import find_releases
from tests.conftest import PRODUCT, write_project


def test_packaged_policy_pins_the_reusable_build_workflow_for_production() -> None:
    policy = identity_policy.load_policy("production", None, {})
    assert policy.issuer == "https://token.actions.githubusercontent.com"
    assert identity_policy.matches(
        policy.identity, "https://github.com/opencode/opencode/.github/workflows/build.yml@refs/tags/v1.4.0"
    )
    assert not identity_policy.matches(
        policy.identity, "https://github.com/opencode/opencode/.github/workflows/build.yml@refs/heads/main"
    )
    assert not identity_policy.matches(
        policy.identity, "https://github.com/mallory/opencode/.github/workflows/build.yml@refs/tags/v1.4.0"
    )
    assert identity_policy.matches("release@opencode.local", "release@opencode.local")
    assert not identity_policy.matches("release@opencode.local", "release@opencode.locals")


def test_flags_override_the_policy_file_and_bad_files_are_usage_errors(tmp_path: Path) -> None:
    assert identity_policy.load_policy("local", None, {"identity": "me@example.org"}).identity == "me@example.org"
    bad = tmp_path / "policy.toml"
    bad.write_text('[local]\nidentity = "x"\ncolour = "blue"\n')
    with pytest.raises(UsageError, match=r"unknown keys \['colour'\]"):
        identity_policy.load_policy("local", str(bad), {})
    bad.write_text('[local]\nidentity = "x"\n')
    with pytest.raises(UsageError, match="sets no builder-id, issuer, source-ref, source-repository"):
        identity_policy.load_policy("local", str(bad), {})


def test_shipped_production_root_loads_offline_and_unknown_instances_are_refused(tmp_path: Path) -> None:
    trust = identity_policy.load_trusted_root("production", None, None)
    # sigstore-python's package data, not its TUF cache: no network, no home folder.
    assert identity_policy.shipped_trusted_root_path("production").is_file()
    assert trust.root.get_fulcio_certs() and trust.root._inner.tlogs and trust.root._inner.ctlogs
    with pytest.raises(UsageError, match="expected one of production, staging, local"):
        identity_policy.load_trusted_root("public", None, None)
    with pytest.raises(UsageError, match="no local Sigstore trusted root"):
        identity_policy.load_trusted_root("local", None, tmp_path / "missing.json")
    (tmp_path / "root.json").write_text('{"mediaType": "text/plain"}')
    with pytest.raises(UsageError, match="not a usable Sigstore trusted root"):
        identity_policy.load_trusted_root(None, str(tmp_path / "root.json"), None)
    (tmp_path / "root.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(UsageError, match="not a usable Sigstore trusted root"):
        identity_policy.load_trusted_root(None, str(tmp_path / "root.json"), None)


def test_a_channel_table_overrides_its_instance_and_flags_replace_certificate_rules() -> None:
    nightly = identity_policy.load_policy("production", None, {}, "nightly")
    assert nightly.identity.endswith("/build.yml@refs/heads/main")
    assert nightly.claims["source-repository-ref"] == "refs/heads/main"
    assert nightly.claims["runner-environment"] == "github-hosted"
    assert identity_policy.load_policy("production", None, {}, "lts/1.2").claims["source-repository-ref"] == (
        "refs/tags/v*"
    )
    given = identity_policy.load_policy("production", None, {"identity": "me@example.org", "issuer": "https://x"})
    assert (given.identity, given.issuer, dict(given.claims)) == ("me@example.org", "https://x", {})


def test_find_releases_in_a_release_its_manifest_or_a_channel(tmp_path: Path) -> None:
    for version in ("1.3.0", "1.4.0"):
        (tmp_path / "stable" / version).mkdir(parents=True)
        (tmp_path / "stable" / version / MANIFEST_NAME).write_text("{}")
    assert find_releases(tmp_path / "stable" / "1.4.0") == [tmp_path / "stable" / "1.4.0"]
    assert find_releases(tmp_path / "stable" / "1.4.0" / MANIFEST_NAME) == [tmp_path / "stable" / "1.4.0"]
    assert find_releases(tmp_path / "stable") == [tmp_path / "stable" / "1.3.0", tmp_path / "stable" / "1.4.0"]
    with pytest.raises(UsageError, match="no release here"):
        find_releases(tmp_path / "nightly")


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "failed to load bundle"),
        (b"[1, 2]", "failed to load bundle"),
        (b'{"mediaType": "application/json"}', "failed to load bundle"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "recursion limit exceeded"),
        (b'{"mediaType": "\xff"}', "invalid unicode code point"),
        (b'{"mediaType": 1e400}', "failed to load bundle"),
    ],
)
def test_bundle_format_reasons(raw: bytes, reason: str) -> None:
    """What sigstore-python cannot read is a `bundle-format` refusal on one line, never a traceback."""
    with pytest.raises(VerificationError) as caught:
        BundleVerifier.parse("a.tar.gz", raw)
    assert caught.value.check == "bundle-format" and reason in caught.value.reason
    assert "\n" not in caught.value.reason


def test_a_bundle_bigger_than_any_sigstore_bundle_is_refused_unread() -> None:
    with pytest.raises(VerificationError, match="more than any Sigstore bundle") as caught:
        BundleVerifier.parse("a.tar.gz", b" " * (17 << 20))
    assert caught.value.check == "bundle-format"


def test_the_packaged_policy_is_the_one_init_writes_for_the_sample() -> None:
    sample = config.load(PRODUCT / "pyproject.toml")
    assert identity_policy.packaged_policy_text() == policy_template.for_product(
        sample, policy_template.PACKAGED_READ_BY
    )
    where, text = policy_template.product_policy(sample)  # product/ ships no file: the derived one
    assert "not written yet" in where and text == policy_template.for_product(sample)


def test_a_product_s_policy_pins_its_own_repository_and_local_builder(tmp_path: Path) -> None:
    settings = config.load(
        write_project(tmp_path, 'name = "mytool"\npackage = "p"\nrepository = "https://github.com/newcomer/mytool"\n')
    )
    where, text = policy_template.product_policy(settings)
    local = identity_policy.load_policy("local", where, {}, text=text)
    assert local.builder_id == local_builder_id("https://github.com/newcomer/mytool", "mytool")
    assert (local.identity, local.source_repository) == ("release@mytool.local", "https://github.com/newcomer/mytool")
    assert local.builder_id != identity_policy.load_policy("local", None, {}).builder_id  # not the sample's
    (tmp_path / "identity-policy.toml").write_text(text.replace("release@mytool.local", "ci@mytool.example.net"))
    where, text = policy_template.product_policy(settings)  # the product's file wins over the derived one
    assert where == str(tmp_path / "identity-policy.toml")
    assert identity_policy.load_policy("local", where, {}, text=text).identity == "ci@mytool.example.net"
    (tmp_path / "norepo").mkdir()
    without = config.load(write_project(tmp_path / "norepo", 'name = "mytool"\npackage = "p"\n'))
    with pytest.raises(UsageError, match=r"mytool: no source repository \(\[project.urls\] Repository\)"):
        policy_template.for_product(without)
