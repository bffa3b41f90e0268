"""The release statement: one signed in-toto statement that lists every file of the release.

`release.intoto.json` (core/names.py) names each file of the release folder
the ledger records, deliverables and evidence alike (archives, .deb, wheel,
checksums, SBOMs and their statements, provenance, in-toto layout and links,
apt indexes and keys, formula, winget manifests, the shipped trusted root,
and the unpublished build files beside them) as a subject with its sha256,
and, in its predicate, what the ledger says about each: kind, target, size,
relations, and the release's product, version, channel and source. The sign
stage signs it as DSSE like the other statements, so a verifier takes the
file set, and every ledger fact it relies on, from a signature instead of
from the unsigned `release-manifest.json`.

Sigstore bundles are not listed: each is bound to the file it signs by its
name and verified against it. The statement does not list itself.
"""

from __future__ import annotations

from typing import Any

from ..core.formats import canonical_json
from ..core.fsio import write_atomic
from ..core.ledger import Artifact, ArtifactKind, Ledger
from ..core.names import RELEASE_PREDICATE, RELEASE_STATEMENT_NAME

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
NOT_LISTED = frozenset({ArtifactKind.SIGSTORE_BUNDLE, ArtifactKind.RELEASE_STATEMENT})


def listed(ledger: Ledger) -> list[Artifact]:
    return sorted((a for a in ledger.artifacts if a.kind not in NOT_LISTED), key=lambda a: a.path)


def _file(artifact: Artifact) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": artifact.path,
        "kind": artifact.kind,
        "size": artifact.size,
        "sha256": artifact.sha256,
        "uploadable": artifact.uploadable,
    }
    if artifact.target:
        entry["target"] = artifact.target
    if artifact.relations:
        entry["relations"] = {k: sorted(v) for k, v in sorted(artifact.relations.items())}
    return entry


def predicate(ledger: Ledger, signatures: str = "each-file") -> dict[str, Any]:
    """What the statement says of the release. `signatures` (verify/release_statement.py): "each-file"
    when every uploadable file gets a bundle of its own, "statement" when only this statement (and
    the provenance) are signed, as in CI, whose attest job signs this predicate with actions/attest."""
    return {
        "product": ledger.product,
        "version": ledger.version,
        "channel": ledger.channel,
        "source": {
            "repository": ledger.source.repository,
            "commit": ledger.source.commit,
            "ref": ledger.source.ref,
        },
        "signatures": signatures,
        "files": [_file(a) for a in listed(ledger)],
    }


def make(ledger: Ledger) -> bytes:
    """The statement's bytes (canonical JSON): these are the DSSE payload the sign stage signs."""
    document = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": a.path, "digest": {"sha256": a.sha256}} for a in listed(ledger)],
        "predicateType": RELEASE_PREDICATE,
        "predicate": predicate(ledger),
    }
    return canonical_json(document)


def write(ledger: Ledger) -> Artifact:
    """(Re)write the statement over what the ledger holds now, and record it."""

    path = ledger.root / RELEASE_STATEMENT_NAME
    write_atomic(path, make(ledger))
    return ledger.record(
        path,
        ArtifactKind.RELEASE_STATEMENT,
        relations={"lists": [a.id for a in listed(ledger)]},
        facts={"predicate_type": RELEASE_PREDICATE},
    )
