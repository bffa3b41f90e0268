"""in-toto links from the ledger: digests checked against the files, each file read once per run."""

from __future__ import annotations

import pytest

from opencode_release.attest import intoto
from opencode_release.core.errors import LedgerError
from opencode_release.core.ledger import ArtifactKind, Ledger


def _ledger(ledger: Ledger) -> Ledger:
    root = ledger.root
    (root / "linux-x86_64-gnu").mkdir(parents=True)
    (root / "linux-x86_64-gnu" / "opencode").write_bytes(b"\x7fELF binary")
    ledger.record(root / "linux-x86_64-gnu" / "opencode", ArtifactKind.BINARY, target="linux-x86_64-gnu")
    (root / "opencode-1.4.0-linux-x86_64-gnu.tar.gz").write_bytes(b"archive bytes")
    ledger.record(root / "opencode-1.4.0-linux-x86_64-gnu.tar.gz", ArtifactKind.ARCHIVE, target="linux-x86_64-gnu")
    return ledger


def test_links_of_a_run_share_checked_digests_that_match_the_ledger(ledger: Ledger) -> None:
    ledger = _ledger(ledger)
    checked: intoto.Checked = {}
    links = {step: intoto.make_link(ledger, step, {}, checked) for step in intoto.STEPS}
    binary, archive = ledger.by_kind(ArtifactKind.BINARY)[0], ledger.by_kind(ArtifactKind.ARCHIVE)[0]
    assert checked == {binary.id: binary.sha256, archive.id: archive.sha256}
    assert links["build"].products == {binary.path: {"sha256": binary.sha256}}
    assert links["package"].materials == {binary.path: {"sha256": binary.sha256}}
    assert links["sbom"].materials == {binary.path: {"sha256": binary.sha256}, archive.path: {"sha256": archive.sha256}}
    # Each link holds its own dicts: changing one changes no other.
    links["build"].products[binary.path]["sha256"] = "0" * 64
    assert links["package"].materials[binary.path]["sha256"] == binary.sha256


def test_a_file_changed_since_it_was_recorded_is_refused(ledger: Ledger) -> None:
    ledger = _ledger(ledger)
    (ledger.root / "linux-x86_64-gnu" / "opencode").write_bytes(b"\x7fELF other")
    with pytest.raises(LedgerError, match=r"linux-x86_64-gnu/opencode: missing or changed since it was recorded"):
        intoto.make_link(ledger, "package", {}, {})
