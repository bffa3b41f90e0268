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

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..build import archives
from ..core.errors import MergeError
from ..core.fsio import inside
from ..core.ledger import MANIFEST_NAME, Artifact, ArtifactKind, Ledger, file_digest
from ..core.names import BUNDLE_SUFFIX, SLSA_PROVENANCE_V1


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


def import_signatures(ledger: Ledger, folder: Path) -> list[Artifact]:
    """Record Sigstore bundles made outside the pipeline (CI's attest job) beside their subjects.

    `folder` mirrors the release folder: `<path>.sigstore.json` signs the ledger's
    artifact at `<path>`; `provenance.sigstore.json` holds the SLSA provenance
    over the checksummed deliverables. Unknown subjects are refused before
    anything is copied.
    """
    if not folder.is_dir():
        raise MergeError(f"{folder}: no such folder; pass --from the folder the signed artifact was put in")
    by_path = {a.path: a for a in ledger.artifacts}
    summed = [a.id for a in ledger.artifacts if a.kind in (ArtifactKind.ARCHIVE, ArtifactKind.DEB)]
    planned: list[tuple[Path, str, dict[str, list[str]], dict[str, str]]] = []
    for found in sorted(folder.rglob(f"*{BUNDLE_SUFFIX}")):
        relative = found.relative_to(folder).as_posix()
        bundle = inside(folder, relative, source=f"--from {folder}")
        inside(ledger.root, relative, source=f"--from {folder}")  # where it will be copied to
        subject_path = relative[: -len(BUNDLE_SUFFIX)]
        if subject_path == "provenance":
            planned.append((bundle, relative, {"provenance_of": summed}, {"predicate_type": SLSA_PROVENANCE_V1}))
        elif subject_path in by_path:
            planned.append((bundle, relative, {"signature_of": [by_path[subject_path].id]}, {}))
        else:
            raise MergeError(f"{bundle}: signs {subject_path!r}, which {ledger.path} does not record")
    if not planned:
        raise MergeError(f"{folder}: no *{BUNDLE_SUFFIX} bundles in it")
    added = []
    for bundle, relative, relations, facts in planned:
        dest = inside(ledger.root, relative, source=f"--from {folder}")
        if not dest.exists() or file_digest(dest) != file_digest(bundle):
            shutil.copy2(bundle, dest)
        added.append(ledger.record(dest, ArtifactKind.SIGSTORE_BUNDLE, relations=relations, facts=facts))
    ledger.save()
    return added
