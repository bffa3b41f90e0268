"""verify-release on a real signed snapshot release (a Nuitka build): it passes, the npm verifier agrees, and
sigstore-python's Verifier refuses each tampered part of a log entry. Every other check, input by input, is
in test_verify_release_checks.py on a small release that needs no build."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from opencode_release.core.formats import canonical_json
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.devsigstore import LocalSigstore
from opencode_release.devsigstore.keys import key_id
from opencode_release.verify import Report, identity_policy, verify_release
from tests.integration import signed_release

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def signed(built_product: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One signed release (with SBOM statements and provenance) for the module: read-only."""
    product = signed_release.copy_release(built_product, tmp_path_factory.mktemp("signed"))
    signed_release.sign(product)
    return product


@pytest.fixture
def copy(signed: Path, tmp_path: Path) -> Path:
    """A private copy of the signed release (product folder), to tamper with."""
    shutil.copytree(signed.parent, tmp_path / "work", symlinks=True)
    return tmp_path / "work" / "product"


def _root(product: Path) -> Path:
    return signed_release.release_root(product)


def _verify(product: Path, trusted_root: Path | None = None, **overrides: str) -> Report:
    state_root = product.parent / ".opencode-release" / "sigstore" / "trusted_root.json"
    root = identity_policy.load_trusted_root("local", str(trusted_root or state_root), None)
    return verify_release(_root(product), root, identity_policy.load_policy("local", None, dict(overrides)), workers=1)


def _failure(report: Report) -> tuple[str, str, str]:
    failed = [r for r in report.rows if not r.ok]
    assert len(failed) == 1, [r.to_json() for r in failed]
    return failed[0].artifact, failed[0].check or "", failed[0].reason or ""


def _archive(product: Path) -> str:
    (archive,) = Ledger.load(_root(product)).by_kind(ArtifactKind.ARCHIVE)
    return archive.path


