"""CI's publish job: the release folder packed as it verified, for the quarterly packet.

CI keeps no `dist/`, so the tag's GitHub Release carries `release-folder-<version>.tar.gz`
and the quarterly job (build/ci_procurement.py) restores folders from it and verifies them
again. That second verification starts from the signed release statement, so the folder
must be the one the statement covers: packed right after the verify stage, before the apt
repository (signed later, with a key the signing jobs never see, and covered by TUF and
InRelease rather than by the statement) adds files no signature of the release lists.
"""

from __future__ import annotations

from pathlib import Path

from ..build.archives import Entry, tar_gz
from ..build.ci_procurement import RELEASE_FOLDER
from ..core.stage import Context, Stage
from ..verify.release_statement import BUILD_SCRATCH


def archive_path(folder: Path, version: str) -> Path:
    """Beside the release folder, where the release job's `gh release create` picks it up."""
    return folder.parent / RELEASE_FOLDER.format(version=version)


def entries(folder: Path) -> list[Entry]:
    """Every regular file of `folder` under `<folder name>/`, its scratch space left out; symlinks and
    other special files are not followed (verify has refused a folder holding them before this runs)."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] == BUILD_SCRATCH or path.is_symlink() or not path.is_file():
            continue
        found.append(Entry(path, f"{folder.name}/{relative.as_posix()}"))
    return found


class VerifiedFolderStage(Stage):
    name = "verified-folder"
    description = "pack the release folder as it verified, before the apt repository adds unsigned files"
    # Packs what is on disk now: a recorded run says nothing about the folder after it.
    always_run = True

    def skip(self, ctx: Context) -> str | None:
        # nightlies are not GitHub Releases and no packet covers them
        return "nightly: no GitHub Release" if ctx.ledger.channel == "nightly" else None

    def run(self, ctx: Context) -> None:
        ctx.ledger.save()  # the ledger inside is the one that verified
        folder = ctx.ledger.root
        dest = tar_gz(entries(folder), archive_path(folder, ctx.ledger.version), ctx.epoch)
        ctx.reporter.note(f"{dest.name}: the release folder as verified ({dest.stat().st_size} bytes)")
