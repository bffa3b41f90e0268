"""Distributor verification of a release folder: from its signed release statement down to every file, offline.

Order: the release statement's bundle is verified first (sigstore-python's
Verifier, under the channel's policy) and its payload must be the statement
file; from then on the statement says which files the release holds and what
each is. Release-level checks (release_statement.py): the ledger agrees with
it, versions agree, every file of the folder is covered, paths are safe. Then
SHA256SUMS and the provenance once, and every listed file (artifact.py):
its digest against the statement (and SHA256SUMS for a deliverable), its
bundle, its place among the provenance's subjects, its SBOM statement. The
per-file work is spread over the machine's cores.

Only the pipeline's own verify stage may run without a statement (a ledger
that records none, e.g. CI's merged release before its attest job): the file
set then comes from the ledger, as the stage's note says.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.errors import LedgerError, UsageError, VerificationError
from ..core.ledger import MANIFEST_NAME, SUMMED_KINDS, ArtifactKind, Ledger
from ..core.names import BUNDLE_SUFFIX, PROVENANCE_NAME
from . import release_statement
from .artifact import MAX_STATEMENT_BYTES, NOT_LISTED, ArtifactVerifier, Item, Report, Row, read_bounded
from .identity_policy import Policy, Trust
from .release_files import parse_json, safe_path
from .release_statement import Listed, ReleaseStatement

# Deliverables that carry the compiled binary have an SBOM; a wheel or sdist's statement is checked when present.
SBOM_REQUIRED = frozenset({ArtifactKind.ARCHIVE, ArtifactKind.DEB})
NOT_BUNDLED = frozenset({ArtifactKind.TRUST_ROOT})  # listed (so signed) by the statement, with no bundle of its own
PARALLEL_FROM = 64  # below this many artifacts, starting workers costs more than it saves
MAX_LEDGER_BYTES = 64 << 20


# -- spreading rows over cores ----------------------------------------------------
# What forked workers inherit: the warm verifier (its Verifier, policy and trusted root built)
# and the items, so only an index goes to a worker and only its row comes back.
_WORKER: tuple[ArtifactVerifier, Sequence[Item]] | None = None


def _work(index: int) -> Row:
    assert _WORKER is not None
    verifier, items = _WORKER
    return verifier.row(items[index])


def run_rows(verifier: ArtifactVerifier, items: Sequence[Item], workers: int | None = None) -> list[Row]:
    workers = workers or len(os.sched_getaffinity(0))
    if workers <= 1 or len(items) < PARALLEL_FROM:
        return [verifier.row(item) for item in items]
    global _WORKER
    _WORKER = (verifier, items)
    # Objects that exist now are the workers' shared read-only heap: frozen, the collector in a
    # worker never writes to them, so their pages stay shared instead of being copied per worker.
    gc.freeze()
    try:
        pool = multiprocessing.get_context("fork").Pool(workers)
        try:
            # Small chunks: the workers finish together instead of one waiting on the other's last chunk.
            rows = pool.map(_work, range(len(items)), chunksize=max(1, len(items) // (workers * 32)))
            pool.close()
            return rows
        finally:
            pool.terminate()
            pool.join()
    finally:
        gc.unfreeze()
        _WORKER = None


# -- finding and reading releases ----------------------------------------------------------
def find_releases(path: Path) -> list[Path]:
    """A release folder, its ledger, or a channel folder holding releases."""
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


def load_ledger(folder: Path) -> Ledger:
    """The ledger, read as hostile input: one line and exit 2 for anything a parser could choke on."""
    where = folder / MANIFEST_NAME
    try:
        raw = read_bounded(MANIFEST_NAME, str(where), MAX_LEDGER_BYTES, "ledger")
        data = parse_json(raw, str(where))
        if not isinstance(data, dict):
            raise ValueError(f"{where} is not a JSON object")
        return Ledger.from_json(folder, data, str(where))
    except VerificationError as exc:
        raise UsageError(f"{where}: {exc.reason}") from None
    except (ValueError, LedgerError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"{where}: not a readable release manifest: {' '.join(str(exc).split())[:300]}") from None


def _sums(root: Path, files: dict[str, Listed]) -> dict[str, str] | None:
    """SHA256SUMS's lines by name, once its own row has checked it against the statement."""
    for listed in files.values():
        if listed.kind == ArtifactKind.CHECKSUMS and listed.path.rsplit("/", 1)[-1] == "SHA256SUMS":
            try:
                text = read_bounded(listed.path, str(root / listed.path), MAX_STATEMENT_BYTES, "sha256sums")
                lines = text.decode("utf-8").splitlines()
            except (VerificationError, UnicodeDecodeError):
                return {}
            entries: dict[str, str] = {}
            for line in lines:
                digest, _, name = line.partition("  ")
                entries[name.lstrip("*")] = digest
            return entries
    return None


