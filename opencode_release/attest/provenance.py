"""SLSA v1.0 provenance of a release: one in-toto statement over every deliverable.

The buildType is this project's own and is documented in docs/build-type.md.
Snapshots are reproducible: builder id, invocation id and times derive from
the source and SOURCE_DATE_EPOCH. In GitHub Actions the builder is the
workflow identity and the times are the run's.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import importlib.metadata
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1.provenance_pb2 import Provenance

from .. import __version__
from ..core.errors import VerificationError
from ..core.ledger import UPLOADABLE, Artifact, ArtifactKind, Ledger
from ..core.names import SLSA_PROVENANCE_V1, local_builder_id
from . import statements

BUILD_TYPE = "https://opencode.example.org/opencode-release/build-types/nuitka-onefile/v1"
# Evidence written after the provenance (or about it) is not one of its subjects.
AFTER_PROVENANCE = frozenset(
    {
        ArtifactKind.PROVENANCE,
        ArtifactKind.INTOTO_LINK,
        ArtifactKind.INTOTO_LAYOUT,
        ArtifactKind.SIGSTORE_BUNDLE,
        ArtifactKind.TRUST_ROOT,
        ArtifactKind.RELEASE_STATEMENT,  # lists the provenance itself
    }
)
DELIVERABLE_KINDS = tuple(sorted(UPLOADABLE - AFTER_PROVENANCE))
EXTERNAL_KEYS = ("repository", "ref", "version", "channel", "targets")
_INVOCATION_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://opencode.example.org/opencode-release/invocation")


def deliverables(ledger: Ledger) -> list[Artifact]:
    """What the provenance speaks for: every uploadable artifact made before it."""
    return sorted((a for a in ledger.artifacts if a.kind in DELIVERABLE_KINDS), key=lambda a: a.path)


@dataclass(frozen=True, slots=True)
class Run:
    """Who ran the release and when."""

    builder_id: str
    invocation_id: str
    started_on: str
    finished_on: str


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_run(ledger: Ledger, started: dt.datetime, *, snapshot: bool, env: Mapping[str, str] | None = None) -> Run:
    """CI identity when GITHUB_ACTIONS is set; else the product's local builder (named after its
    repository: the [local] builder-id of the policy `init` writes), whose snapshots take their
    times from SOURCE_DATE_EPOCH (so the statement is reproducible)."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true":
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        run = (
            f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env.get('GITHUB_RUN_ID', '')}"
            f"/attempts/{env.get('GITHUB_RUN_ATTEMPT', '1')}"
        )
        now = dt.datetime.now(dt.UTC)
        return Run(f"{server}/{env.get('GITHUB_WORKFLOW_REF', '')}", run, _rfc3339(started), _rfc3339(now))
    local = local_builder_id(ledger.source.repository, ledger.product)
    if not snapshot:
        now = dt.datetime.now(dt.UTC)
        return Run(local, f"urn:uuid:{uuid.uuid4()}", _rfc3339(started), _rfc3339(now))
    epoch = _rfc3339(dt.datetime.fromtimestamp(ledger.source.epoch, dt.UTC))
    seed = f"{ledger.product} {ledger.version} {ledger.source.commit} {ledger.source.epoch}"
    return Run(local, f"urn:uuid:{uuid.uuid5(_INVOCATION_NS, seed)}", epoch, epoch)


def _record_digest(dist: importlib.metadata.Distribution) -> str:
    # RECORD lists every installed file with its hash: its digest pins the whole install.
    return hashlib.sha256((dist.read_text("RECORD") or "").encode()).hexdigest()


def build_lock() -> bytes:
    """`name==version sha256-of-RECORD` for every distribution in the build environment.

    A release asks twice (the stage's fingerprint, then the statement): the answer is
    kept while the *.dist-info and *.egg-info folders on sys.path stay the same (installing,
    upgrading or removing a distribution adds or removes one: their names carry the version).
    """
    return _build_lock(_environment_key())


def _environment_key() -> tuple[tuple[str, tuple[str, ...]], ...]:
    key = []
    for entry in sys.path:
        try:
            names = tuple(
                sorted(p.name for p in Path(entry or ".").iterdir() if p.name.endswith((".dist-info", ".egg-info")))
            )
        except OSError:  # not a folder (a zip file, or gone)
            names = ()
        key.append((entry, names))
    return tuple(key)


