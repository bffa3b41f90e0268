"""Checks on signed in-toto statements: SLSA provenance and SBOM statements.

They read the statement from the verified DSSE payload, never from a file
that was not signed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from ..core.errors import VerificationError
from ..core.names import SLSA_PROVENANCE_V1
from .identity_policy import Policy, matches
from .release_files import parse_json

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
CYCLONEDX = "https://cyclonedx.org/bom"


def _shown(value: object, limit: int = 200) -> str:
    """A value from the statement, fit for a one-line message: control and separator characters
    (a newline, NEL, U+2028) escaped, long values cut."""
    text = "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c)[0] in "CZ" and c != " " else c
        for c in str(value)[: limit + 1]
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Statement:
    predicate_type: str
    digests: frozenset[str]  # sha256 of every subject
    predicate: dict[str, Any]


def parse_statement(name: str, check: str, payload_type: str, payload: bytes) -> Statement:
    if payload_type != IN_TOTO_PAYLOAD:
        raise VerificationError(name, check, f"DSSE payload type is {_shown(payload_type)!r}, not {IN_TOTO_PAYLOAD}")
    try:
        data = parse_json(payload, "the statement")
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("_type") != STATEMENT_V1:
            raise ValueError(f"_type is {_shown(repr(data.get('_type')))}, not {STATEMENT_V1}")
        digests = frozenset(str(s["digest"]["sha256"]) for s in data["subject"])
        predicate = data.get("predicate") or {}
        if not isinstance(predicate, dict):
            raise ValueError("predicate is not an object")
        return Statement(str(data["predicateType"]), digests, predicate)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerificationError(name, check, f"not an in-toto Statement v1: {_shown(exc)}") from None


def verify_dsse_payload(name: str, payload: bytes, file_bytes: bytes) -> None:
    if payload != file_bytes:
        raise VerificationError(name, "dsse-payload", "the statement file differs from the payload its bundle signs")


# -- provenance: once per release, then a lookup per artifact ---------------------


def verify_provenance_type(name: str, statement: Statement) -> None:
    if statement.predicate_type != SLSA_PROVENANCE_V1:
        raise VerificationError(
            name,
            "provenance-type",
            f"predicateType is {_shown(repr(statement.predicate_type))}, expected {SLSA_PROVENANCE_V1}",
        )


def _field(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def provenance_builder(statement: Statement) -> str:
    return str(_field(statement.predicate, "runDetails", "builder", "id") or "")


def provenance_source(statement: Statement) -> tuple[str, str]:
    """Source repository and ref, from the external parameters (flat, `source` or GitHub's `workflow`)."""
    params = _field(statement.predicate, "buildDefinition", "externalParameters")
    if not isinstance(params, dict):  # absent, or hostile (a list, a string): names no source
        return "", ""
    for holder in (params, params.get("source"), params.get("workflow")):
        if isinstance(holder, dict) and holder.get("repository"):
            return str(holder["repository"]), str(holder.get("ref") or "")
    return "", ""


def verify_provenance_builder(name: str, statement: Statement, policy: Policy) -> None:
    builder = provenance_builder(statement)
    if not matches(policy.builder_id, builder):
        raise VerificationError(
            name,
            "provenance-builder",
            f"built by {_shown(builder) or 'an unnamed builder'}, expected {policy.builder_id}",
        )


def verify_provenance_source(name: str, statement: Statement, policy: Policy) -> None:
    repository, ref = provenance_source(statement)
    if repository.removesuffix(".git") != policy.source_repository.removesuffix(".git"):
        raise VerificationError(
            name,
            "provenance-source",
            f"built from {_shown(repository) or 'an unnamed repository'}, expected {policy.source_repository}",
        )
    if not matches(policy.source_ref, ref):
        raise VerificationError(
            name, "provenance-source", f"built from ref {_shown(ref) or '(none)'}, expected {policy.source_ref}"
        )


def verify_provenance_release(name: str, statement: Statement, policy: Policy) -> None:
    verify_provenance_type(name, statement)
    verify_provenance_builder(name, statement, policy)
    verify_provenance_source(name, statement, policy)


def verify_provenance_version(name: str, statement: Statement, version: str) -> None:
    """The provenance's external `version` parameter, when it has one, is the release's."""
    found = _field(statement.predicate, "buildDefinition", "externalParameters", "version")
    if found is not None and found != version:
        raise VerificationError(
            name, "version", f"the provenance is for version {_shown(found)}; the release is {version}"
        )


def verify_provenance_subject(name: str, statement: Statement, sha256: str) -> None:
    if sha256 not in statement.digests:
        raise VerificationError(
            name,
            "provenance-subject",
            f"the provenance names no subject with sha256:{sha256}; it was made for another artifact",
        )


# -- SBOM statements -------------------------------------------------------------


def verify_sbom_statement(name: str, statement: Statement, sha256: str) -> None:
    if statement.predicate_type != CYCLONEDX:
        raise VerificationError(
            name, "sbom-statement", f"predicateType is {_shown(repr(statement.predicate_type))}, expected {CYCLONEDX}"
        )
    if sha256 not in statement.digests:
        raise VerificationError(
            name,
            "sbom-statement",
            f"the SBOM statement is bound to "
            f"{_shown(', '.join(sorted(statement.digests))) or 'no digest'}, not sha256:{sha256}",
        )
