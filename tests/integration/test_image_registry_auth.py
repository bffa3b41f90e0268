"""publish-image and verify-image against a registry that asks for credentials: Debian's docker-registry
(Distribution 2.8) with htpasswd authentication, which answers 401 with a Basic challenge, and with token
authentication, which answers with a Bearer challenge naming a token service (token_server.py) whose JWT it
verifies. The credentials come
from the environment only; missing ones are the caller's mistake (exit 2), wrong ones a refusal (exit 1), each
one line; the password is never printed nor written anywhere."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from opencode_release.core import oci

from .image_helpers import cli
from .registry_server import RegistryServer, htpasswd_file, running_registry
from .token_server import token_service

USER = "release-pusher"


@pytest.fixture(params=["basic", "bearer"])
def locked(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RegistryServer, str]]:
    """Basic: htpasswd. Bearer: the registry's token authentication with a token service (token_server.py)."""
    password = secrets.token_urlsafe(24)
    if request.param == "basic":
        with running_registry(tmp_path / "registry", htpasswd_file(tmp_path / "htpasswd", USER, password)) as server:
            yield server, password
        return
    with (
        token_service(tmp_path / "tokens", USER, password) as tokens,
        running_registry(tmp_path / "registry", token=tokens) as server,
    ):
        yield server, password


def _env(user: str | None, password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (oci.USERNAME_ENV, oci.PASSWORD_ENV)}
    env.update({oci.USERNAME_ENV: user} if user else {})
    env.update({oci.PASSWORD_ENV: password} if password else {})
    return env


def _publish(product: Path, repository: str, env: dict[str, str]) -> tuple[int, str, str]:
    done = cli(
        "publish-image", "--registry", repository, "--project", str(product), "--version", "1.4.0", "--json", env=env
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def _verify(product: Path, reference: str, env: dict[str, str]) -> tuple[int, str, str]:
    root = product.parent / "dist" / "1.4.0"
    done = cli(
        "verify-image",
        reference,
        "--binary",
        "--instance",
        "local",
        "--trusted-root",
        str(root / "sigstore-trusted-root.json"),
        "--json",
        env=env,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def _files_holding(secret: bytes, *folders: Path) -> list[Path]:
    return [
        path
        for folder in folders
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink() and secret in path.read_bytes()
    ]


def test_the_environments_credentials_push_and_verify_and_are_written_nowhere(
    signed_image_product: Path, locked: tuple[RegistryServer, str], tmp_path: Path
) -> None:
    server, password = locked
    repository = f"{server.host}/opencode/locked"
    env = _env(USER, password)
    code, out, err = _publish(signed_image_product, repository, env)
    assert code == 0, err
    pushed = json.loads(out)
    assert pushed["tags"] == ["1.4.0", "1.4", "stable"]
    code, out, err = _verify(signed_image_product, f"{repository}:1.4.0", env)
    assert code == 0, err
    rows = json.loads(out)["artifacts"]
    assert len(rows) == 2 and all(r["ok"] for r in rows) and "binary" in rows[1]["passed"]

    basic = base64.b64encode(f"{USER}:{password}".encode())
    for secret in (password.encode(), basic):
        assert secret not in (out + err).encode()
        assert _files_holding(secret, signed_image_product.parent, tmp_path / "registry") == []


def test_missing_credentials_are_the_callers_to_give(
    signed_image_product: Path, locked: tuple[RegistryServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, password = locked
    repository = f"{server.host}/opencode/anonymous"
    for env in (_env(None, None), _env(USER, None)):
        code, out, err = _publish(signed_image_product, repository, env)
        line = _one_line(err)
        assert code == 2 and json.loads(out)["exit_code"] == 2
        assert "asks for credentials" in line and oci.USERNAME_ENV in line and oci.PASSWORD_ENV in line
        code, out, err = _verify(signed_image_product, f"{repository}:1.4.0", env)
        assert code == 2 and "asks for credentials" in _one_line(err) and not json.loads(out)["ok"]

    monkeypatch.setenv(oci.USERNAME_ENV, USER)
    monkeypatch.setenv(oci.PASSWORD_ENV, password)
    assert oci.Registry(server.host, "opencode/anonymous").tags() == [], "nothing was pushed"


def test_wrong_credentials_are_refused_in_one_line(
    signed_image_product: Path, locked: tuple[RegistryServer, str]
) -> None:
    server, password = locked
    repository = f"{server.host}/opencode/refused"
    wrong = password[::-1]
    code, out, err = _publish(signed_image_product, repository, _env(USER, wrong))
    line = _one_line(err)
    assert code == 1 and json.loads(out)["exit_code"] == 1
    assert f"refused the credentials of {oci.USERNAME_ENV}" in line and wrong not in line

    code, out, err = _verify(signed_image_product, f"{repository}:1.4.0", _env(USER, wrong))
    (row,) = json.loads(out)["artifacts"]
    assert code == 1 and row["failed"]["check"] == "resolve"
    assert "refused the credentials" in row["failed"]["reason"] and wrong not in out + err
