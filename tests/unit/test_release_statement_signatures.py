"""The release statement says how the release's files are signed, and the verifier holds to it.

`signatures: each-file` (the local pipeline, and the default): every uploadable file needs its own
bundle. `signatures: statement` (CI's attest job signs the statement and the provenance): the
statement's signature binds each listed file by digest, so only the provenance needs a bundle. The
mode is part of the signed predicate: an attacker cannot switch it without breaking the signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opencode_release.core.errors import VerificationError
from opencode_release.core.names import RELEASE_PREDICATE
from opencode_release.verify import release, release_statement
from opencode_release.verify.statement_checks import Statement

ARCHIVE: dict[str, Any] = {
    "path": "a-1.4.0.tar.gz",
    "kind": "archive",
    "size": 3,
    "sha256": "a" * 64,
    "uploadable": True,
}
PROVENANCE: dict[str, Any] = {
    "path": "provenance.intoto.json",
    "kind": "provenance",
    "size": 3,
    "sha256": "b" * 64,
    "uploadable": True,
}


def _statement(**extra: Any) -> Statement:
    files = [ARCHIVE, PROVENANCE]
    predicate = {"product": "a", "version": "1.4.0", "channel": "stable", "files": files, **extra}
    return Statement(RELEASE_PREDICATE, frozenset(f["sha256"] for f in files), predicate)


def _needs_bundle(signed: release_statement.ReleaseStatement) -> dict[str, bool]:
    _, provenance, rest = release.plan(Path("/nowhere"), signed, strict=False)
    assert provenance is not None
    return {item.name: item.needs_bundle for item in [provenance, *rest]}


def test_each_file_is_the_default_and_every_uploadable_file_needs_its_bundle() -> None:
    signed = release_statement.parse(_statement())
    assert signed.signatures == "each-file"
    assert _needs_bundle(signed) == {"provenance.intoto.json": True, "a-1.4.0.tar.gz": True}


def test_a_statement_signed_release_needs_a_bundle_for_the_provenance_only() -> None:
    signed = release_statement.parse(_statement(signatures="statement"))
    assert _needs_bundle(signed) == {"provenance.intoto.json": True, "a-1.4.0.tar.gz": False}
    # the digest is still checked against the signed statement
    _, _, rest = release.plan(Path("/nowhere"), signed, strict=False)
    assert {i.name: i.expected_sha256 for i in rest} == {"a-1.4.0.tar.gz": "a" * 64}


@pytest.mark.parametrize("value", ["none", "", 1, None, ["statement"]])
def test_an_unknown_signing_mode_is_refused(value: object) -> None:
    with pytest.raises(VerificationError) as caught:
        release_statement.parse(_statement(signatures=value))
    assert caught.value.check == "release-statement" and "predicate.signatures" in caught.value.reason
