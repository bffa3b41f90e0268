"""The checks of one artifact: its digest, its Sigstore bundle, its place in the provenance, its SBOM statement.

Each check raises VerificationError(artifact, check, reason). The bundle is
sigstore-python's to verify (bundles.py); what this module adds is what the
library does not know: the digest a signed list expects, that a statement's
file is the payload its bundle signs, and the statements' content.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import UsageError, VerificationError
from ..core.ledger import ArtifactKind
from ..core.names import PACKET_MANIFEST_NAME
from . import bundles
from .identity_policy import CLAIMS, Policy, Trust
from .packet import verify_packet_folder
from .release_files import open_regular
from .statement_checks import (
    IN_TOTO_PAYLOAD,
    Statement,
    parse_statement,
    verify_dsse_payload,
    verify_provenance_release,
    verify_provenance_subject,
    verify_provenance_version,
    verify_sbom_statement,
)

STATEMENT_KINDS = frozenset({ArtifactKind.PROVENANCE, ArtifactKind.ATTESTATION, ArtifactKind.RELEASE_STATEMENT})
MAX_STATEMENT_BYTES = 64 << 20  # statements are read whole; anything bigger is refused unread
NOT_LISTED = "(not listed)"


@dataclass(frozen=True, slots=True)
class Item:
    """One artifact to check, with what the release says about it."""

    name: str
    kind: str
    path: str
    bundle: str
    expected_sha256: str | None = None  # from the signed list (the release statement, or SHA256SUMS beside a file)
    sums_sha256: str | None = None  # a deliverable's line in SHA256SUMS
    needs_bundle: bool = True
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


def read_bounded(name: str, path: str, limit: int, check: str) -> bytes:
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            # Ask for what the file holds, not for the limit: read(limit + 1) allocates the whole
            # limit (16 MiB for a bundle) on every call. A file that grew meanwhile is read on.
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(min(size, limit) + 1)
            if len(data) > size:
                data += handle.read(limit + 1 - len(data))
    except OSError as exc:
        raise VerificationError(name, check, f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise VerificationError(name, check, f"{path} is larger than {limit} bytes; refused unread")
    return data


def file_sha256(name: str, path: str) -> str:
    """Streamed, so a multi-GB file costs time, not memory."""
    digest = hashlib.sha256()
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise VerificationError(name, "digest", f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


class ArtifactVerifier:
    def __init__(self, trust: Trust, policy: Policy) -> None:
        self.bundles = bundles.BundleVerifier(trust.root, policy.certificate_policy())
        self.policy = policy
        # What a verified bundle has passed: the library's checks and each rule of the policy.
        self.bundle_checks = (bundles.SIGSTORE, "issuer", "identity", *sorted(k for k in CLAIMS if k in policy.claims))
        self.provenance: Statement | None = None
        self.release_version: str | None = None  # from the signed release statement, once verified

    # -- the checks of one artifact ------------------------------------------------
    @staticmethod
    def verify_digest(item: Item, sha256: str) -> None:
        if item.expected_sha256 is not None and item.expected_sha256 != sha256:
            raise VerificationError(
                item.name,
                "digest",
                f"sha256 {sha256} differs from the signed list's {item.expected_sha256}: the file was altered",
            )

    @staticmethod
    def verify_sums(item: Item, sha256: str) -> None:
        if item.sums_sha256 == NOT_LISTED:
            raise VerificationError(item.name, "sha256sums", "not listed in SHA256SUMS")
        if item.sums_sha256 != sha256:
            raise VerificationError(
                item.name, "sha256sums", f"sha256 {sha256} does not match SHA256SUMS ({item.sums_sha256})"
            )

    def verify_bundle(self, item: Item, sha256: str) -> Statement | None:
        raw = read_bounded(item.name, item.bundle, bundles.MAX_BUNDLE_BYTES, bundles.FORMAT)
        bundle = self.bundles.parse(item.name, raw)
        if item.kind not in STATEMENT_KINDS:
            self.bundles.verify_artifact(item.name, bundle, bytes.fromhex(sha256))
            return None
        signed = self.bundles.verify_dsse(item.name, bundle)
        data = read_bounded(item.name, item.path, MAX_STATEMENT_BYTES, "dsse-payload")
        verify_dsse_payload(item.name, signed.payload, data)
        return parse_statement(item.name, "dsse-payload", signed.payload_type, signed.payload)

    def check(self, item: Item, passed: list[str]) -> Statement | None:
        """Every check of one artifact, in order; `passed` collects the names of those that passed."""
        sha256 = file_sha256(item.name, item.path)
        if item.expected_sha256 is not None:
            self.verify_digest(item, sha256)
            passed.append("digest")
        if item.sums_sha256 is not None:
            self.verify_sums(item, sha256)
            passed.append("sha256sums")
        if not item.needs_bundle:
            return None
        statement = self.verify_bundle(item, sha256)
        passed += self.bundle_checks
        if statement is not None:
            passed.append("dsse-payload")
        if item.in_provenance:
            if self.provenance is None:
                raise VerificationError(item.name, "provenance-subject", "the release has no verified provenance")
            verify_provenance_subject(item.name, self.provenance, sha256)
            passed.append("provenance-subject")
        if item.needs_sbom and not item.sbom_statements:
            raise VerificationError(item.name, "sbom-statement", "the release has no SBOM statement for this artifact")
        for path in item.sbom_statements:
            # Its own row verifies that this file is what was signed.
            text = read_bounded(item.name, path, MAX_STATEMENT_BYTES, "sbom-statement")
            verify_sbom_statement(
                item.name, parse_statement(item.name, "sbom-statement", IN_TOTO_PAYLOAD, text), sha256
            )
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
            passed += ["provenance-type", "provenance-builder", "provenance-source"]
            if self.release_version is not None:
                verify_provenance_version(item.name, statement, self.release_version)
                passed.append("version")
        except VerificationError as exc:
            return Row(item.name, item.kind, tuple(passed), exc.check, exc.reason)
        self.provenance = statement
        return Row(item.name, item.kind, tuple(passed))


# -- `verify ARTIFACT`: one file and its bundle ---------------------------------------


def _sums_beside(artifact: Path) -> dict[str, str]:
    """SHA256SUMS next to the artifact (or one folder up), by name; the digest check uses it when it lists the file."""
    for folder in (artifact.parent, artifact.parent.parent):
        sums = folder / "SHA256SUMS"
        if sums.is_file():
            relative = artifact.resolve().relative_to(folder.resolve()).as_posix()
            try:
                text = sums.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return {artifact.name: "(an unreadable SHA256SUMS)"}
            for line in text.splitlines():
                digest, _, name = line.partition("  ")
                if name.lstrip("*") == relative:
                    return {artifact.name: digest}
    return {}


def _one_file_row(verifier: ArtifactVerifier, item: Item) -> Row:
    """A file and the bundle given for it: a signature over the file, or a DSSE statement that
    is the file itself or names it as a subject (as in-toto attestations about an artifact do)."""
    name = item.name
    passed: list[str] = []
    try:
        raw = read_bounded(name, item.bundle, bundles.MAX_BUNDLE_BYTES, bundles.FORMAT)
        bundle = verifier.bundles.parse(name, raw)
        if bundle._dsse_envelope is None:
            return verifier.row(item)
        sha256 = file_sha256(name, item.path)
        if item.sums_sha256 is not None:
            verifier.verify_sums(item, sha256)
            passed.append("sha256sums")
        signed = verifier.bundles.verify_dsse(name, bundle)
        passed += verifier.bundle_checks
        statement = parse_statement(name, "dsse-payload", signed.payload_type, signed.payload)
        if hashlib.sha256(signed.payload).hexdigest() != sha256 and sha256 not in statement.digests:
            raise VerificationError(
                name, "dsse-payload", f"the signed statement neither is this file nor names sha256:{sha256}"
            )
        passed.append("dsse-payload")
    except VerificationError as exc:
        return Row(name, item.kind, tuple(passed), exc.check, exc.reason)
    return Row(name, item.kind, tuple(passed))


def verify_files(
    pairs: Iterable[tuple[Path, Path]], trust: Trust, policy: Policy, key: bundles.PublicKey | None = None
) -> Report:
    """`verify ARTIFACT [--bundle B] [--key K]`: the artifact's own bundle, and SHA256SUMS beside it if it lists it."""
    report = Report()
    verifier = ArtifactVerifier(trust, policy)
    for artifact, bundle in pairs:
        if not artifact.is_file():
            raise UsageError(f"{artifact}: no such file")
        if not bundle.is_file():
            raise UsageError(f"{bundle}: no such bundle; pass --bundle FILE")
        name = artifact.name
        item = Item(name, "artifact", str(artifact), str(bundle), sums_sha256=_sums_beside(artifact).get(name))
        if key is not None:
            report.rows.append(_keyed_row(item, trust, key))
            continue
        row = _one_file_row(verifier, item)
        report.rows.append(_packet_row(row, artifact) if row.ok and name == PACKET_MANIFEST_NAME else row)
    return report


def _packet_row(row: Row, manifest: Path) -> Row:
    """A signed packet manifest vouches for its folder: every file in it is checked too."""
    try:
        verify_packet_folder(manifest)
    except VerificationError as exc:
        return Row(row.artifact, row.kind, row.passed, exc.check, exc.reason)
    return Row(row.artifact, row.kind, (*row.passed, "packet-files"))


def _keyed_row(item: Item, trust: Trust, key: bundles.PublicKey) -> Row:
    passed: list[str] = []
    try:
        sha256 = file_sha256(item.name, item.path)
        if item.sums_sha256 is not None:
            ArtifactVerifier.verify_sums(item, sha256)
            passed.append("sha256sums")
        raw = read_bounded(item.name, item.bundle, bundles.MAX_BUNDLE_BYTES, bundles.FORMAT)
        bundles.verify_with_key(item.name, trust.root, raw, bytes.fromhex(sha256), key)
        passed.append(bundles.SIGSTORE)
    except VerificationError as exc:
        return Row(item.name, item.kind, tuple(passed), exc.check, exc.reason)
    return Row(item.name, item.kind, tuple(passed))