def from_ledger(ledger: Ledger) -> ReleaseStatement:
    """What the unsigned ledger says, in the statement's shape: only for the pipeline's lenient verify stage."""
    files = {
        a.path: Listed(a.path, a.kind, a.sha256, a.size, a.uploadable, a.target, dict(a.relations))
        for a in ledger.artifacts
        if a.kind not in release_statement_kinds()
    }
    return ReleaseStatement(ledger.product, ledger.version, ledger.channel, files)


def release_statement_kinds() -> frozenset[str]:
    return frozenset({ArtifactKind.SIGSTORE_BUNDLE, ArtifactKind.RELEASE_STATEMENT})


# -- planning: what each listed file must pass --------------------------------------------------
def plan(root: Path, signed: ReleaseStatement, strict: bool) -> tuple[Item | None, Item | None, list[Item]]:
    """SHA256SUMS, the provenance and the other listed files, as items; `strict`: every deliverable
    needs a provenance subject and (archives, .deb) an SBOM statement."""
    sums = _sums(root, dict(signed.files))
    sboms: dict[str, list[str]] = {}
    for listed in signed.files.values():
        if listed.kind == ArtifactKind.ATTESTATION:
            for subject in listed.relations.get("attests", ()):
                sboms.setdefault(subject, []).append(str(root / listed.path))
    provenance = [f for f in signed.files.values() if f.kind == ArtifactKind.PROVENANCE]
    strict = strict or bool(provenance or sboms)

    base = str(root)

    def item(listed: Listed) -> Item:
        deliverable = listed.kind in SUMMED_KINDS
        # Plain string joins (pathlib costs more than the rest of planning): listed paths have
        # passed safe_path, so they are relative, normalized and free of '.', '..' and empty parts.
        path = os.path.join(base, listed.path)  # noqa: PTH118
        return Item(
            listed.path,
            listed.kind,
            path,
            path + BUNDLE_SUFFIX,
            expected_sha256=listed.sha256,
            sums_sha256=(sums or {}).get(listed.path, NOT_LISTED) if deliverable else None,
            needs_bundle=listed.uploadable
            and listed.kind not in NOT_BUNDLED
            and (signed.signatures == release_statement.EACH_FILE or listed.kind == ArtifactKind.PROVENANCE),
            in_provenance=deliverable and strict,
            sbom_statements=tuple(sboms.get(listed.id, ())),
            needs_sbom=deliverable and strict and listed.kind in SBOM_REQUIRED,
        )

    ordered = sorted(signed.files.values(), key=lambda f: f.path)
    sums_listed = [f for f in ordered if f.kind == ArtifactKind.CHECKSUMS and f.path.endswith("SHA256SUMS")]
    first = item(sums_listed[0]) if sums_listed else None
    prov = item(provenance[0]) if provenance else None
    apart = {id(f) for f in (*sums_listed[:1], *provenance[:1])}
    rest = [item(f) for f in ordered if id(f) not in apart]
    return first, prov, rest