@functools.lru_cache(maxsize=1)
def _build_lock(environment: tuple[tuple[str, tuple[str, ...]], ...]) -> bytes:
    lines = set()
    for dist in importlib.metadata.distributions():
        # `dist.metadata` parses METADATA afresh on every access (and `dist.version` is one):
        # read it once per distribution.
        meta = dist.metadata
        if meta["Name"]:
            lines.add(f"{meta['Name'].lower()}=={meta['Version']} record-sha256={_record_digest(dist)}")
    return ("\n".join(sorted(lines)) + "\n").encode()


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resolved_dependencies(ledger: Ledger, build_targets: tuple[str, ...]) -> list[dict[str, Any]]:
    source = ledger.source
    deps: list[dict[str, Any]] = [
        {
            "uri": f"git+{source.repository}@{source.ref}" if source.ref else f"git+{source.repository}",
            "digest": {"gitCommit": source.commit},
            "name": "source",
        }
    ]
    binaries = sorted((b for b in ledger.by_kind(ArtifactKind.BINARY) if b.target), key=lambda b: b.id)
    for binary in binaries:
        python, nuitka = binary.facts.get("python_version"), binary.facts.get("nuitka_version")
        here = binary.target in build_targets
        if python:
            entry: dict[str, Any] = {
                "name": "python",
                "uri": f"pkg:generic/cpython@{python}",
                "annotations": {"target": binary.target},
            }
            if here:
                entry["digest"] = {"sha256": _file_sha256(Path(os.path.realpath(sys.executable)))}
            deps.append(entry)
        if nuitka:
            entry = {"name": "nuitka", "uri": f"pkg:pypi/nuitka@{nuitka}", "annotations": {"target": binary.target}}
            if here:
                entry["digest"] = {"sha256": _record_digest(importlib.metadata.distribution("nuitka"))}
            deps.append(entry)
        environment = binary.facts.get("build_environment")
        if isinstance(environment, dict) and isinstance(environment.get("lock"), str):
            # The product's own build environment: exactly what was installed where it compiled.
            product_lock = environment["lock"].encode()
            deps.append(
                {
                    "name": "product-build-environment.lock",
                    "mediaType": "text/plain",
                    "annotations": {"target": binary.target, "from": str(environment.get("source", ""))},
                    "digest": {"sha256": hashlib.sha256(product_lock).hexdigest()},
                    "content": base64.b64encode(product_lock).decode(),
                }
            )
    lock = build_lock()
    deps.append(
        {
            "name": "build-dependencies.lock",
            "mediaType": "text/plain",
            "digest": {"sha256": hashlib.sha256(lock).hexdigest()},
            "content": base64.b64encode(lock).decode(),
        }
    )
    return deps


def make_provenance(
    ledger: Ledger, *, targets: tuple[str, ...], build_targets: tuple[str, ...], snapshot: bool, run: Run
) -> dict[str, Any]:
    source = ledger.source
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "repository": source.repository,
                "ref": source.ref,
                "version": ledger.version,
                "channel": ledger.channel,
                "targets": sorted(targets),
                "snapshot": snapshot,
            },
            "internalParameters": {
                "pipeline": f"opencode-release {__version__}",
                "sourceDateEpoch": source.epoch,
                "buildTargetsHere": sorted(build_targets),
                "nuitkaMode": "onefile",
            },
            "resolvedDependencies": resolved_dependencies(ledger, build_targets),
        },
        "runDetails": {
            "builder": {"id": run.builder_id},
            "metadata": {"invocationId": run.invocation_id, "startedOn": run.started_on, "finishedOn": run.finished_on},
            "byproducts": [
                {"name": r.path, "digest": {"sha256": r.sha256}, "mediaType": "application/xml"}
                for r in sorted(ledger.by_kind(ArtifactKind.BUILD_REPORT), key=lambda r: r.path)
            ],
        },
    }
    subjects = [statements.subject_of(a) for a in deliverables(ledger)]
    return statements.statement(subjects, SLSA_PROVENANCE_V1, predicate)


def check_provenance(data: bytes, artifact: str) -> dict[str, Any]:
    """Bindings (unknown fields, types), then the fields SLSA requires and the bindings do not enforce."""
    document = statements.check_statement(data, artifact, SLSA_PROVENANCE_V1)
    predicate = document["predicate"]
    try:
        json_format.ParseDict(predicate, Provenance())
    except json_format.ParseError as exc:
        raise VerificationError(artifact, "in-toto-bindings", str(exc).splitlines()[0]) from exc
    definition = predicate.get("buildDefinition") or {}
    if definition.get("buildType") != BUILD_TYPE:
        raise VerificationError(
            artifact, "build-type", f"buildType is {definition.get('buildType')!r}, expected {BUILD_TYPE}"
        )
    external = definition.get("externalParameters") or {}
    missing = [k for k in EXTERNAL_KEYS if k not in external]
    if missing:
        raise VerificationError(artifact, "external-parameters", f"externalParameters lacks {', '.join(missing)}")
    dependencies = definition.get("resolvedDependencies") or []
    if not any("gitCommit" in (d.get("digest") or {}) for d in dependencies):
        raise VerificationError(artifact, "resolved-dependencies", "no source commit (a gitCommit digest)")
    for index, dep in enumerate(dependencies):
        if not (dep.get("uri") or dep.get("digest") or dep.get("content")):
            raise VerificationError(
                artifact, "resolved-dependencies", f"resolvedDependencies[{index}] has none of uri, digest, content"
            )
        if "digest" in dep:
            statements.check_digests(f"resolvedDependencies[{index}]", "digest", dep["digest"], artifact)
    run = predicate.get("runDetails") or {}
    if not (run.get("builder") or {}).get("id"):
        raise VerificationError(artifact, "builder", "runDetails.builder.id is missing")
    metadata = run.get("metadata") or {}
    for key in ("invocationId", "startedOn", "finishedOn"):
        if not metadata.get(key):
            raise VerificationError(artifact, "run-metadata", f"runDetails.metadata.{key} is missing")
    if metadata["startedOn"] > metadata["finishedOn"]:
        raise VerificationError(artifact, "run-metadata", "runDetails.metadata.startedOn is after finishedOn")
    for index, byproduct in enumerate(run.get("byproducts") or []):
        statements.check_digests(f"byproducts[{index}]", "digest", byproduct.get("digest"), artifact)
    return document


def verify_against_ledger(data: bytes, artifact: str, ledger: Ledger) -> dict[str, Any]:
    """A well-formed provenance whose subjects are exactly the ledger's deliverables and digests."""
    document = check_provenance(data, artifact)
    statements.check_subjects_match(document, deliverables(ledger), artifact)
    return document
