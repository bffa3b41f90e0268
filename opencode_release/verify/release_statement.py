"""The release statement, read as the root of a release's verification, and the checks it makes possible.

The statement (`release.intoto.json`, written by attest/release_statement.py,
signed by the sign stage as DSSE) lists every file of the release with its
digest and ledger record. Once its bundle has verified, it is the only source
of which files to check and what each is; the unsigned ledger is only
compared with it. Checks, each with its own name:

- `release-statement`: the statement is missing, or not a release statement;
- `ledger`: the ledger differs from the statement (a name, digest, kind or
  version); the reason names both values;
- `version`: the statement's version differs from the folder's name or the
  provenance's, or a listed file's name carries another version;
- `not-covered`: a file of the folder that no signed document lists (bundles
  are bound to the file they sign: `X.sigstore.json` needs a listed `X`);
- `path`: a listed or present path that is absolute, leaves the folder, or is
  not a regular file (symlinks, FIFOs, devices: refused, never followed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import VerificationError
from ..core.ledger import MANIFEST_NAME, Ledger
from ..core.names import BUNDLE_SUFFIX, RELEASE_PREDICATE, RELEASE_STATEMENT_NAME
from .release_files import folder_files
from .statement_checks import Statement

# The build's scratch folder inside a release folder: never published, never listed.
BUILD_SCRATCH = ".work"
_VERSION = re.compile(r"(?<![0-9.])([0-9]+\.[0-9]+\.[0-9]+)(?![0-9])")
NAME = RELEASE_STATEMENT_NAME
RELEASE_CHECKS = ("ledger", "version", "not-covered", "path")


@dataclass(frozen=True, slots=True)
class Listed:
    """One file as the signed statement records it."""

    path: str
    kind: str
    sha256: str
    size: int
    uploadable: bool
    target: str | None
    relations: Mapping[str, tuple[str, ...]]

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.path}"


# How the files of a release are signed, as its signed statement declares (predicate.signatures):
# "each-file": every uploadable file has a Sigstore bundle of its own (the local pipeline);
# "statement": the statement's signature binds every listed file by its digest, and only the
# provenance carries a bundle of its own (CI, where the attest job signs two statements).
EACH_FILE, STATEMENT_ONLY = "each-file", "statement"
SIGNATURE_MODES = (EACH_FILE, STATEMENT_ONLY)


@dataclass(frozen=True)
class ReleaseStatement:
    product: str
    version: str
    channel: str
    files: Mapping[str, Listed]  # by path
    signatures: str = EACH_FILE

    def by_id(self) -> dict[str, Listed]:
        return {f.id: f for f in self.files.values()}


def _refuse(reason: str) -> VerificationError:
    return VerificationError(NAME, "release-statement", reason)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _refuse(f"predicate.{key} is missing or not a string")
    return value


def _listed(entry: Any, index: int) -> Listed:
    if not isinstance(entry, dict):
        raise _refuse(f"predicate.files[{index}] is not an object")
    relations = entry.get("relations") or {}
    if not isinstance(relations, dict) or not all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in relations.values()
    ):
        raise _refuse(f"predicate.files[{index}].relations is not a map of id lists")
    size, target = entry.get("size"), entry.get("target")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _refuse(f"predicate.files[{index}].size is not a size")
    if target is not None and not isinstance(target, str):
        raise _refuse(f"predicate.files[{index}].target is not a string")
    sha256 = _text(entry, "sha256")
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise _refuse(f"predicate.files[{index}].sha256 is not a sha256")
    return Listed(
        _text(entry, "path"),
        _text(entry, "kind"),
        sha256,
        size,
        entry.get("uploadable") is True,
        target,
        {str(k): tuple(v) for k, v in relations.items()},
    )


def parse(statement: Statement) -> ReleaseStatement:
    if statement.predicate_type != RELEASE_PREDICATE:
        raise _refuse(f"predicateType is {statement.predicate_type!r}, expected {RELEASE_PREDICATE}")
    predicate = statement.predicate
    raw_files = predicate.get("files")
    if not isinstance(raw_files, list):
        raise _refuse("predicate.files is not a list")
    files: dict[str, Listed] = {}
    for index, entry in enumerate(raw_files):
        listed = _listed(entry, index)
        if listed.path in files:
            raise _refuse(f"{listed.path} is listed twice")
        files[listed.path] = listed
    if {f.sha256 for f in files.values()} != set(statement.digests):
        raise _refuse("the subjects' digests differ from the files listed in the predicate")
    product, version, channel = (_text(predicate, k) for k in ("product", "version", "channel"))
    signatures = predicate.get("signatures", EACH_FILE)
    if signatures not in SIGNATURE_MODES:
        raise _refuse(f"predicate.signatures is {signatures!r}, expected one of {', '.join(SIGNATURE_MODES)}")
    return ReleaseStatement(product, version, channel, files, str(signatures))


# -- release-level checks -------------------------------------------------------------------


def check_ledger(ledger: Ledger, signed: ReleaseStatement) -> None:
    """The unsigned ledger says what the signed statement says, file by file."""
    for field in ("product", "version", "channel"):
        mine, theirs = getattr(ledger, field), getattr(signed, field)
        if mine != theirs:
            raise VerificationError(
                MANIFEST_NAME, "ledger", f"{field} is {mine!r}; the signed statement says {theirs!r}"
            )
    recorded = {a.path: a for a in ledger.artifacts if a.kind not in ("sigstore-bundle", "release-statement")}
    for path in sorted(set(recorded) | set(signed.files)):
        artifact, listed = recorded.get(path), signed.files.get(path)
        if listed is None:
            raise VerificationError(path, "ledger", "the ledger records it; no signed statement lists it")
        if artifact is None:
            raise VerificationError(path, "ledger", "the signed statement lists it; the ledger does not record it")
        if artifact.sha256 != listed.sha256:
            raise VerificationError(
                path, "ledger", f"the ledger says sha256 {artifact.sha256}; the signed statement says {listed.sha256}"
            )
        if artifact.kind != listed.kind:
            raise VerificationError(
                path, "ledger", f"the ledger says kind {artifact.kind}; the signed statement says {listed.kind}"
            )


def in_channel(channel: str, expected: str) -> bool:
    """`expected` names the channel itself, or its family (`lts` for `lts/1.4`)."""
    return channel == expected or channel.split("/", 1)[0] == expected


def check_channel(expected: str, signed: ReleaseStatement) -> None:
    """The release is of the channel the verifier asked for (a policy alone may accept several channels' signers)."""
    if not in_channel(signed.channel, expected):
        raise VerificationError(
            NAME, "channel", f"the signed statement is for channel {signed.channel!r}; --channel asked for {expected!r}"
        )


def check_versions(folder_name: str, signed: ReleaseStatement) -> None:
    if folder_name != signed.version:
        raise VerificationError(
            f"{folder_name}/", "version", f"the folder is {folder_name}; the signed statement is for {signed.version}"
        )
    core = _VERSION.match(signed.version)
    for path in sorted(signed.files):
        for found in _VERSION.findall(path):
            if core is None or found != core.group(1):
                raise VerificationError(
                    path, "version", f"the name carries version {found}; the release is {signed.version}"
                )


def check_folder(root: str, signed: ReleaseStatement) -> None:
    """Every file in the folder is listed, or is a bundle of a listed file, the statement or the ledger."""
    allowed = {MANIFEST_NAME, NAME, NAME + BUNDLE_SUFFIX}
    for path, problem in folder_files(root, frozenset({BUILD_SCRATCH})):
        if problem is not None:
            raise VerificationError(path, "path", f"{path} is {problem}; not followed or read")
        if path in signed.files or path in allowed:
            continue
        if path.endswith(BUNDLE_SUFFIX) and path.removesuffix(BUNDLE_SUFFIX) in signed.files:
            continue
        raise VerificationError(path, "not-covered", "not covered by any signature: no signed statement lists it")
