"""Container images in the generated CI: which images it builds, where it pushes them, what its jobs need.

CI's Linux binaries are never static: the musllinux builds link musl's loader (/lib/ld-musl-<arch>.so.1), the
manylinux ones glibc's. So CI builds an image only when it can carry that C library: `images.libc-package`
("musl" for the musl targets, the default `images.targets`). The image stage runs in the merge job, on the
amd64 runner, and takes the package's shared objects from that machine: the job installs the package from the
runner's archive first (Ubuntu's on GitHub's runners; its name, version and files go into the image's SBOM).
That runner has no arm64 package, so an arm64 image target is refused when the workflows are generated,
instead of failing the merge job of a release.

The images go to `images.registry`, else to the GitHub Container Registry of the product's repository
(`ghcr.io/<owner>/<name>`, lower-case as ghcr.io requires), from the publish job (the one holding publishing
credentials): the workflow's token with `packages: write` for ghcr.io, the REGISTRY_USERNAME /
REGISTRY_PASSWORD secrets for any other registry.
"""

from __future__ import annotations

from typing import Any

from ..core import oci
from ..core.config import Settings
from ..core.errors import ConfigError
from ..core.names import github_owner_name
from . import targets
from .ci_jobs import run

RUNNER_ARCH = "x86_64"  # the merge job's runner (ci_jobs.HOST_RUNNER)
GHCR = "ghcr.io"


def image_targets(settings: Settings) -> list[str]:
    """The images.targets CI builds an image of: only with a C library to carry (its builds are dynamic)."""
    images = settings.images
    chosen = [t for t in images.targets if t in settings.targets] if images.libc_package else []
    foreign = [t for t in chosen if targets.get(t).arch != RUNNER_ARCH]
    if foreign:
        raise ConfigError(
            f"{settings.source_file}: images.targets {', '.join(foreign)}: CI's merge job builds images on an "
            f"{RUNNER_ARCH} runner, which has no {images.libc_package} of that architecture to carry; leave "
            "the target out of images.targets"
        )
    return chosen


def registry(settings: Settings) -> str:
    """Where CI pushes the images: images.registry, else ghcr.io/<owner>/<name> of the repository ("" for none)."""
    if not image_targets(settings):
        return ""
    chosen = settings.images.registry
    if not chosen:
        parts = github_owner_name(settings.repository)
        if parts is None:
            raise ConfigError(
                f"{settings.source_file}: images.registry is empty and repository {settings.repository!r} is not "
                "https://github.com/OWNER/NAME, whose ghcr.io repository CI would push to; set images.registry"
            )
        chosen = f"{GHCR}/{parts[0].lower()}/{parts[1].lower()}"
    oci.Reference.parse(chosen, what="a registry repository (images.registry)")
    return chosen


def publish_env(settings: Settings) -> dict[str, str]:
    """The publish step's registry credentials (none when CI pushes no image)."""
    where = registry(settings)
    if not where:
        return {}
    if where.split("/", 1)[0] == GHCR:
        return {oci.USERNAME_ENV: "${{ github.actor }}", oci.PASSWORD_ENV: "${{ github.token }}"}
    return {oci.USERNAME_ENV: "${{ secrets.REGISTRY_USERNAME }}", oci.PASSWORD_ENV: "${{ secrets.REGISTRY_PASSWORD }}"}


def publish_flag(settings: Settings) -> str:
    where = registry(settings)
    return f" --image-registry {where}" if where else ""


def merge_steps(settings: Settings) -> list[dict[str, Any]]:
    """Before the merge job's collect: the C library package the images carry, on the runner."""
    if not image_targets(settings):
        return []
    package = settings.images.libc_package  # a Debian package name (core/config_images.py checks its shape)
    return [
        run(
            f"the C library the images carry (images.libc-package = {package})",
            "sudo apt-get update -q\n"
            f"sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {package}\n",
        )
    ]