def _edit_bundle(product: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = _root(product) / (name + ".sigstore.json")
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _entry(data: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = data["verificationMaterial"]["tlogEntries"][0]
    return entry


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[len(raw) // 2] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def test_signed_release_passes_every_check(signed: Path) -> None:
    report = _verify(signed)
    assert report.ok, [r.to_json() for r in report.rows if not r.ok]
    by_name = {r.artifact: r for r in report.rows}
    archive = by_name[_archive(signed)]
    assert {
        "digest",
        "sigstore",
        "identity",
        "issuer",
        "provenance-subject",
        "sbom-statement",
    } <= set(archive.passed)
    assert {"provenance-type", "provenance-builder", "provenance-source", "dsse-payload"} <= set(
        by_name["provenance.intoto.json"].passed
    )
    ledger = Ledger.load(_root(signed))
    signed_ids = {a.related("signature_of")[0] for a in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE)}
    # one row per signed file, and one per file the release statement lists without a bundle (binary, report, root)
    assert {ledger.get(i).path for i in signed_ids} <= {r.artifact for r in report.rows}
    assert {r.artifact for r in report.rows} == {
        a.path for a in ledger.artifacts if a.kind != ArtifactKind.SIGSTORE_BUNDLE
    }


def test_console_script_verifies_without_a_checkout(signed: Path, tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "opencode-release"
    trusted = _root(signed) / "sigstore-trusted-root.json"
    ok = subprocess.run(
        [
            str(script),
            "verify-release",
            str(_root(signed)),
            "--instance",
            "local",
            "--trusted-root",
            str(trusted),
            "--json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    one = subprocess.run(
        [
            str(script),
            "verify",
            str(_root(signed) / _archive(signed)),
            "--instance",
            "local",
            "--trusted-root",
            str(trusted),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0, one.stderr
    wrong = subprocess.run(
        [
            str(script),
            "verify-release",
            str(_root(signed)),
            "--instance",
            "local",
            "--trusted-root",
            str(trusted),
            "--identity",
            "mallory@example.org",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 1
    assert "identity: Certificate's SANs do not match mallory@example.org" in wrong.stderr
    usage = subprocess.run(
        [
            str(script),
            "verify-release",
            str(tmp_path / "nothing"),
            "--instance",
            "local",
            "--trusted-root",
            str(trusted),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 2 and "no release here" in usage.stderr


def test_foreign_trusted_root_fails_the_certificate_chain(signed: Path, tmp_path: Path) -> None:
    foreign = LocalSigstore(tmp_path, "http://127.0.0.1/oidc", "release@opencode.local").write_trusted_root()
    report = _verify(signed, trusted_root=foreign)
    assert {r.check for r in report.rows} == {"sigstore"}
    assert all("failed to build timestamp certificate chain" in (r.reason or "") for r in report.rows)


def test_log_signed_by_an_untrusted_key_fails_the_log_key_check(copy: Path) -> None:
    rogue = ec.generate_private_key(ec.SECP256R1())
    log_id = key_id(rogue.public_key())

    def resign(data: dict[str, Any]) -> None:
        entry = _entry(data)
        entry["logId"]["keyId"] = base64.b64encode(log_id).decode()
        payload = {
            "body": entry["canonicalizedBody"],
            "integratedTime": int(entry["integratedTime"]),
            "logID": log_id.hex(),
            "logIndex": int(entry["logIndex"]),
        }
        sig = rogue.sign(canonical_json(payload), ec.ECDSA(hashes.SHA256()))
        entry["inclusionPromise"]["signedEntryTimestamp"] = base64.b64encode(sig).decode()
        proof = entry["inclusionProof"]
        note = f"rogue.example/log\n{proof['treeSize']}\n{proof['rootHash']}\n"
        cp_sig = rogue.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        proof["checkpoint"]["envelope"] = (
            f"{note}\n\u2014 rogue.example/log {base64.b64encode(log_id[:4] + cp_sig).decode()}\n"
        )

    _edit_bundle(copy, _archive(copy), resign)
    artifact, check, reason = _failure(_verify(copy))
    assert (artifact, check) == (_archive(copy), "sigstore") and "invalid log entry" in reason


def test_altered_inclusion_proof_fails_its_check(copy: Path) -> None:
    def alter(data: dict[str, Any]) -> None:
        hashes_ = _entry(data)["inclusionProof"]["hashes"]
        hashes_[0] = _flip(hashes_[0])

    _edit_bundle(copy, _archive(copy), alter)
    artifact, check, reason = _failure(_verify(copy))
    assert (artifact, check) == (_archive(copy), "sigstore")
    assert reason.startswith("invalid log entry: inclusion proof contains invalid root hash")


def test_altered_checkpoint_fails_its_check(copy: Path) -> None:
    def alter(data: dict[str, Any]) -> None:
        checkpoint = _entry(data)["inclusionProof"]["checkpoint"]
        lines = checkpoint["envelope"].split("\n")
        lines[1] = str(int(lines[1]) + 1)  # claim a bigger tree under the same signature
        checkpoint["envelope"] = "\n".join(lines)

    _edit_bundle(copy, _archive(copy), alter)
    artifact, check, reason = _failure(_verify(copy))
    assert (artifact, check) == (_archive(copy), "sigstore") and reason.startswith("invalid log entry: checkpoint")


def test_altered_set_fails_its_check(copy: Path) -> None:
    def alter(data: dict[str, Any]) -> None:
        promise = _entry(data)["inclusionPromise"]
        promise["signedEntryTimestamp"] = _flip(promise["signedEntryTimestamp"])

    _edit_bundle(copy, _archive(copy), alter)
    artifact, check, reason = _failure(_verify(copy))
    assert (artifact, check) == (_archive(copy), "sigstore") and reason.startswith("invalid log entry: SET")


def test_npm_sigstore_verify_accepts_the_same_bundles(signed: Path) -> None:
    ledger = Ledger.load(_root(signed))
    pairs = []
    for bundle in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE):
        subject = ledger.get(bundle.related("signature_of")[0])
        dsse = bundle.facts["content"] == "dsse"
        pairs.append(f"{ledger.file(bundle)}={'-' if dsse else ledger.file(subject)}")
    proc = subprocess.run(
        [
            "node",
            str(REPO / "tests/js/verify_bundles.js"),
            str(_root(signed) / "sigstore-trusted-root.json"),
            "release@opencode.local",
            "http://127.0.0.1/oidc",
            *pairs,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0, results
    assert len(results) == len(pairs) >= 6 and all(r["ok"] for r in results)
    # ... and refuses a bundle checked against the wrong file.
    wrong = subprocess.run(
        [
            "node",
            str(REPO / "tests/js/verify_bundles.js"),
            str(_root(signed) / "sigstore-trusted-root.json"),
            "release@opencode.local",
            "http://127.0.0.1/oidc",
            f"{_root(signed) / 'SHA256SUMS.sigstore.json'}={_root(signed) / 'SHA512SUMS'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 1 and "SIGNATURE_ERROR" in wrong.stdout


def test_a_tampered_artifact_fails_verify_and_verify_release_with_exit_1_and_one_line(copy: Path) -> None:
    """Exit 1 (a failed check, not 2), no traceback, one `error:` line on stderr naming the artifact,
    with and without --json (whose stdout is then one JSON document saying the same)."""
    script = Path(sys.executable).parent / "opencode-release"
    root = _root(copy)
    archive = _archive(copy)
    data = bytearray((root / archive).read_bytes())
    data[len(data) // 2] ^= 1  # same size: only the digests and the signature can tell
    (root / archive).write_bytes(bytes(data))
    trust = ("--instance", "local", "--trusted-root", str(root / "sigstore-trusted-root.json"))
    for command in (["verify", str(root / archive)], ["verify-release", str(root)]):
        for as_json in ((), ("--json",)):
            proc = subprocess.run(
                [str(script), *command, *trust, *as_json], cwd=copy.parent, capture_output=True, text=True
            )
            assert proc.returncode == 1, (command, as_json, proc.stdout[-2000:], proc.stderr[-2000:])
            assert "Traceback" not in proc.stdout + proc.stderr
            errors = [line for line in proc.stderr.splitlines() if line.strip()]
            if as_json:
                document = json.loads(proc.stdout)
                assert (document["ok"], document["exit_code"]) == (False, 1)
                assert Path(archive).name in document["error"] and "\n" not in document["error"]
            else:
                errors = [line for line in errors if line.startswith("error:")]
            assert len(errors) == 1, (command, as_json, proc.stderr)
            assert errors[0].startswith("error: ") and Path(archive).name in errors[0], errors
