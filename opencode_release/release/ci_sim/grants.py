"""Which jobs get an OIDC token: GitHub's rule, applied to a working copy of the workflows for act.

On GitHub the runner hands a job ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN
only when the job's permissions grant `id-token: write`; act ignores `permissions:` and sets
neither. The simulated runner therefore writes those two variables into the `env:` of exactly the
jobs GitHub would give them to, each with a request token of its own that names the job to the
token endpoint (grants.Grant), and into no other job. Nothing else in the workflows changes.

Effective permissions: a job's own `permissions:`, else the workflow's top-level ones; a job of a
called (reusable) workflow gets at most what the calling job has, and asking for more is refused
as GitHub refuses it before the run starts.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...core.errors import UsageError

URL_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
TOKEN_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 (a variable name)
LOCAL_PREFIX = "./"


@dataclass(frozen=True, slots=True)
class Grant:
    """One job allowed to ask for an OIDC token."""

    request_token: str
    workflow_file: str  # the file the job is defined in (its job_workflow_ref)
    job: str
    environment: str | None


def _grants_id_token(permissions: Any) -> bool:
    if permissions == "write-all":
        return True
    return isinstance(permissions, Mapping) and permissions.get("id-token") == "write"


def _effective(job: Mapping[str, Any], workflow: Mapping[str, Any]) -> Any:
    return job["permissions"] if "permissions" in job else workflow.get("permissions", "write-all")


def grant_id_tokens(
    workflows: Mapping[str, dict[str, Any]], caller: str, token_url: str
) -> tuple[dict[str, dict[str, Any]], list[Grant]]:
    """The workflows with the token variables in the jobs GitHub would give a token to, and the grants.

    `workflows` maps a path relative to the repository root to its parsed document; `caller` is the
    workflow the event starts. Only the caller and the local workflows it calls are changed.
    """
    changed = {path: _copy(doc) for path, doc in workflows.items()}
    grants: list[Grant] = []
    seen_called: dict[str, bool] = {}

    def grant(path: str, name: str, job: dict[str, Any]) -> None:
        request = Grant(secrets.token_urlsafe(24), path, name, _environment(job))
        grants.append(request)
        job["env"] = {
            **job.get("env", {}),
            URL_VARIABLE: f"{token_url}/token?grant={len(grants) - 1}",
            TOKEN_VARIABLE: request.request_token,
        }

    document = changed[caller]
    for name, job in document.get("jobs", {}).items():
        allowed = _grants_id_token(_effective(job, document))
        uses = job.get("uses")
        if isinstance(uses, str) and uses.startswith(LOCAL_PREFIX):
            called_path = uses[len(LOCAL_PREFIX) :]
            if called_path not in changed:
                raise UsageError(f"{caller}: job {name} calls {uses}, which is not in the repository")
            if seen_called.setdefault(called_path, allowed) != allowed:
                raise UsageError(f"{called_path} is called with and without id-token: write; simulate one at a time")
            called = changed[called_path]
            for inner_name, inner in called.get("jobs", {}).items():
                wants = _grants_id_token(inner["permissions"]) if "permissions" in inner else allowed
                if wants and not allowed:
                    raise UsageError(
                        f"{called_path}: the nested job {inner_name!r} is requesting 'id-token: write', but "
                        f"{caller} job {name!r} does not grant it"
                    )
                if wants:
                    grant(called_path, inner_name, inner)
        elif allowed:
            grant(caller, name, job)
    return changed, grants


def _environment(job: Mapping[str, Any]) -> str | None:
    value = job.get("environment")
    if isinstance(value, Mapping):
        return str(value.get("name"))
    return str(value) if value else None


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
