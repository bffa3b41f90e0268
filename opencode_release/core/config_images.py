"""`[tool.opencode-release.images]`: which binaries become OCI images, where they go, and their rules.

An image has no base, so the binary must carry its C library or the image must:
a static binary goes in alone; a dynamically linked one (a gnu build, and the
musllinux builds, linked to musl's loader) only when `libc-package` names the
Debian package whose shared libraries and dynamic loader the image then
carries ("musl", "libc6"), taken from the machine that builds the image and
recorded in the image's SBOM. CI's builds are all dynamic, so the generated CI
builds images only with `libc-package` (build/ci_images.py).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ._toml_dataclass import setting

# OCI platform architectures (the Go names the image spec uses) of the Linux targets.
OCI_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64"}
_REGISTRY = re.compile(r"[a-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")


@dataclass(frozen=True, slots=True)
class ImageSettings:
    """OCI images of the Linux binaries (`publish-image`, `verify-image`)."""

    targets: tuple[str, ...] = setting(
        ("linux-x86_64-musl", "linux-aarch64-musl"),
        "the Linux targets whose binaries become images, one per architecture (those the release holds); "
        "a gnu target also needs libc-package",
        '["linux-x86_64-musl"]',
    )
    binary_path: str = setting(
        "",
        "where the binary sits in the image (the entrypoint)",
        '"/usr/local/bin/mytool"',
        derived="/usr/local/bin/<name>",
    )
    libc_package: str = setting(
        "",
        "the Debian package whose shared libraries and dynamic loader go into the image of a dynamically linked "
        "binary (musl for a musl build, libc6 for glibc; from the machine building it, recorded in the image's "
        "SBOM); the generated CI builds images only with it, and each image target's build job installs it on "
        "its own runner and carries its files to the image (`carry-libc`), arm64 included; "
        "empty: a dynamically linked binary is left out (refused when its target is named)",
        '"libc6"',
    )
    registry: str = setting(
        "",
        "HOST[:PORT]/REPO that `publish-image` and the snapshot release push to (empty: no push here, and the "
        "generated CI pushes the images it builds to ghcr.io/<owner>/<name> of the GitHub repository)",
        '"ghcr.io/opencode/opencode"',
    )


def platform_of(target: str) -> tuple[str, str]:
    """(os, architecture) of a Linux target, as an OCI platform names them."""
    parts = target.split("-")
    if len(parts) != 3 or parts[0] != "linux" or parts[1] not in OCI_ARCHITECTURES:
        raise ValueError(f"{target}: not a Linux target an image can be made of")
    return "linux", OCI_ARCHITECTURES[parts[1]]


def binary_path(images: ImageSettings, name: str) -> str:
    return images.binary_path or f"/usr/local/bin/{name}"


def check_images(images: ImageSettings, known: tuple[str, ...], where: str, problems: list[str], table: str) -> None:
    key = f"{where}: {table}.images"
    seen: dict[str, str] = {}
    for target in images.targets:
        try:
            _, arch = platform_of(target)
        except ValueError:
            problems.append(
                f"{key}.targets: {target!r} is not a Linux target; expected some of "
                f"{', '.join(t for t in known if t.startswith('linux-'))}"
            )
            continue
        if target not in known:
            problems.append(f"{key}.targets: unknown target {target!r}")
        elif arch in seen:
            problems.append(
                f"{key}.targets: {seen[arch]} and {target} are both linux/{arch}; an image index holds one image "
                "per platform: keep one"
            )
        seen.setdefault(arch, target)
    path = images.binary_path
    if path and (not path.startswith("/") or posixpath.normpath(path) != path or path == "/"):
        problems.append(
            f"{key}.binary-path: found {path!r}; expected an absolute, normalised path such as /usr/local/bin/x"
        )
    if images.libc_package and not _PACKAGE.fullmatch(images.libc_package):
        problems.append(
            f"{key}.libc-package: found {images.libc_package!r}; expected a Debian package name such as libc6"
        )
    if images.registry and not _REGISTRY.fullmatch(images.registry):
        problems.append(
            f"{key}.registry: found {images.registry!r}; expected HOST[:PORT]/REPO in lower case, such as "
            "ghcr.io/opencode/opencode"
        )
