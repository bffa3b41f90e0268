"""Distributor verification: every artifact of a release, or one artifact, offline.

A straight sequence of small checks, each raising VerificationError(artifact,
check, reason). Per release, once: the trusted root and policy are read,
SHA256SUMS and the provenance are verified (bundle, then the provenance's
type, builder and source). Per artifact: its digest against SHA256SUMS, its
bundle (certificate, SCT, identity, issuer, log key, SET, inclusion proof,
checkpoint, signature, log entry), its place among the provenance's subjects,
and its SBOM statement's subject. Certificate and checkpoint work is
remembered, so a release signed in one session pays for it once; the
per-artifact work is spread over the machine's cores.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import LedgerError, UsageError, VerificationError
from ..core.ledger import MANIFEST_NAME, SUMMED_KINDS, Artifact, ArtifactKind, Ledger
from ..core.names import BUNDLE_SUFFIX
from ._bundle_checks import BundleChecker
from ._bundle_format import parse_bundle
from .identity_policy import Policy, TrustedRoot
from .statement_checks import (
    IN_TOTO_PAYLOAD,
    Statement,
    parse_statement,
    verify_dsse_payload,
    verify_provenance_release,
    verify_provenance_subject,
    verify_sbom_statement,
)

STATEMENT_KINDS = frozenset({ArtifactKind.PROVENANCE, ArtifactKind.ATTESTATION})
NOT_SIGNED = frozenset({ArtifactKind.SIGSTORE_BUNDLE, ArtifactKind.TRUST_ROOT})
# Deliverables that carry the compiled binary have an SBOM; a wheel or sdist's statement is checked when present.
SBOM_REQUIRED = frozenset({ArtifactKind.ARCHIVE, ArtifactKind.DEB})
PARALLEL_FROM = 64  # below this many artifacts, starting workers costs more than it saves
NOT_LISTED = "(not listed)"


@dataclass(frozen=True, slots=True)
class Item:
    """One artifact to check, with what the release says about it."""

    name: str
    kind: str
    path: str
    bundle: str
    expected_sha256: str | None = None  # from SHA256SUMS
    in_provenance: bool = False
    sbom_statements: tuple[str, ...] = ()
    needs_sbom: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    artifact: str
    kind: str
    passed: tuple[str, ...]
    check: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.check is None

    def to_json(self) -> dict[str, object]:
        return {
            "artifact": self.artifact,
            "kind": self.kind,
            "ok": self.ok,
            "passed": list(self.passed),
            **({"failed": {"check": self.check, "reason": self.reason}} if not self.ok else {}),
        }


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)

    def first_failure(self) -> VerificationError | None:
        for row in self.rows:
            if not row.ok:
                return VerificationError(row.artifact, row.check or "", row.reason or "")
        return None


def _read(path: str) -> bytes:
    # Plain open(): pathlib's parsing costs more than reading a small file.
    with open(path, "rb") as handle:  # noqa: PTH123
        return handle.read()


class ArtifactVerifier:
    def __init__(self, root: TrustedRoot, policy: Policy) -> None:
        self.checker = BundleChecker(root, policy)
        self.policy = policy
        self.provenance: Statement | None = None

    # -- the checks of one artifact ------------------------------------------------
    def verify_digest(self, item: Item, sha256: str) -> None:
        if item.expected_sha256 == NOT_LISTED:
            raise VerificationError(item.name, "digest", "not listed in SHA256SUMS")
        if item.expected_sha256 is not None and item.expected_sha256 != sha256:
            raise VerificationError(
                item.name,
                "digest",
                f"sha256 {sha256} does not match SHA256SUMS ({item.expected_sha256}): the file was altered",
            )

    def verify_bundle(self, item: Item, data: bytes, sha256: bytes) -> Statement | None:
        try:
            raw = _read(item.bundle)
        except OSError:
            raise VerificationError(item.name, "bundle-format", f"no bundle at {item.bundle}") from None
        bundle = parse_bundle(raw, item.name)
        if bundle.envelope is None:
            if item.kind in STATEMENT_KINDS:
                raise VerificationError(item.name, "bundle-format", "a statement's bundle must hold a DSSE envelope")
            self.checker.verify(item.name, bundle, sha256)
            return None
        self.checker.verify(item.name, bundle, hashlib.sha256(bundle.envelope.payload).digest())
        verify_dsse_payload(item.name, bundle.envelope.payload, data)
        return parse_statement(item.name, "dsse-payload", bundle.envelope.payload_type, bundle.envelope.payload)

    def check(self, item: Item, passed: list[str]) -> Statement | None:
        """Every check of one artifact, in order; `passed` collects the names of those that passed."""
        try:
            data = _read(item.path)
        except OSError:
            raise VerificationError(item.name, "digest", f"no file at {item.path}") from None
        sha = hashlib.sha256(data)
        if item.expected_sha256 is not None:
            self.verify_digest(item, sha.hexdigest())
            passed.append("digest")
        statement = self.verify_bundle(item, data, sha.digest())
        passed += [
            "certificate-chain",
            "sct",
            "identity",
            "issuer",
            "tlog-key",
            "set",
            "inclusion-proof",
            "checkpoint",
            "signature",
            "tlog-entry",
        ]
        if statement is not None:
            passed.append("dsse-payload")
        if item.in_provenance:
            if self.provenance is None:
                raise VerificationError(item.name, "provenance-subject", "the release has no verified provenance")
            verify_provenance_subject(item.name, self.provenance, sha.hexdigest())
            passed.append("provenance-subject")
        if item.needs_sbom and not item.sbom_statements:
            raise VerificationError(item.name, "sbom-statement", "the release has no SBOM statement for this artifact")
        for path in item.sbom_statements:
            text = _read(path)  # its own row verifies that this file is what was signed
            statement_ = parse_statement(item.name, "sbom-statement", IN_TOTO_PAYLOAD, text)
            verify_sbom_statement(item.name, statement_, sha.hexdigest())
            passed.append("sbom-statement")
        return statement

    def row(self, item: Item) -> Row:
        passed: list[str] = []
        try:
            self.check(item, passed)
        except VerificationError as exc:
            return Row(item.name, item.kind, tuple(passed), exc.check, exc.reason)
        return Row(item.name, item.kind, tuple(passed))

    def adopt_provenance(self, item: Item) -> Row:
        """Verify the release's provenance once: its bundle, type, builder and source."""
        passed: list[str] = []
        try:
            statement = self.check(item, passed)
            if statement is None:
                raise VerificationError(item.name, "dsse-payload", "the provenance's bundle holds no statement")
            verify_provenance_release(item.name, statement, self.policy)
        except VerificationError as exc:
            return Row(item.name, item.kind, tuple(passed), exc.check, exc.reason)
        self.provenance = statement
        return Row(item.name, item.kind, (*passed, "provenance-type", "provenance-builder", "provenance-source"))


