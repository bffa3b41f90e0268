"""Every third-party action and container image the generated workflows use, pinned, in one table.

An action is pinned to the full commit its release tag pointed at when it was pinned (a tag can
be moved by the action's owner; a commit cannot), with the version in a comment beside each
`uses:`. To move a pin: read the tag's commit in the action's repository
(`git ls-remote https://github.com/OWNER/NAME refs/tags/vX.Y.Z^{}`), read that tag's action.yml for
changed inputs and outputs, change the row, run `invoke ci --write`. Images are pinned by digest
(`docker buildx imagetools inspect IMAGE:TAG` gives the index digest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..core.errors import UsageError

FULL_COMMIT = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Pin:
    commit: str
    version: str


# The tag's commit, read from each action's repository on 2026-12-01.
ACTIONS: dict[str, Pin] = {
    "actions/checkout": Pin("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": Pin("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": Pin("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": Pin("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "actions/cache": Pin("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "actions/attest": Pin("59d89421af93a897026c735860bf21b6eb4f7b26", "v4.1.0"),
    "actions/attest-build-provenance": Pin("a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32", "v4.1.0"),
    "sigstore/gh-action-sigstore-python": Pin("790bc6befb9d733738f18d8f895854b453640ec9", "v3.5.0"),
}

# Build images by index digest. These are digests other projects pinned in their public workflows
# in 2026; the registry cannot be reached from the machine that wrote this table, so check them
# with `docker buildx imagetools inspect` before the first real run and refresh them here.
IMAGES: dict[str, str] = {
    "quay.io/pypa/manylinux_2_28_x86_64": "sha256:39df0042d5cc900b085aa25a0659368b42a0006c54c474299b785b44c1b4ff82",
    "quay.io/pypa/manylinux_2_28_aarch64": "sha256:f5f03dedf61b47d69d0742d36047db78adeee3bdb7a9910ff52304750ecf2514",
    "quay.io/pypa/musllinux_1_2_x86_64": "sha256:7b54360b191356838f6e41d4b9820c69be4f3d8dc8e7bca26f2684d48e5c8633",
    "quay.io/pypa/musllinux_1_2_aarch64": "sha256:274a947b4d5d745b56b868b0d052641e0798a652e3e65755987edf60547d1268",
}

# Tools the workflows install, by exact version.
UV = "0.13.8"


def uses(action: str) -> str:
    """`owner/name@<commit>` for a `uses:` line."""
    return f"{action}@{ACTIONS[action].commit}"


def image(name: str) -> str:
    return f"{name}@{IMAGES[name]}"


def version_of(reference: str) -> str | None:
    """The version comment for a `uses:` value, or None when it is not a pinned action."""
    action, _, ref = reference.partition("@")
    pin = ACTIONS.get(action)
    return pin.version if pin and pin.commit == ref else None


def refuse_unpinned(workflow_path: str, reference: str) -> None:
    """A `uses:` must be a local workflow/action or owner/name[/path]@<40-hex commit>."""
    if reference.startswith("./"):
        return
    _, at, ref = reference.partition("@")
    if not at or not FULL_COMMIT.match(ref):
        raise UsageError(
            f"{workflow_path}: uses {reference!r} is not pinned to a full commit; pin it in "
            "opencode_release/build/ci_pins.py (the tag's commit, version in the comment)"
        )


def unpinned_uses(path: str, document: Any) -> list[str]:
    """One line per `uses:` in a parsed workflow that is not a local path or a full-commit pin."""
    found: list[str] = []
    jobs = document.get("jobs", {}) if isinstance(document, dict) else {}
    for name, job in jobs.items():
        references = [job.get("uses")] + [step.get("uses") for step in job.get("steps", []) if isinstance(step, dict)]
        for reference in references:
            if not isinstance(reference, str):
                continue
            try:
                refuse_unpinned(path, reference)
            except UsageError as exc:
                found.append(f"{exc} (job {name})")
    return found
