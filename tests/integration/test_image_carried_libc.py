"""The C library a build job carries for its target's image (images/carried_libc.py), on the real host build.

CI's merge job builds every image on an amd64 runner; an arm64 image's C library comes from the arm64 build
job's own runner instead. Here the host's gnu binary stands for such a target: `carry-libc` records this
machine's libc6 in the ledger, and the image stage then builds the same image without any dpkg to ask.
What it is handed is another job's output, so each way of tampering with it is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from opencode_release.core.errors import StageError
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.images import carried_libc

from .image_helpers import GNU, cli, configure, run

TARGET = "linux-x86_64-gnu"
LOADER = "/lib64/ld-linux-x86-64.so.2"
BUILD_RUNNER = dict(os.environ)  # carry-libc runs where dpkg has the package: the target's build runner


def _carry(product: Path, *extra: str) -> dict[str, Any]:
    done = cli("carry-libc", "--target", TARGET, "--project", str(product), "--json", *extra, env=BUILD_RUNNER)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _ledger(product: Path) -> Ledger:
    return Ledger.load(product.parent / "dist" / "1.4.0")


def _manifest_digest(product: Path) -> str:
    (manifest,) = _ledger(product).by_kind(ArtifactKind.IMAGE_MANIFEST)
    return str(manifest.facts["digest"])


def hide_dpkg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on the merge runner of an arm64 image: no package of that architecture for dpkg to give."""
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def no_dpkg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hide_dpkg(monkeypatch, tmp_path)