# -- spreading rows over cores ----------------------------------------------------
_WORKER: ArtifactVerifier | None = None


def _work(item: Item) -> Row:
    assert _WORKER is not None
    return _WORKER.row(item)


def run_rows(verifier: ArtifactVerifier, items: Sequence[Item], workers: int | None = None) -> list[Row]:
    workers = workers or len(os.sched_getaffinity(0))
    if workers <= 1 or len(items) < PARALLEL_FROM:
        return [verifier.row(item) for item in items]
    global _WORKER
    _WORKER = verifier  # forked workers inherit it, caches included
    try:
        pool = multiprocessing.get_context("fork").Pool(workers)
        try:
            rows = pool.map(_work, items, chunksize=max(1, len(items) // (workers * 8)))
            pool.close()
            return rows
        finally:
            pool.terminate()
            pool.join()
    finally:
        _WORKER = None


# -- a release ----------------------------------------------------------------------
def find_releases(path: Path) -> list[Path]:
    """A release folder, its manifest, or a channel folder holding releases."""
    if path.is_file():
        if path.name != MANIFEST_NAME:
            raise UsageError(f"{path}: not a release manifest; pass a release folder or {MANIFEST_NAME}")
        return [path.parent]
    if (path / MANIFEST_NAME).is_file():
        return [path]
    if path.is_dir():
        found = sorted(p.parent for p in path.glob(f"*/{MANIFEST_NAME}"))
        found += sorted(p.parent for p in path.glob(f"*/*/{MANIFEST_NAME}"))
        if found:
            return found
    raise UsageError(f"{path}: no release here (no {MANIFEST_NAME} in it or its sub-folders)")


def _sums(ledger: Ledger) -> tuple[Artifact | None, dict[str, str]]:
    for artifact in ledger.by_kind(ArtifactKind.CHECKSUMS):
        if artifact.facts.get("algorithm") == "sha256" or artifact.name == "SHA256SUMS":
            entries: dict[str, str] = {}
            for line in ledger.file(artifact).read_text(encoding="utf-8").splitlines():
                digest, _, name = line.partition("  ")
                entries[name.lstrip("*")] = digest
            return artifact, entries
    return None, {}


def plan_release(ledger: Ledger, require_attestations: bool = True) -> tuple[Item | None, Item | None, list[Item]]:
    """SHA256SUMS, the provenance, and the other artifacts, as items to check."""
    sums_artifact, sums = _sums(ledger)
    sboms: dict[str, list[str]] = {}
    for attestation in ledger.by_kind(ArtifactKind.ATTESTATION):
        for subject in attestation.related("attests"):
            sboms.setdefault(subject, []).append(str(ledger.file(attestation)))
    provenance = ledger.by_kind(ArtifactKind.PROVENANCE)
    has_attestations = bool(provenance or sboms)

    def item(a: Artifact) -> Item:
        deliverable = a.kind in SUMMED_KINDS
        strict = deliverable and (require_attestations or has_attestations)
        path = ledger.file(a)
        return Item(
            a.path,
            a.kind,
            str(path),
            str(path.with_name(path.name + BUNDLE_SUFFIX)),
            expected_sha256=sums.get(a.path, NOT_LISTED) if deliverable else None,
            in_provenance=strict,
            sbom_statements=tuple(sboms.get(a.id, ())),
            needs_sbom=strict and a.kind in SBOM_REQUIRED,
        )

    sums_item = item(sums_artifact) if sums_artifact else None
    provenance_item = item(provenance[0]) if provenance else None
    rest = [
        item(a)
        for a in sorted(ledger.uploadable(), key=lambda a: a.path)
        if a.kind not in NOT_SIGNED and a is not sums_artifact and a not in provenance
    ]
    return sums_item, provenance_item, rest


def verify_release(
    path: Path, root: TrustedRoot, policy: Policy, *, require_attestations: bool = True, workers: int | None = None
) -> Report:
    report = Report()
    for folder in find_releases(path):
        try:
            ledger = Ledger.load(folder)
        except LedgerError as exc:
            raise UsageError(str(exc)) from None
        report.rows += verify_ledger(ledger, root, policy, require_attestations=require_attestations, workers=workers)
    return report


def verify_ledger(
    ledger: Ledger, root: TrustedRoot, policy: Policy, *, require_attestations: bool = True, workers: int | None = None
) -> list[Row]:
    verifier = ArtifactVerifier(root, policy)
    sums_item, provenance_item, items = plan_release(ledger, require_attestations)
    rows: list[Row] = []
    prefix = f"{ledger.version}/" if ledger.version else ""
    if sums_item is None:
        rows.append(Row(prefix + "SHA256SUMS", ArtifactKind.CHECKSUMS, (), "digest", "the release has no SHA256SUMS"))
    else:
        rows.append(verifier.row(sums_item))
    if provenance_item is not None:
        rows.append(verifier.adopt_provenance(provenance_item))
    elif require_attestations:
        rows.append(
            Row(
                "provenance.intoto.json",
                ArtifactKind.PROVENANCE,
                (),
                "provenance-type",
                "the release has no provenance",
            )
        )
    if not rows[0].ok:  # SHA256SUMS is what every digest is checked against
        items = [Item(i.name, i.kind, i.path, i.bundle) for i in items]
    rows += run_rows(verifier, items, workers)
    return rows


def verify_files(pairs: Iterable[tuple[Path, Path]], root: TrustedRoot, policy: Policy) -> Report:
    """`verify ARTIFACT [--bundle B]`: the artifact's own bundle, plus its release's evidence when beside it."""
    report = Report()
    verifier = ArtifactVerifier(root, policy)
    for artifact, bundle in pairs:
        if not artifact.is_file():
            raise UsageError(f"{artifact}: no such file")
        if not bundle.is_file():
            raise UsageError(f"{bundle}: no such bundle; pass --bundle FILE")
        sums = _sums_beside(artifact)
        report.rows.append(
            verifier.row(
                Item(artifact.name, "artifact", str(artifact), str(bundle), expected_sha256=sums.get(artifact.name))
            )
        )
    return report


def _sums_beside(artifact: Path) -> dict[str, str]:
    """SHA256SUMS next to the artifact (or one folder up), by name; the digest check uses it when it lists the file."""
    for folder in (artifact.parent, artifact.parent.parent):
        sums = folder / "SHA256SUMS"
        if sums.is_file():
            relative = artifact.resolve().relative_to(folder.resolve()).as_posix()
            for line in sums.read_text(encoding="utf-8").splitlines():
                digest, _, name = line.partition("  ")
                if name.lstrip("*") == relative:
                    return {artifact.name: digest}
    return {}
