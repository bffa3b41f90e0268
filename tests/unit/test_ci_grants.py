"""The simulated runner hands OIDC request variables only to jobs GitHub would give a token to."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from opencode_release.core.errors import UsageError
from opencode_release.release.ci_sim import grants, token_endpoint

CALLER = ".github/workflows/release.yml"
CALLED = ".github/workflows/build.yml"


def _workflows(caller_permissions: dict[str, str], attest_permissions: dict[str, str] | None) -> dict[str, Any]:
    attest: dict[str, Any] = {"runs-on": "ubuntu-24.04", "steps": [{"run": "true"}]}
    if attest_permissions is not None:
        attest["permissions"] = attest_permissions
    return {
        CALLER: {
            "permissions": {},
            "jobs": {
                "plan": {"runs-on": "ubuntu-24.04", "permissions": {"contents": "read"}, "steps": [{"run": "true"}]},
                "build": {"uses": f"./{CALLED}", "permissions": caller_permissions},
                "publish": {"runs-on": "ubuntu-24.04", "environment": "stable", "steps": [{"run": "true"}]},
            },
        },
        CALLED: {
            "on": {"workflow_call": {}},
            "jobs": {
                "compile": {"runs-on": "ubuntu-24.04", "permissions": {"contents": "read"}, "steps": [{"run": "true"}]},
                "attest": attest,
            },
        },
    }


def test_only_the_job_granted_id_token_write_gets_the_request_variables() -> None:
    docs = _workflows({"contents": "read", "id-token": "write"}, {"id-token": "write"})
    changed, granted = grants.grant_id_tokens(docs, CALLER, "http://127.0.0.1:1")
    assert [(g.workflow_file, g.job) for g in granted] == [(CALLED, "attest")]
    env = changed[CALLED]["jobs"]["attest"]["env"]
    assert env[grants.URL_VARIABLE] == "http://127.0.0.1:1/token?grant=0"
    assert env[grants.TOKEN_VARIABLE] == granted[0].request_token
    for path, doc in changed.items():
        for name, job in doc["jobs"].items():
            if (path, name) != (CALLED, "attest"):
                assert grants.URL_VARIABLE not in job.get("env", {}), (path, name)
    assert "env" not in docs[CALLED]["jobs"]["attest"]  # the input is not changed


def test_a_called_job_without_permissions_inherits_the_callers() -> None:
    docs = _workflows({"id-token": "write"}, None)
    _, granted = grants.grant_id_tokens(docs, CALLER, "http://x")
    assert [g.job for g in granted] == ["attest"]


def test_a_nested_job_asking_for_more_than_its_caller_grants_is_refused() -> None:
    docs = _workflows({"contents": "read"}, {"id-token": "write"})
    with pytest.raises(UsageError, match="nested job 'attest' is requesting 'id-token: write'"):
        grants.grant_id_tokens(docs, CALLER, "http://x")


def test_a_job_without_permissions_takes_the_workflows_and_empty_means_none() -> None:
    docs = _workflows({"contents": "read"}, None)
    docs[CALLER]["permissions"] = {"id-token": "write"}
    _, granted = grants.grant_id_tokens(docs, CALLER, "http://x")
    assert [g.job for g in granted] == ["publish"]  # plan and build name their own permissions
    assert granted[0].environment == "stable"


RUN = token_endpoint.RunFacts(
    repository="opencode/opencode",
    repository_id="7",
    owner_id="3",
    ref="refs/tags/v1.4.0",
    sha="a" * 40,
    caller=CALLER,
    event_name="push",
)


def test_claims_name_the_reusable_workflow_as_the_job_identity_and_the_caller_as_the_workflow() -> None:
    grant = grants.Grant("t", CALLED, "attest", None)
    claims = token_endpoint.claims_for(grant, RUN, "sigstore", 1000.0)
    assert claims["job_workflow_ref"] == "opencode/opencode/.github/workflows/build.yml@refs/tags/v1.4.0"
    assert claims["workflow_ref"] == "opencode/opencode/.github/workflows/release.yml@refs/tags/v1.4.0"
    assert claims["sub"] == "repo:opencode/opencode:ref:refs/tags/v1.4.0"
    assert claims["iss"] == "https://token.actions.githubusercontent.com" and claims["aud"] == "sigstore"
    assert (claims["ref_type"], claims["runner_environment"], claims["sha"]) == ("tag", "github-hosted", "a" * 40)
    assert claims["exp"] - claims["iat"] == token_endpoint.LIFETIME_SECONDS
    with_environment = token_endpoint.claims_for(grants.Grant("t", CALLER, "publish", "stable"), RUN, "x", 0)
    assert with_environment["sub"] == "repo:opencode/opencode:environment:stable"
    assert with_environment["environment"] == "stable"


def test_the_endpoint_answers_only_the_grants_request_token() -> None:
    granted = [grants.Grant("secret-one", CALLED, "attest", None)]
    with token_endpoint.serving(granted, RUN, lambda claims: json.dumps(dict(claims))) as url:

        def ask(token: str, grant: int = 0) -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(  # noqa: S310 (the endpoint on 127.0.0.1)
                f"{url}/token?grant={grant}&audience=sigstore", headers={"Authorization": f"bearer {token}"}
            )
            try:
                with urllib.request.urlopen(request) as answer:  # noqa: S310
                    return answer.status, json.load(answer)
            except urllib.error.HTTPError as exc:
                return exc.code, json.load(exc)

        status, body = ask("secret-one")
        assert status == 200 and json.loads(body["value"])["job_workflow_ref"].endswith("build.yml@refs/tags/v1.4.0")
        assert ask("secret-two")[0] == 401
        assert ask("")[0] == 401
        assert ask("secret-one", grant=5)[0] == 404
