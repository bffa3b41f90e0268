from __future__ import annotations

import gzip
import hashlib
import json
import random
import subprocess
from pathlib import Path

import pytest

from opencode_release.core.errors import LedgerError
from opencode_release.core.formats import gzip_bytes
from opencode_release.core.fsio import write_atomic
from opencode_release.core.ledger import SCHEMA_VERSION, Artifact, ArtifactKind, Ledger


def _file(ledger: Ledger, name: str, data: bytes) -> Path:
    path = ledger.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_record_digests_and_round_trips(ledger: Ledger) -> None:
    binary = ledger.record(_file(ledger, "t/opencode", b"bin"), ArtifactKind.BINARY, target="linux-x86_64-gnu")
    archive = ledger.record(
        _file(ledger, "o.tar.gz", b"tgz"),
        ArtifactKind.ARCHIVE,
        target="linux-x86_64-gnu",
        relations={"archive_of": [binary.id]},
        facts={"format": "tar.gz"},
    )
    assert binary.id == "binary:t/opencode" and binary.size == 3
    assert binary.sha256 == hashlib.sha256(b"bin").hexdigest()
    ledger.save()
    loaded = Ledger.load(ledger.root)
    assert loaded.get(archive.id) == archive
    assert loaded.get(binary.id).target == "linux-x86_64-gnu"
    assert loaded.source == ledger.source
    assert json.loads(ledger.path.read_text())["schema_version"] == SCHEMA_VERSION


def test_unknown_kinds_and_fields_survive_a_round_trip(ledger: Ledger) -> None:
    ledger.save()
    data = json.loads(ledger.path.read_text())
    data["artifacts"].append(
        {
            "id": "oci:x",
            "kind": "oci-image",
            "path": "x",
            "target": None,
            "size": 1,
            "sha256": "0" * 64,
            "future_field": {"a": 1},
        }
    )
    data["future_top_level"] = [1, 2]
    ledger.path.write_text(json.dumps(data))
    loaded = Ledger.load(ledger.path)
    unknown = loaded.get("oci:x")
    assert unknown.known_kind is None and not unknown.uploadable
    loaded.save()
    again = json.loads(loaded.path.read_text())
    assert again["future_top_level"] == [1, 2]
    assert next(a for a in again["artifacts"] if a["id"] == "oci:x")["future_field"] == {"a": 1}


def test_newer_schema_is_refused_with_upgrade_hint(ledger: Ledger) -> None:
    ledger.save()
    data = json.loads(ledger.path.read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    ledger.path.write_text(json.dumps(data))
    with pytest.raises(LedgerError, match="upgrade opencode-release"):
        Ledger.load(ledger.root)


def test_malformed_and_missing_manifests_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match=r"no release manifest; run `invoke release --snapshot`"):
        Ledger.load(tmp_path)
    (tmp_path / "release-manifest.json").write_text("{not json")
    with pytest.raises(LedgerError, match=str(tmp_path)):
        Ledger.load(tmp_path)


def test_verify_file_notices_changed_bytes(ledger: Ledger) -> None:
    artifact = ledger.record(_file(ledger, "a", b"one"), ArtifactKind.ARCHIVE)
    assert ledger.verify_file(artifact)
    ledger.file(artifact).write_bytes(b"two")
    assert not ledger.verify_file(artifact)
    ledger.file(artifact).unlink()
    assert not ledger.verify_file(artifact)


def test_record_refuses_files_outside_the_release(ledger: Ledger, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.write_bytes(b"x")
    with pytest.raises(LedgerError, match="outside the release folder"):
        ledger.record(outside, ArtifactKind.ARCHIVE)


def test_uploadable_selection_follows_kinds(ledger: Ledger) -> None:
    ledger.record(_file(ledger, "b", b"b"), ArtifactKind.BINARY)
    ledger.record(_file(ledger, "a.tar.gz", b"a"), ArtifactKind.ARCHIVE)
    assert [a.kind for a in ledger.uploadable()] == ["archive"]


def test_write_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.json"
    write_atomic(target, b"1")
    write_atomic(target, b"2")
    assert target.read_bytes() == b"2"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_artifact_json_keeps_relations_sorted_and_lists() -> None:
    artifact = Artifact("i", "sbom", "p", None, 1, "0" * 64, relations={"z": ("b",), "a": ("c", "d")})
    assert list(artifact.to_json()["relations"]) == ["a", "z"]
    assert artifact.to_json()["relations"]["a"] == ["c", "d"]


def test_write_atomic_modes_public_by_default_private_on_request(tmp_path: Path) -> None:
    public, secret = tmp_path / "index.json", tmp_path / "key.pem"
    write_atomic(public, b"{}")
    write_atomic(secret, b"-----BEGIN PRIVATE KEY-----", mode=0o600)
    assert public.stat().st_mode & 0o777 == 0o644
    assert secret.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (3 << 20) + 12345])
def test_gzip_bytes_is_plain_gzip_that_gunzip_reads(size: int) -> None:
    # Compressible and incompressible halves, across several 1 MiB pieces.
    data = (b"opencode " * (size // 18 + 1))[: size // 2] + random.Random(size).randbytes(size - size // 2)
    packed = gzip_bytes(data)
    assert packed[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # no name, no time
    assert gzip.decompress(packed) == data
    gunzip = subprocess.run(["gzip", "-dc"], input=packed, capture_output=True, check=True)
    assert gunzip.stdout == data
    assert packed == gzip_bytes(data)
    # Primed pieces: within 0.5% (plus a few bytes) of one single-threaded stream.
    assert len(packed) <= len(gzip.compress(data, 9)) * 1.005 + 32
