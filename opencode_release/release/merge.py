"""Combine partial ledgers built elsewhere into the release's ledger.

Each CI build job writes a partial ledger (its target's binary and build
report) beside the files. `merge` checks every partial against the release
first, and only then copies anything: a refused merge writes nothing.
Refused: a different product, version, tag or source commit, the same
artifact twice with different bytes (two builds of one target that disagree),
and any path that breaks the path rule (core/fsio.py): a build job runs every
dependency's code, so its ledger's paths are data from outside; they are
checked where they are read and where they would be written, before the
first copy.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..build import archives
from ..core.errors import MergeError
from ..core.fsio import inside
from ..core.ledger import MANIFEST_NAME, Artifact, ArtifactKind, Ledger, file_digest
from ..core.names import BUNDLE_SUFFIX, PROVENANCE_NAME, RELEASE_STATEMENT_NAME, SLSA_PROVENANCE_V1


@dataclass(frozen=True, slots=True)
class Imported:
    artifact: Artifact
    source: Path  # the file in the partial's folder


def find_partials(folder: Path) -> list[Ledger]:
    """Every release manifest under `folder`, in a stable order."""
    if not folder.is_dir():
        raise MergeError(f"{folder}: no such folder; pass --from the folder the build jobs' artifacts were put in")
    found = sorted(folder.rglob(MANIFEST_NAME))
    if not found:
        raise MergeError(f"{folder}: no {MANIFEST_NAME} under it; is this where the partial ledgers were downloaded?")
    source = f"--from {folder}"
    return [Ledger.load(inside(folder, path.relative_to(folder).as_posix(), source=source)) for path in found]


def _check_same_release(ledger: Ledger, partial: Ledger) -> None:
    sides = (
        ("product", ledger.product, partial.product),
        ("version", ledger.version, partial.version),
        ("tag", ledger.source.ref, partial.source.ref),
        ("source commit", ledger.source.commit, partial.source.commit),
    )
    for what, ours, theirs in sides:
        if ours != theirs:
            raise MergeError(
                f"{partial.path} has {what} {theirs or '(none)'!r} but {ledger.path} has {ours or '(none)'!r}; "
                "partial ledgers must come from one run over one commit"
            )


def plan(ledger: Ledger, partials: list[Ledger]) -> list[Imported]:
    """What merging would import; raises MergeError before anything is written."""
    chosen: dict[str, tuple[Imported, Ledger | None]] = {}
    for partial in partials:
        _check_same_release(ledger, partial)
        for artifact in partial.artifacts:
            if artifact.target is None:
                continue  # release-wide files (sums, signatures) are made again after the merge
            source = partial.file(artifact)
            if not partial.verify_file(artifact):
                raise MergeError(f"{source}: does not match its record in {partial.path}; download it again")
            if artifact.id in chosen:
                earlier, where = chosen[artifact.id]
                other = where.path if where else ledger.path
                if earlier.artifact.sha256 != artifact.sha256:
                    raise MergeError(_conflict(artifact, partial.path, earlier.artifact, other))
                continue
            if artifact.id in ledger:
                existing = ledger.get(artifact.id)
                if existing.sha256 != artifact.sha256:
                    raise MergeError(_conflict(artifact, partial.path, existing, ledger.path))
                chosen[artifact.id] = (Imported(existing, ledger.file(existing)), None)
                continue
            ledger.file(artifact)  # where it will be copied to: the path rule, before any copy
            chosen[artifact.id] = (Imported(artifact, source), partial)
    return [item for item, where in chosen.values() if where is not None]


def _conflict(artifact: Artifact, side: Path, other: Artifact, other_side: Path) -> str:
    return (
        f"target {artifact.target}: {artifact.path} in {side} (sha256 {artifact.sha256[:12]}…) differs from "
        f"{other.path} in {other_side} (sha256 {other.sha256[:12]}…); the same target was built twice "
        "with different bytes: keep one build"
    )


def merge(ledger: Ledger, partials: list[Ledger]) -> list[Artifact]:
    """Copy the partials' files into the release folder and record them; returns what was added."""
    imports = plan(ledger, partials)
    added = []
    for item in imports:
        dest = ledger.file(item.artifact)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(item.source, dest)
        if item.artifact.kind == ArtifactKind.BINARY:
            # CI hands partials over as artifacts, which keep no file modes (upload-artifact
            # stores 0644): a binary is executable because the ledger says it is one.
            archives.ensure_executable(dest)
        added.append(ledger.add(item.artifact))
    if added:
        ledger.save()
    return added