# -- a release ----------------------------------------------------------------------
def verify_release(
    path: Path,
    trust: Trust,
    policy: Policy | Callable[[str | None], Policy],
    *,
    workers: int | None = None,
    channel: str | None = None,
) -> Report:
    """Every release under `path`; `policy` is one policy, or the policy for a release's channel.
    `channel`: the channel every release must be of (its policy applies), else each release's own."""
    report = Report()
    for folder in find_releases(path):
        ledger = load_ledger(folder)
        # The ledger only names the policy to try: its channel must then equal the signed statement's (ledger check).
        chosen = policy if isinstance(policy, Policy) else policy(channel or ledger.channel)
        report.rows += verify_folder(folder, ledger, trust, chosen, workers=workers, channel=channel)
    return report


def _root_row(verifier: ArtifactVerifier, folder: Path) -> tuple[Row, ReleaseStatement | None]:
    name = release_statement.NAME
    item = Item(name, ArtifactKind.RELEASE_STATEMENT, str(folder / name), str(folder / (name + BUNDLE_SUFFIX)))
    passed: list[str] = []
    try:
        safe_path(str(folder), name, name)
        statement = verifier.check(item, passed)
        assert statement is not None  # a release statement's bundle is a DSSE envelope (verify_bundle)
        signed = release_statement.parse(statement)
    except VerificationError as exc:
        return Row(name, item.kind, tuple(passed), exc.check, exc.reason), None
    return Row(name, item.kind, (*passed, "release-statement")), signed


def verify_folder(
    folder: Path,
    ledger: Ledger,
    trust: Trust,
    policy: Policy,
    *,
    require_statement: bool = True,
    workers: int | None = None,
    channel: str | None = None,
) -> list[Row]:
    verifier = ArtifactVerifier(trust, policy)
    rows: list[Row] = []
    if os.path.lexists(folder / release_statement.NAME) or require_statement:
        if not os.path.lexists(folder / release_statement.NAME):
            reason = "the release has no signed release statement: nothing signed says which files it holds"
            return [Row(release_statement.NAME, ArtifactKind.RELEASE_STATEMENT, (), "release-statement", reason)]
        root_row, signed = _root_row(verifier, folder)
        rows.append(root_row)
        if signed is None:  # nothing else can be trusted to say what to check
            return rows
        checks: list[tuple[Callable[..., None], object]] = [
            (release_statement.check_ledger, ledger),
            (release_statement.check_versions, folder.name),
            (release_statement.check_folder, str(folder)),
        ]
        if channel is not None:
            checks.append((release_statement.check_channel, channel))
        failed = False
        for check, subject in checks:
            try:
                check(subject, signed)
            except VerificationError as exc:
                rows.append(Row(exc.artifact, "release", (), exc.check, exc.reason))
                failed = True
        if not failed:
            ran = (*release_statement.RELEASE_CHECKS, *(("channel",) if channel is not None else ()))
            rows[0] = Row(root_row.artifact, root_row.kind, (*root_row.passed, *ran))
        verifier.release_version = signed.version
    else:
        signed = from_ledger(ledger)
    safe = {}
    for listed in signed.files.values():
        try:
            safe_path(str(folder), listed.path, listed.path)
            safe[listed.path] = listed
        except VerificationError as exc:
            rows.append(Row(listed.path, listed.kind, (), exc.check, exc.reason))
    checked = ReleaseStatement(signed.product, signed.version, signed.channel, safe, signed.signatures)
    sums_item, provenance_item, items = plan(folder, checked, strict=require_statement)
    if sums_item is not None:
        rows.append(verifier.row(sums_item))
    elif require_statement:
        rows.append(Row("SHA256SUMS", ArtifactKind.CHECKSUMS, (), "sha256sums", "the release lists no SHA256SUMS"))
    if provenance_item is not None:
        rows.append(verifier.adopt_provenance(provenance_item))
    elif require_statement:
        reason = "the release has no provenance"
        rows.append(Row(PROVENANCE_NAME, ArtifactKind.PROVENANCE, (), "provenance-type", reason))
    rows += run_rows(verifier, items, workers)
    return rows
