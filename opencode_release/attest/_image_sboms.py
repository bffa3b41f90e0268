"""SBOMs of OCI images: what each platform image holds (the binary's SBOM, and the libc a gnu image carries),
and the index's over them. The image's C library is a component of its own, with the Debian package's
name, version and purl, so a reader of a gnu image's SBOM sees which glibc the image ships."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from packageurl import PackageURL

from ..core.ledger import Artifact
from . import sbom

PROP = "opencode-release"


def _libc(facts: Mapping[str, Any]) -> Component:
    package, version, arch = str(facts["package"]), str(facts["version"]), str(facts["architecture"])
    files = [str(f) for f in facts.get("files", [])]
    return Component(
        name=package,
        version=version,
        bom_ref=f"image-libc:{package}:{arch}",
        type=ComponentType.LIBRARY,
        scope=ComponentScope.REQUIRED,
        description=f"C library carried in the image, from the Debian package {package} of the machine that built it",
        purl=PackageURL("deb", str(facts.get("vendor") or "debian"), package, version, {"arch": arch}),
        properties=[
            Property(name=f"{PROP}:provided-by", value="image"),
            *(Property(name=f"{PROP}:image-file", value=path) for path in files),
        ],
    )


def image_bom(product: sbom.Product, subject: Artifact, parts: list[tuple[Artifact, sbom.Program]], epoch: int) -> Bom:
    """The SBOM of an image manifest (one part) or of the index (every platform's)."""
    bom = sbom.make_bom(product, subject, [program for _, program in parts], epoch)
    root = bom.metadata.component
    assert root is not None
    carried = {}
    for manifest, _ in parts:
        facts = manifest.facts.get("libc")
        if isinstance(facts, Mapping):
            component = _libc(facts)
            carried[str(component.bom_ref.value)] = component
    if carried:
        bom.components = [*bom.components, *carried.values()]
        for component in carried.values():
            bom.register_dependency(component, [])
        bom.register_dependency(root, list(carried.values()))
    return bom
