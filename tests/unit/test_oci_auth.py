"""The registry client's answers to authentication challenges that need no registry to refuse."""

from __future__ import annotations

import pytest

from opencode_release.core import oci


def test_a_token_realm_over_plain_http_elsewhere_than_loopback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(oci.USERNAME_ENV, "someone")
    monkeypatch.setenv(oci.PASSWORD_ENV, "not-sent")
    registry = oci.Registry("registry.example", "opencode/cli")
    with pytest.raises(oci.RegistryError, match="credentials go over HTTPS only"):
        registry._authenticate('Bearer realm="http://tokens.example/token",service="registry.example"')
    assert registry._auth == {}


def test_a_basic_challenge_without_credentials_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(oci.USERNAME_ENV, raising=False)
    monkeypatch.setenv(oci.PASSWORD_ENV, "half")
    with pytest.raises(oci.CredentialsMissing, match=oci.USERNAME_ENV) as raised:
        oci.Registry("registry.example", "opencode/cli")._authenticate('Basic realm="r"')
    assert raised.value.exit_code == 2


def test_an_unknown_scheme_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(oci.USERNAME_ENV, "someone")
    monkeypatch.setenv(oci.PASSWORD_ENV, "secret")
    with pytest.raises(oci.RegistryError, match=r"does not answer: 'Negotiate'$"):
        oci.Registry("registry.example", "opencode/cli")._authenticate("Negotiate\nabc")
