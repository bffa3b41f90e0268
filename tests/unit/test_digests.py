from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from opencode_release.attest.digests import digest_file, sums_text


@pytest.mark.parametrize("size", [0, 1, 4 << 20, (4 << 20) + 1, 3 * (4 << 20) - 7])
def test_both_digests_match_hashlib_across_chunk_boundaries(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    digests = digest_file(path)
    assert digests.size == size
    assert digests.sha256 == hashlib.sha256(data).hexdigest()
    assert digests.sha512 == hashlib.sha512(data).hexdigest()


def test_small_chunks_still_agree(tmp_path: Path) -> None:
    data = os.urandom(100_003)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert digest_file(path, chunk=4096).sha512 == hashlib.sha512(data).hexdigest()


def test_sums_text_is_what_sha256sum_checks(tmp_path: Path) -> None:
    names = ["b file.tar.gz", "a.zip"]
    for name in names:
        (tmp_path / name).write_bytes(name.encode() * 10)
    text = sums_text((n, digest_file(tmp_path / n).sha256) for n in names)
    assert text.splitlines()[0].endswith("  a.zip")  # sorted by name
    (tmp_path / "SHA256SUMS").write_text(text)
    ok = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "a.zip").write_bytes(b"tampered")
    bad = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "a.zip: FAILED" in bad.stdout
