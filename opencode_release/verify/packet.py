"""A procurement packet's folder against its signed `packet-manifest.json` (after the manifest's bundle verified).

Every listed file must be there with its digest, and nothing may be there
that the manifest does not list: a changed, missing or added file fails.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..core.errors import VerificationError
from ..core.names import BUNDLE_SUFFIX, PACKET_MANIFEST_NAME, PACKET_SCHEMA
from .release_files import safe_path

CHECKS = ("packet-manifest", "path", "listed-file", "packet-digest", "packet-unlisted")


def _listed(manifest: Path) -> dict[str, str]:
    name = PACKET_MANIFEST_NAME
    try:
        document: Any = json.loads(manifest.read_bytes())
        if document.get("schema") != PACKET_SCHEMA:
            raise ValueError(f"schema is {document.get('schema')!r}, not {PACKET_SCHEMA}")
        return {str(f["path"]): str(f["sha256"]) for f in document["files"]}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise VerificationError(name, "packet-manifest", f"not a procurement packet manifest: {exc}") from None


def verify_packet_folder(manifest: Path) -> None:
    """Raises VerificationError naming the first file that differs from the manifest."""
    folder = manifest.parent
    listed = _listed(manifest)
    name = PACKET_MANIFEST_NAME
    for relative, digest in sorted(listed.items()):
        path = Path(safe_path(str(folder), relative, name))
        found = hashlib.sha256(path.read_bytes()).hexdigest()
        if found != digest:
            reason = f"{relative} has sha256 {found}; the manifest lists {digest}"
            raise VerificationError(name, "packet-digest", reason)
    own = {PACKET_MANIFEST_NAME, PACKET_MANIFEST_NAME + BUNDLE_SUFFIX}
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}
    extra = sorted(present - own - set(listed))
    if extra:
        raise VerificationError(name, "packet-unlisted", f"{extra[0]} is in the packet but not in its manifest")
