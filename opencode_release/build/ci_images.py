"""Container images in the generated CI: which images it builds, where it pushes them, what its jobs need.

CI's Linux binaries are never static: the musllinux builds link musl's loader (/lib/ld-musl-<arch>.so.1), the
manylinux ones glibc's. So CI builds an image only when it can carry that C library: `images.libc-package`
("musl" for the musl targets, the default `images.targets`). The images are made in the merge job, on an
amd64 runner, which has no arm64 package to take; so each image target's build job, on its own native runner,
installs the package from that runner's archive (Ubuntu's on GitHub's runners) and records its shared objects
in its partial ledger with `opencode-release carry-libc` (images/carried_libc.py). The image stage builds each
image from what its target's job carried; the package's name, version and files go into the image's SBOM.

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
from .ci_jobs import VERSION_ENV, Layout, run, setup

GHCR = "ghcr.io"


def image_targets(settings: Settings) -> list[str]:
    """The images.targets CI builds an image of: only with a C library to carry (its builds are dynamic)."""
    images = settings.images
    return [t for t in images.targets if t in settings.targets] if images.libc_package else []


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


def build_steps(settings: Settings, target: str, layout: Layout) -> list[dict[str, Any]]:
    """After an image target's build, on its own runner: the C library its image carries, into the partial."""
    if target not in image_targets(settings):
        return []
    package = settings.images.libc_package  # a Debian package name (core/config_images.py checks its shape)
    return [
        *setup(layout)[1:],  # opencode-release on the runner: a container build ran it inside the container
        run(
            f"the C library the image carries (images.libc-package = {package}), from this runner",
            "sudo apt-get update -q\n"
            f"sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {package}\n"
            # the container build wrote the release folder as root
            f'sudo chown -R "$(id -u):$(id -g)" {layout.dist}\n'
            f'opencode-release carry-libc --project {layout.project} --target {target} --version "$VERSION" --json\n',
            VERSION_ENV,
        ),
    ]