def test_the_image_is_built_from_the_carried_c_library_as_from_the_hosts(
    release_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = configure(release_copy, GNU)
    planned = _carry(release_copy, "--dry-run")
    assert (planned["target"], planned["would_carry"]) == (TARGET, "libc6")
    assert not _ledger(release_copy).by_kind(ArtifactKind.IMAGE_LIBC), "a dry run records nothing"
    run(settings, "image")
    from_host = _manifest_digest(release_copy)
    carried = _carry(release_copy)
    assert carried["package"] == "libc6" and LOADER in carried["files"]
    recorded = _ledger(release_copy).by_kind(ArtifactKind.IMAGE_LIBC, target=TARGET)
    assert sorted(a.facts["path"] for a in recorded) == sorted(carried["files"])
    assert all(a.path == f"image-libc/{TARGET}{a.facts['path']}" and not a.uploadable for a in recorded)
    hide_dpkg(monkeypatch, tmp_path)
    ctx = run(settings, "image")
    (manifest,) = ctx.ledger.by_kind(ArtifactKind.IMAGE_MANIFEST)
    assert manifest.facts["digest"] == from_host, "the same files make the same image"
    assert manifest.facts["libc"]["package"] == "libc6" and LOADER in manifest.facts["libc"]["files"]


def _carried_then(release_copy: Path, change: Any) -> None:
    """Carry, tamper with the ledger's carried files as a partial ledger could, then build the image."""
    settings = configure(release_copy, GNU)
    _carry(release_copy)
    ledger = _ledger(release_copy)
    change(ledger, ledger.by_kind(ArtifactKind.IMAGE_LIBC, target=TARGET))
    ledger.save()
    run(settings, "image")


def _loader(found: Any) -> Any:
    return next(a for a in found if a.facts["path"] == LOADER)


def test_a_carried_file_changed_after_it_was_recorded_is_refused(release_copy: Path, no_dpkg: None) -> None:
    def change(ledger: Ledger, found: Any) -> None:
        ledger.file(_loader(found)).write_bytes(b"not the loader")

    with pytest.raises(StageError, match=r"ld-linux-x86-64.so.2: missing or changed since it was recorded; carry it"):
        _carried_then(release_copy, change)


def test_a_carried_file_placed_outside_a_library_folder_is_refused(release_copy: Path, no_dpkg: None) -> None:
    def change(ledger: Ledger, found: Any) -> None:
        ledger.update_facts(found[0].id, {"path": "/etc/passwd"})

    with pytest.raises(StageError, match=r"path '/etc/passwd' is not a shared object in a library folder"):
        _carried_then(release_copy, change)


def test_a_carried_file_standing_for_another_path_in_the_image_is_refused(release_copy: Path, no_dpkg: None) -> None:
    def change(ledger: Ledger, found: Any) -> None:
        other = next(a for a in found if a.facts["path"] != LOADER)
        ledger.update_facts(other.id, {"path": LOADER})

    with pytest.raises(StageError, match=r"is the file for /lib64/ld-linux-x86-64.so.2 in the image, which carry-libc"):
        _carried_then(release_copy, change)


def test_carried_package_facts_that_are_not_plain_names_are_refused(release_copy: Path, no_dpkg: None) -> None:
    def change(ledger: Ledger, found: Any) -> None:
        for artifact in found:  # would reach the SBOM's purl as it is
            ledger.update_facts(artifact.id, {"vendor": "debian?arch=evil"})

    with pytest.raises(StageError, match=r"its package, version, architecture and vendor are not all plain names"):
        _carried_then(release_copy, change)


def test_carried_files_of_two_packages_are_refused(release_copy: Path, no_dpkg: None) -> None:
    def change(ledger: Ledger, found: Any) -> None:
        ledger.update_facts(found[-1].id, {"version": "9.9"})

    with pytest.raises(StageError, match=r"another file of the same C library names"):
        _carried_then(release_copy, change)


@pytest.mark.parametrize(("field", "value"), [("package", "musl"), ("architecture", "arm64")])
def test_a_c_library_of_another_package_or_architecture_is_refused(
    release_copy: Path, no_dpkg: None, field: str, value: str
) -> None:
    def change(ledger: Ledger, found: Any) -> None:
        for artifact in found:
            ledger.update_facts(artifact.id, {field: value})

    with pytest.raises(StageError, match=r"the image needs images.libc-package libc6 for amd64"):
        _carried_then(release_copy, change)


def test_a_carried_c_library_without_the_binarys_loader_is_refused(release_copy: Path, no_dpkg: None) -> None:
    def change(ledger: Ledger, found: Any) -> None:
        ledger.remove(_loader(found).id)

    with pytest.raises(StageError, match=r"holds no /lib64/ld-linux-x86-64.so.2, the binary's interpreter"):
        _carried_then(release_copy, change)


def test_carry_libc_for_a_target_that_is_not_linux_is_one_line(release_copy: Path) -> None:
    configure(release_copy, GNU)
    done = cli("carry-libc", "--target", "windows-x86_64", "--project", str(release_copy))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "carry-libc --target windows-x86_64: windows-x86_64: not a Linux target" in done.stderr


def test_a_carried_c_library_over_the_size_bound_is_not_read(
    release_copy: Path, no_dpkg: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(carried_libc, "MAX_BYTES", 1 << 20)  # below libc6's few MB, as 10 GB would be above 256 MiB
    with pytest.raises(StageError, match=r"the C library carried for linux-x86_64-gnu is over 1 MiB"):
        _carried_then(release_copy, lambda ledger, found: None)


@pytest.mark.parametrize(
    ("table", "target", "said"),
    [
        ('targets = ["linux-x86_64-gnu"]', TARGET, "images.libc-package is empty; there is no C library to carry"),
        (GNU, "linux-aarch64-musl", "no binary of linux-aarch64-musl to carry a C library for; build it first"),
    ],
)
def test_carry_libc_without_a_package_or_a_binary_is_one_line_and_records_nothing(
    release_copy: Path, table: str, target: str, said: str
) -> None:
    configure(release_copy, table)
    done = cli("carry-libc", "--target", target, "--project", str(release_copy), env=BUILD_RUNNER)
    assert done.returncode == 1 and said in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not _ledger(release_copy).by_kind(ArtifactKind.IMAGE_LIBC)
