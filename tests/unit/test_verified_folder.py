"""collect's verified-folder stage (release/verified_folder.py): the release folder CI's GitHub Release
carries for the quarterly packet, packed as it verified."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger, Source
from opencode_release.core.stage import CollectingReporter, Context
from opencode_release.release import pipeline
from opencode_release.release.verified_folder import VerifiedFolderStage, archive_path
from tests.conftest import PRODUCT

EPOCH = 1767225600


def _context(tmp_path: Path, channel: str = "stable") -> Context:
    settings = config.load(PRODUCT / "pyproject.toml")
    ledger = Ledger(
        tmp_path / "dist" / "1.4.0",
        product="opencode",
        version="1.4.0",
        channel=channel,
        source=Source("r", "a" * 40, "refs/tags/v1.4.0", EPOCH),
    )
    sums = ledger.root / "SHA256SUMS"
    sums.parent.mkdir(parents=True)
    sums.write_text("0" * 64 + "  opencode.tar.gz\n")
    ledger.record(sums, ArtifactKind.CHECKSUMS)
    binary = ledger.root / "linux-x86_64-gnu" / "opencode"
    binary.parent.mkdir()
    binary.write_bytes(b"\x7fELF")
    binary.chmod(0o755)
    ledger.record(binary, ArtifactKind.BINARY, target="linux-x86_64-gnu")
    return Context(settings=settings, ledger=ledger, reporter=CollectingReporter(), build_targets=(), snapshot=True)


def _members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as packed:
        return {m.name: m for m in packed.getmembers()}


def test_the_folder_is_packed_with_its_ledger_as_it_is_now_and_nothing_else(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    scratch = ctx.ledger.root / ".work" / "nuitka"
    scratch.mkdir(parents=True)
    (scratch / "cache.bin").write_bytes(b"x")
    outside = tmp_path / "secret.txt"
    outside.write_text("not the release's")
    os.symlink(outside, ctx.ledger.root / "link.txt")
    os.mkfifo(ctx.ledger.root / "pipe")
    VerifiedFolderStage().run(ctx)
    dest = archive_path(ctx.ledger.root, "1.4.0")
    assert dest == tmp_path / "dist" / "release-folder-1.4.0.tar.gz"  # where `gh release create` takes it
    members = _members(dest)
    files = sorted(name for name, m in members.items() if m.isfile())
    # the ledger was saved first: the one inside lists what verified
    assert files == ["1.4.0/SHA256SUMS", "1.4.0/linux-x86_64-gnu/opencode", "1.4.0/release-manifest.json"]
    assert not any(m.issym() or m.isfifo() for m in members.values())
    assert members["1.4.0/linux-x86_64-gnu/opencode"].mode == 0o755
    assert {m.mtime for m in members.values()} == {EPOCH} and {m.uid for m in members.values()} == {0}
    with tarfile.open(dest) as packed:
        handle = packed.extractfile("1.4.0/release-manifest.json")
        assert handle is not None
        inside = json.loads(handle.read())
    assert sorted(a["path"] for a in inside["artifacts"]) == ["SHA256SUMS", "linux-x86_64-gnu/opencode"]


def test_the_same_folder_packs_to_the_same_bytes(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    VerifiedFolderStage().run(ctx)
    dest = archive_path(ctx.ledger.root, "1.4.0")
    first = dest.read_bytes()
    os.utime(ctx.ledger.root / "SHA256SUMS", (0, 0))
    VerifiedFolderStage().run(ctx)
    assert dest.read_bytes() == first
    (ctx.ledger.root / "SHA256SUMS").write_text("1" * 64 + "  opencode.tar.gz\n")
    VerifiedFolderStage().run(ctx)
    assert dest.read_bytes() != first


def test_a_nightly_has_no_github_release_to_carry_it(tmp_path: Path) -> None:
    assert VerifiedFolderStage().skip(_context(tmp_path, "nightly")) == "nightly: no GitHub Release"
    assert VerifiedFolderStage().skip(_context(tmp_path / "stable")) is None


def test_ci_s_publish_phase_packs_after_verify_and_before_the_apt_repository() -> None:
    names = [s.name for s in pipeline.ci_phase("publish")]
    assert names.index("verify") + 1 == names.index("verified-folder") == names.index("apt-repo") - 1
    assert "verified-folder" not in [s.name for s in pipeline.release_stages()]  # a local dist/ is the folder
    assert "verified-folder" not in [s.name for s in pipeline.ci_phase("merge")]
