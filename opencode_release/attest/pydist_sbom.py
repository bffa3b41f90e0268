"""SBOMs of the product's wheel and sdist, from the metadata inside them.

A wheel or sdist holds only the product's own Python code; its dependencies
are declared (Requires-Dist) and resolved at install time. So the SBOM lists
the distribution and, as required components without a version, what it
declares (the specifier as a property). Read from the archive itself, never
from the environment.
"""

from __future__ import annotations

import datetime as dt
import tarfile
import uuid
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.tool import ToolRepository
from packageurl import PackageURL
from packaging.requirements import InvalidRequirement, Requirement

from .. import __version__
from ..core.errors import LedgerError
from ..core.ledger import Artifact
from .sbom import PROP, Product, artifact_component, library_version, tool_component


def read_metadata(path: Path) -> Message:
    """METADATA of a wheel, PKG-INFO of an sdist (.tar.gz)."""
    try:
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as archive:
                name = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
                text = archive.read(name).decode()
        else:
            with tarfile.open(path) as archive:
                member = next(
                    m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
                )
                handle = archive.extractfile(member)
                text = handle.read().decode() if handle else ""
    except (OSError, StopIteration, zipfile.BadZipFile, tarfile.TarError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{path}: no readable METADATA/PKG-INFO in this Python distribution: {exc}") from exc
    return HeaderParser().parsestr(text)


def _requirement(text: str) -> Component | None:
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    if req.marker is not None and "extra" in str(req.marker):
        return None  # optional extras are not what a plain install brings in
    purl = PackageURL("pypi", name=req.name.lower().replace("_", "-"))
    return Component(
        name=req.name,
        bom_ref=f"requirement:{purl.to_string()}",
        type=ComponentType.LIBRARY,
        purl=purl,
        scope=ComponentScope.REQUIRED,
        description="declared dependency, resolved when the distribution is installed",
        properties=[Property(name=f"{PROP}:requirement", value=str(req))],
    )


def make_dist_bom(product: Product, subject: Artifact, path: Path, epoch: int) -> Bom:
    meta = read_metadata(path)
    name, version = str(meta.get("Name", "")), str(meta.get("Version", ""))
    root = artifact_component(product, subject, archive=True)
    purl = PackageURL("pypi", name=name.lower().replace("_", "-"), version=version)
    license_text = meta.get("License-Expression") or meta.get("License")
    dist = Component(
        name=name,
        version=version,
        bom_ref=purl.to_string(),
        type=ComponentType.LIBRARY,
        purl=purl,
        licenses=[LicenseFactory().make_from_string(str(license_text))] if license_text else [],
        description=str(meta.get("Summary") or "") or None,
    )
    requirements = [c for c in (_requirement(str(r)) for r in meta.get_all("Requires-Dist") or []) if c]
    bom = Bom(
        serial_number=uuid.UUID(int=0),
        metadata=BomMetaData(
            component=root,
            timestamp=dt.datetime.fromtimestamp(epoch, tz=dt.UTC),
            tools=ToolRepository(
                components=[
                    tool_component("opencode-release", __version__, "the release pipeline that wrote this SBOM"),
                    tool_component(
                        "cyclonedx-python-lib",
                        library_version("cyclonedx-python-lib"),
                        "serializer and strict validator",
                    ),
                ]
            ),
        ),
    )
    bom.components = [dist, *requirements]
    bom.register_dependency(root, [dist])
    bom.register_dependency(dist, requirements)
    for requirement in requirements:
        bom.register_dependency(requirement, [])
    return bom
