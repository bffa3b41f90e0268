"""in-toto Statement v1 documents and the checks every statement this project writes passes.

The in-toto-attestation bindings (protobuf) reject unknown fields and wrong
types but do not enforce required fields or digest formats; `check_statement`
and the predicate checks in provenance.py add those. Statements are written as
canonical JSON (sorted keys, no spaces): these bytes are the DSSE payload the
signing stage signs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.v1.statement_pb2 import Statement as StatementProto

from ..core.errors import VerificationError
from ..core.formats import canonical_json
from ..core.ledger import Artifact

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
SBOM_STATEMENT_SUFFIX = ".sbom.intoto.json"

# Hex digest lengths by algorithm (in-toto digest set names).
HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, "gitCommit": 40, "sha224": 56}
_HEX = re.compile(r"^[0-9a-f]+$")


def subject_of(artifact: Artifact, name: str | None = None) -> dict[str, Any]:
    return {"name": name or artifact.path, "digest": {"sha256": artifact.sha256}}


def statement(subjects: list[dict[str, Any]], predicate_type: str, predicate: Mapping[str, Any]) -> dict[str, Any]:
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": predicate_type, "predicate": dict(predicate)}


def encode(document: Mapping[str, Any]) -> bytes:
    return canonical_json(document)


def check_digests(where: str, field: str, digests: Any, artifact: str) -> None:
    if not isinstance(digests, Mapping) or not digests:
        raise VerificationError(artifact, "digest", f"{where}.{field}: no digest")
    for algorithm, value in digests.items():
        expected = HEX_LENGTHS.get(str(algorithm))
        if not isinstance(value, str) or not _HEX.match(value) or (expected and len(value) != expected):
            raise VerificationError(
                artifact,
                "digest",
                f"{where}.{field}.{algorithm}: {value!r} is not a lowercase hex digest"
                + (f" of {expected} characters" if expected else ""),
            )


def check_statement(data: bytes, artifact: str, predicate_type: str) -> dict[str, Any]:
    """Parse and check a statement: bindings first, then required fields and digests."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(artifact, "json", f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise VerificationError(artifact, "json", "not a JSON object")
    try:
        proto = json_format.ParseDict(document, StatementProto())
        Statement.copy_from_pb(proto).validate()
    except (json_format.ParseError, ValueError) as exc:
        raise VerificationError(artifact, "in-toto-bindings", str(exc).splitlines()[0]) from exc
    if document.get("predicateType") != predicate_type:
        raise VerificationError(
            artifact, "predicate-type", f"predicateType is {document.get('predicateType')!r}, expected {predicate_type}"
        )
    names = set()
    for index, subject in enumerate(document["subject"]):
        if not subject.get("name"):
            raise VerificationError(artifact, "subject", f"subject[{index}] has no name")
        if subject["name"] in names:
            raise VerificationError(artifact, "subject", f"subject {subject['name']!r} is listed twice")
        names.add(subject["name"])
        if "sha256" not in subject.get("digest", {}):
            raise VerificationError(artifact, "digest", f"subject[{index}].digest has no sha256")
        check_digests(f"subject[{index}]", "digest", subject.get("digest"), artifact)
    return document


def check_subjects_match(document: Mapping[str, Any], expected: list[Artifact], artifact: str) -> None:
    """The statement's subjects are exactly these artifacts, with their recorded digests."""
    found = {s["name"]: s["digest"]["sha256"] for s in document["subject"]}
    wanted = {a.path: a.sha256 for a in expected}
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    if missing or extra:
        raise VerificationError(
            artifact, "subjects", f"subjects differ from the ledger: missing {missing}, not in the ledger {extra}"
        )
    for name, digest in sorted(found.items()):
        if digest != wanted[name]:
            raise VerificationError(
                artifact, "subjects", f"{name}: sha256 {digest} differs from the ledger's {wanted[name]}"
            )


def sbom_statement(subject: Artifact, sbom_document: Mapping[str, Any]) -> dict[str, Any]:
    """Binds an SBOM (the predicate, verbatim) to the digest of the artifact it describes."""
    return statement([subject_of(subject)], CYCLONEDX_PREDICATE, sbom_document)


def check_sbom_statement(data: bytes, artifact: str, subject: Artifact, sbom_bytes: bytes) -> None:
    document = check_statement(data, artifact, CYCLONEDX_PREDICATE)
    check_subjects_match(document, [subject], artifact)
    if document["predicate"] != json.loads(sbom_bytes):
        raise VerificationError(artifact, "predicate", "the predicate is not the SBOM recorded for this subject")
