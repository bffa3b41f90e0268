"""What the manifest generators share: finding archives, download URLs, one-line descriptions."""

from __future__ import annotations

import re
import tarfile
import tomllib
import zipfile
from pathlib import Path

from ..core.config import TABLE
from ..core.config_rules import check_download_url
from ..core.ledger import Artifact, ArtifactKind
from ..core.stage import Context
from ..core.versions import Version

MANIFESTS = "manifests"


def archive_for(ctx: Context, target: str) -> Artifact | None:
    found = ctx.ledger.by_kind(ArtifactKind.ARCHIVE, target=target)
    return found[0] if found else None


def read_members(path: Path, *basenames: str) -> dict[str, bytes]:
    """The first member named each of `basenames` (in whatever folder), in one pass over the archive."""
    wanted, found = set(basenames), {}
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                base = name.rsplit("/", 1)[-1]
                if base in wanted and base not in found:
                    found[base] = archive.read(name)
        return found
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            base = member.name.rsplit("/", 1)[-1]
            if member.isfile() and base in wanted and base not in found:
                handle = tar.extractfile(member)
                if handle is not None:
                    found[base] = handle.read()
                if len(found) == len(wanted):
                    break
    return found


def member_path(path: Path, basename: str) -> str | None:
    """The path inside a zip archive of the member named `basename`."""
    with zipfile.ZipFile(path) as archive:
        return next((n for n in archive.namelist() if n.rsplit("/", 1)[-1] == basename), None)


def channel_path(channel: str, version: Version) -> str:
    """The channel's folder in the channel repository: stable, lts/<major.minor>, nightly."""
    return f"lts/{version.line}" if channel.startswith("lts") else channel


def download_url(ctx: Context, file_name: str, sha256: str) -> str:
    settings = ctx.settings
    template = settings.channels.download_url
    # checked when the configuration loaded; again here for settings made in code
    check_download_url(template, f"{settings.source_file}: {TABLE}.channels.download-url")
    version = Version.parse(ctx.ledger.version)
    return template.format(
        homepage=settings.homepage.rstrip("/"),
        channel=channel_path(ctx.ledger.channel, version),
        version=ctx.ledger.version,
        file=file_name,
        sha256=sha256,
    )


def synopsis(description: str, name: str) -> str:
    """A one-line summary without a leading article, the product's name or a final period.

    Debian (lintian) and Homebrew (brew audit) both refuse those.
    """
    text = re.sub(r"^(?:The|A|An) ", "", description.strip().rstrip("."))
    text = re.sub(rf"^{re.escape(name)}(?:'s)?\b\s*", "", text, flags=re.I)
    return text or "command-line interface"


def copyright_holder(license_text: str, fallback: str) -> str:
    match = re.search(r"^Copyright (?:\([cC]\) )?(.+)$", license_text, flags=re.M)
    return match.group(1).strip() if match else fallback


def maintainer_email(maintainer: str) -> str:
    match = re.search(r"<([^>]+)>", maintainer)
    return match.group(1) if match else maintainer


# The floor of the gnu targets' build containers (manylinux_2_28), when no inspection says more.
GLIBC_FLOOR = "2.28"


def glibc_floor(ctx: Context, archive: Artifact) -> str:
    for binary_id in archive.related("archive_of"):
        if binary_id in ctx.ledger:
            inspection = ctx.ledger.get(binary_id).facts.get("inspection")
            if isinstance(inspection, dict) and isinstance(inspection.get("glibc_floor"), str):
                return str(inspection["glibc_floor"])
    return GLIBC_FLOOR


def project_version(ctx: Context) -> str | None:
    data = tomllib.loads(ctx.settings.source_file.read_text(encoding="utf-8"))
    version = data.get("project", {}).get("version")
    return version if isinstance(version, str) else None
