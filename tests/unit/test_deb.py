"""The .deb stage on a fake release of all nine targets: determinism, control, skips, refusals."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from opencode_release.core.errors import CheckFailed
from opencode_release.core.ledger import ArtifactKind
from opencode_release.core.stage import CollectingReporter
from opencode_release.core.versions import Version
from opencode_release.manifests import deb
from opencode_release.manifests.stages import DebStage
from tests.fake_release import fake_release

AMD64 = "manifests/apt/pool/main/o/opencode/opencode_1.4.0_amd64.deb"
ARM64 = "manifests/apt/pool/main/o/opencode/opencode_1.4.0_arm64.deb"


def test_one_deb_per_linux_gnu_target_byte_identical_across_runs(tmp_path: Path) -> None:
    first, second = fake_release(tmp_path / "a"), fake_release(tmp_path / "b")
    for ctx in (first, second):
        DebStage().run(ctx)
    debs = {a.path: a for a in first.ledger.by_kind(ArtifactKind.DEB)}
    assert set(debs) == {AMD64, ARM64}
    assert debs[AMD64].target == "linux-x86_64-gnu" and debs[ARM64].facts["deb_arch"] == "arm64"
    for path in (AMD64, ARM64):
        assert (first.dist_dir / path).read_bytes() == (second.dist_dir / path).read_bytes()
    assert debs[AMD64].sha256 == second.ledger.get(f"deb:{AMD64}").sha256


def test_control_file_as_dpkg_reads_it(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path)
    DebStage().run(ctx)
    path = str(ctx.dist_dir / AMD64)
    fields = deb.parse_stanza(
        subprocess.run(["dpkg-deb", "-f", path], capture_output=True, text=True, check=True).stdout
    )
    assert fields["Package"] == "opencode" and fields["Version"] == "1.4.0"
    assert fields["Architecture"] == "amd64" and fields["Depends"] == "libc6 (>= 2.28)"
    assert fields["Maintainer"] == "OpenCode Release Team <release@opencode.example.org>"
    assert fields["Description"].startswith("AI coding agent's command-line interface\n The OpenCode")
    assert deb.control_from_deb(ctx.dist_dir / AMD64) == fields
    listing = subprocess.run(["dpkg-deb", "-c", path], capture_output=True, text=True, check=True).stdout
    for member in ("./usr/bin/opencode", "./usr/share/doc/opencode/copyright", "./usr/share/doc/opencode/changelog.gz"):
        assert member in listing
    assert "-rwxr-xr-x root/root" in next(line for line in listing.splitlines() if "usr/bin/opencode" in line)


def test_nightly_debian_version_sorts_before_its_release_for_dpkg(tmp_path: Path) -> None:
    nightly = Version.parse("1.5.0-nightly.20261123+gabc1234")
    assert nightly.debian() == "1.5.0~nightly.20261123+gabc1234"
    for op, other in (("lt", "1.5.0"), ("gt", "1.4.0"), ("lt", "1.5.0~nightly.20261124+g0000000")):
        assert subprocess.run(["dpkg", "--compare-versions", nightly.debian(), op, other], check=False).returncode == 0
    ctx = fake_release(tmp_path, version=str(nightly), channel="nightly", only=("linux-x86_64-gnu",))
    DebStage().run(ctx)
    (package,) = ctx.ledger.by_kind(ArtifactKind.DEB)
    assert package.path.endswith("opencode_1.5.0~nightly.20261123+gabc1234_amd64.deb")
    with _data_tar(ctx.dist_dir / package.path) as tar:
        handle = tar.extractfile("./usr/share/doc/opencode/changelog.gz")
        assert handle is not None
        assert (
            gzip.decompress(handle.read())
            .decode()
            .startswith("opencode (1.5.0~nightly.20261123+gabc1234) nightly; urgency=medium")
        )


def _data_tar(path: Path) -> tarfile.TarFile:
    data = path.read_bytes()
    start = data.index(b"data.tar.gz")
    size = int(data[start + 48 : start + 58].decode().strip())
    return tarfile.open(fileobj=io.BytesIO(data[start + 60 : start + 60 + size]), mode="r:gz")


def test_targets_without_archives_are_skipped_with_a_note(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=("linux-x86_64-gnu", "darwin-universal"))
    DebStage().run(ctx)
    assert [a.target for a in ctx.ledger.by_kind(ArtifactKind.DEB)] == ["linux-x86_64-gnu"]
    assert isinstance(ctx.reporter, CollectingReporter)
    assert "linux-aarch64-gnu: no archive in this release; no arm64 .deb" in ctx.reporter.notes


def test_an_archive_without_the_binary_is_refused(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=("linux-x86_64-gnu",))
    (archive,) = ctx.ledger.by_kind(ArtifactKind.ARCHIVE)
    with tarfile.open(ctx.ledger.file(archive), "w:gz") as tar:
        tar.add(ctx.settings.project_dir / "LICENSE", "opencode-1.4.0-linux-x86_64-gnu/LICENSE")
    with pytest.raises(
        CheckFailed,
        match=r"opencode-1.4.0-linux-x86_64-gnu.tar.gz: has no opencode binary; "
        r"rerun the package stage",
    ):
        DebStage().run(ctx)
    assert not (ctx.dist_dir / "manifests").exists()