# What CI's attest job hands the publish job (build/ci_attest.py): two signed statements, each
# beside its bundle, as the bundles' DSSE payloads.
STATEMENTS: dict[str, str] = {
    PROVENANCE_NAME: ArtifactKind.PROVENANCE,
    RELEASE_STATEMENT_NAME: ArtifactKind.RELEASE_STATEMENT,
}
MAX_STATEMENT_BYTES = 64 << 20


def _statement(path: Path) -> dict[str, Any]:
    """A statement's JSON, or one line saying why it is not one (it is read before anything is copied)."""
    try:
        if path.stat().st_size > MAX_STATEMENT_BYTES:
            raise MergeError(f"{path}: larger than {MAX_STATEMENT_BYTES >> 20} MiB; not a statement")
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise MergeError(f"{path}: not a readable in-toto statement ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("subject"), list):
        raise MergeError(f"{path}: not an in-toto statement (no subject list)")
    return data


def _statement_record(ledger: Ledger, kind: str, data: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, str]]:
    by_path = {a.path: a for a in ledger.artifacts}
    named = [s.get("name") for s in data["subject"] if isinstance(s, dict)]
    ids = sorted(by_path[n].id for n in named if isinstance(n, str) and n in by_path)
    if kind == ArtifactKind.PROVENANCE:
        builder = data.get("predicate", {}).get("runDetails", {}).get("builder", {}).get("id", "")
        return {"provenance_of": ids}, {"predicate_type": SLSA_PROVENANCE_V1, "builder_id": str(builder)}
    return {"lists": ids}, {}


def import_signatures(ledger: Ledger, folder: Path) -> list[Artifact]:
    """Record what CI's attest job signed: its statements and Sigstore bundles, beside their subjects.

    `folder` mirrors the release folder: `provenance.intoto.json` and `release.intoto.json` are
    the statements the attest job signed, `<path>.sigstore.json` signs the artifact (or statement)
    at `<path>`. Anything else, a bundle of an unknown subject, or a statement that is not JSON is
    refused before anything is copied.
    """
    if not folder.is_dir():
        raise MergeError(f"{folder}: no such folder; pass --from the folder the signed artifact was put in")
    source = f"--from {folder}"
    statements: list[tuple[Path, str, str, dict[str, Any]]] = []
    for name, kind in STATEMENTS.items():
        found = inside(folder, name, source=source)
        if os.path.lexists(found):
            if not found.is_file() or found.is_symlink():
                raise MergeError(f"{found}: not a regular file; a statement is a file")
            inside(ledger.root, name, source=source)
            statements.append((found, name, kind, _statement(found)))
    known = {a.path: a.id for a in ledger.artifacts} | {name: f"{kind}:{name}" for _, name, kind, _ in statements}
    bundles: list[tuple[Path, str, str]] = []
    for found in sorted(folder.rglob(f"*{BUNDLE_SUFFIX}")):
        relative = found.relative_to(folder).as_posix()
        bundle = inside(folder, relative, source=source)
        inside(ledger.root, relative, source=source)  # where it will be copied to
        subject_path = relative[: -len(BUNDLE_SUFFIX)]
        if subject_path not in known:
            raise MergeError(f"{bundle}: signs {subject_path!r}, which {ledger.path} does not record")
        bundles.append((bundle, relative, known[subject_path]))
    if not bundles:
        raise MergeError(f"{folder}: no *{BUNDLE_SUFFIX} bundles in it")
    added = []
    for found, name, kind, data in statements:
        dest = _copy(found, inside(ledger.root, name, source=source))
        relations, facts = _statement_record(ledger, kind, data)
        added.append(ledger.record(dest, kind, relations=relations, facts=facts))
    for bundle, relative, subject_id in bundles:
        dest = _copy(bundle, inside(ledger.root, relative, source=source))
        added.append(ledger.record(dest, ArtifactKind.SIGSTORE_BUNDLE, relations={"signature_of": [subject_id]}))
    ledger.save()
    return added


def _copy(source: Path, dest: Path) -> Path:
    if not dest.exists() or file_digest(dest) != file_digest(source):
        shutil.copy2(source, dest)
    return dest
