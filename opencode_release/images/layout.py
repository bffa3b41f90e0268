"""A minimal OCI image, without a base: one layer with the binary, a non-root user and /tmp.

Every byte is fixed by the inputs: the tar has sorted entries, owner 0 (the
user's home excepted), mtime SOURCE_DATE_EPOCH and no user or group names; the
layer is gzip with no name and no time (core/formats.py); JSON is canonical.
So the same release gives the same manifest and index digests, on any machine
with the same inputs (a gnu image also carries that machine's libc: recorded).

The layout written (`oci/layout/`) is an OCI image layout: `oci-layout`,
`index.json` naming the image index by the version (`ref.name`), and
`blobs/sha256/`. Each manifest and the image index are also written beside it
under readable names; those copies are what the ledger signs and lists.
"""

from __future__ import annotations

import datetime as dt
import io
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core import oci
from ..core.formats import canonical_json, gzip_bytes

USER_ID = 65532
USER_NAME = "nonroot"
HOME = f"/home/{USER_NAME}"
PATH_ENV = "PATH=/usr/local/bin:/usr/bin:/bin"
LAYOUT_VERSION = canonical_json({"imageLayoutVersion": "1.0.0"})


@dataclass(frozen=True, slots=True)
class RootFile:
    """A regular file of the image's root (path absolute, POSIX)."""

    path: str
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class Image:
    """One platform's image: its blobs (by digest) and its manifest's bytes."""

    platform: tuple[str, str]  # (os, architecture)
    config: bytes
    layer: bytes
    diff_id: str
    manifest: bytes

    @property
    def digest(self) -> str:
        return oci.sha256_digest(self.manifest)

    def blobs(self) -> dict[str, bytes]:
        return {oci.sha256_digest(b): b for b in (self.config, self.layer, self.manifest)}


def created(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def labels(*, name: str, version: str, revision: str, source: str, licenses: str, epoch: int) -> dict[str, str]:
    found = {
        "org.opencontainers.image.title": name,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.licenses": licenses,
        "org.opencontainers.image.created": created(epoch),
    }
    return {k: v for k, v in found.items() if v}


def _user_files() -> list[RootFile]:
    passwd = (
        f"root:x:0:0:root:/root:/sbin/nologin\n{USER_NAME}:x:{USER_ID}:{USER_ID}:{USER_NAME}:{HOME}:/sbin/nologin\n"
    )
    group = f"root:x:0:\n{USER_NAME}:x:{USER_ID}:\n"
    return [RootFile("/etc/passwd", passwd.encode()), RootFile("/etc/group", group.encode())]


def layer_tar(files: Iterable[RootFile], epoch: int) -> bytes:
    """The root file system as one uncompressed tar; directories made for every parent."""
    entries: dict[str, RootFile | None] = {"tmp": None, HOME.lstrip("/"): None}
    for given in [*_user_files(), *files]:
        entries[given.path.lstrip("/")] = given
    folders = {"/".join(p.split("/")[:i]) for p in entries for i in range(1, p.count("/") + 1)}
    folders |= {p for p, f in entries.items() if f is None}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folders | set(entries)):
            info = tarfile.TarInfo(path)
            info.mtime, info.uname, info.gname = epoch, "", ""
            file = entries.get(path)
            if file is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o1777 if path == "tmp" else 0o755
                if path == HOME.lstrip("/"):
                    info.uid = info.gid = USER_ID
                tar.addfile(info)
            else:
                info.size, info.mode = len(file.data), file.mode
                tar.addfile(info, io.BytesIO(file.data))
    return out.getvalue()


def build_image(
    files: Iterable[RootFile],
    *,
    platform: tuple[str, str],
    entrypoint: str,
    labels: Mapping[str, str],
    epoch: int,
) -> Image:
    tar = layer_tar(files, epoch)
    diff_id = oci.sha256_digest(tar)
    layer = gzip_bytes(tar)
    os_name, architecture = platform
    config = canonical_json(
        {
            "architecture": architecture,
            "os": os_name,
            "created": created(epoch),
            "config": {
                "User": f"{USER_ID}:{USER_ID}",
                "Entrypoint": [entrypoint],
                "Env": [PATH_ENV],
                "WorkingDir": "/",
                "Labels": dict(labels),
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": created(epoch), "created_by": "opencode-release image"}],
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": oci.MANIFEST,
            "config": oci.descriptor(oci.CONFIG, config),
            "layers": [oci.descriptor(oci.LAYER, layer)],
            "annotations": dict(labels),
        }
    )
    return Image(platform, config, layer, diff_id, manifest)


def build_index(images: Iterable[Image], annotations: Mapping[str, str]) -> bytes:
    manifests: list[dict[str, Any]] = [
        oci.descriptor(
            oci.MANIFEST, image.manifest, platform={"architecture": image.platform[1], "os": image.platform[0]}
        )
        for image in sorted(images, key=lambda i: i.platform)
    ]
    return canonical_json(
        {"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": manifests, "annotations": dict(annotations)}
    )


def layout_index(index: bytes, ref_name: str) -> bytes:
    """The layout's own index.json: the image index under its version name."""
    entry = oci.descriptor(oci.INDEX, index, annotations={"org.opencontainers.image.ref.name": ref_name})
    return canonical_json({"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": [entry]})
