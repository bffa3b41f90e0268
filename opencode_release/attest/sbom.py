"""CycloneDX 1.5 SBOMs of what each binary really contains, and of each archive.

Components come from the Nuitka compilation report recorded in the ledger
(kind `build-report`, by target), never from the environment: the statically
linked CPython, every Python distribution the report lists, every bundled
shared library, and the libc the binary needs. The build host adds details
(licenses, Debian packages, the compiler's version) only for targets built on
this machine. Documents are built with cyclonedx-python-lib, validated with
its strict 1.5 validator before they are written, and byte-identical across
runs: the timestamp is SOURCE_DATE_EPOCH and the serial number is derived
from the content.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot5
from packageurl import PackageURL

from .. import __version__
from ..core.ledger import Artifact
from ._buildhost import DebianPackage, DistributionDetails
from ._compilation import ROOT, CompilationReport

PROP = "opencode-release"
# Content-derived serial numbers: uuid5 of the document's digest in this namespace.
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://opencode.example.org/opencode-release/sbom")
SBOM_SUFFIX = ".cdx.json"
CPYTHON_LICENSE = "PSF-2.0"


@dataclass(frozen=True, slots=True)
class HostDetails:
    """What the build host adds (empty for targets built elsewhere)."""

    distributions: Mapping[str, DistributionDetails] = field(default_factory=dict)
    debian: Mapping[str, DebianPackage] = field(default_factory=dict)  # by library source path
    compiler_version: str | None = None


@dataclass(frozen=True, slots=True)
class Product:
    name: str
    version: str
    description: str
    homepage: str
    license: str


def target_properties(target: str) -> list[tuple[str, str]]:
    """os / arch / libc from a target name such as linux-x86_64-gnu or darwin-arm64."""
    parts = target.split("-")
    props = [("target", target), ("target:os", parts[0])]
    if len(parts) > 1:
        props.append(("target:arch", parts[1]))
    if len(parts) > 2:
        props.append(("target:libc", parts[2]))
    return props


def _props(pairs: Iterable[tuple[str, str]]) -> list[Property]:
    return [Property(name=f"{PROP}:{k}", value=v) for k, v in pairs if v]


def _hashes(artifact: Artifact) -> list[HashType]:
    hashes = [HashType(alg=HashAlgorithm.SHA_256, content=artifact.sha256)]
    sha512 = artifact.facts.get("sha512")
    if isinstance(sha512, str):
        hashes.append(HashType(alg=HashAlgorithm.SHA_512, content=sha512))
    return hashes


def artifact_component(product: Product, artifact: Artifact, *, archive: bool) -> Component:
    qualifiers = {"checksum": f"sha256:{artifact.sha256}"}
    if artifact.target:
        qualifiers["target"] = artifact.target
    refs = [ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(product.homepage))]
    return Component(
        name=product.name,
        version=product.version,
        bom_ref=artifact.id,
        type=ComponentType.FILE if archive else ComponentType.APPLICATION,
        description=f"{artifact.name}: {product.description}" if product.description else artifact.name,
        hashes=_hashes(artifact),
        purl=PackageURL("generic", name=product.name, version=product.version, qualifiers=qualifiers),
        licenses=[LicenseFactory().make_from_string(product.license)] if product.license else [],
        external_references=refs if product.homepage else [],
        properties=_props([*target_properties(artifact.target or ""), ("file", artifact.name)]),
    )


def tool_component(name: str, version: str | None, description: str) -> Component:
    return Component(
        name=name,
        version=version or None,
        type=ComponentType.APPLICATION,
        bom_ref=f"tool:{name}",
        description=description,
    )


def library_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def tools(binary: Artifact, report: CompilationReport, host: HostDetails) -> ToolRepository:
    facts = binary.facts
    compiler = str(facts.get("c_compiler") or report.c_compiler or "cc")
    compiler_version = facts.get("c_compiler_version") or host.compiler_version
    return ToolRepository(
        components=[
            tool_component("opencode-release", __version__, "the release pipeline that wrote this SBOM"),
            tool_component(
                "cyclonedx-python-lib", library_version("cyclonedx-python-lib"), "serializer and strict validator"
            ),
            tool_component(
                "nuitka",
                str(facts.get("nuitka_version") or report.nuitka_version),
                "Python compiler that built the binary",
            ),
            tool_component(compiler, str(compiler_version) if compiler_version else None, "C compiler Nuitka drove"),
        ]
    )


def _python_component(report: CompilationReport, binary: Artifact) -> Component:
    version = str(binary.facts.get("python_version") or report.python_version)
    return Component(
        name="cpython",
        version=version,
        bom_ref=f"cpython@{version}",
        type=ComponentType.LIBRARY,
        description="CPython interpreter and standard library, linked statically into the binary",
        purl=PackageURL("generic", name="cpython", version=version),
        cpe=f"cpe:2.3:a:python:python:{version}:*:*:*:*:*:*:*",
        licenses=[LicenseFactory().make_from_string(CPYTHON_LICENSE)],
        properties=_props([("linkage", "static"), ("python-flavor", report.python_flavor)]),
    )


def _distribution_component(name: str, version: str, installer: str, details: DistributionDetails | None) -> Component:
    purl = PackageURL("pypi", name=name.lower().replace("_", "-"), version=version)
    licenses = [LicenseFactory().make_from_string(details.license)] if details and details.license else []
    hashes = [HashType(alg=HashAlgorithm(alg), content=value) for alg, value in details.hashes] if details else []
    refs = (
        [ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(details.homepage))]
        if details and details.homepage
        else []
    )
    return Component(
        name=name,
        version=version,
        bom_ref=purl.to_string(),
        type=ComponentType.LIBRARY,
        purl=purl,
        licenses=licenses,
        hashes=hashes,
        external_references=refs,
        properties=_props([("installer", installer), ("compiled-in", "nuitka")]),
    )


def _distro(report: CompilationReport) -> str:
    return report.os_release.lower() if report.os_release else ""


def _library_component(report: CompilationReport, name: str, package: DebianPackage | None) -> Component:
    if package is None:
        return Component(
            name=name,
            bom_ref=f"file:{name}",
            type=ComponentType.LIBRARY,
            description="shared library bundled into the binary; its package is unknown",
            properties=_props([("file", name)]),
        )
    qualifiers = {"arch": package.architecture}
    if _distro(report):
        qualifiers["distro"] = _distro(report)
    purl = PackageURL("deb", namespace="debian", name=package.name, version=package.version, qualifiers=qualifiers)
    return Component(
        name=package.name,
        version=package.version,
        bom_ref=purl.to_string(),
        type=ComponentType.LIBRARY,
        purl=purl,
        description=f"{name}, bundled into the binary from Debian package {package.name}",
        properties=_props([("file", name), ("debian:source", package.source)]),
    )


def _libc_component(binary: Artifact) -> Component | None:
    target = binary.target or ""
    inspection = binary.facts.get("inspection")
    facts: Mapping[str, object] = inspection if isinstance(inspection, Mapping) else {}
    if target.endswith("-musl"):
        return Component(
            name="musl",
            bom_ref="libc:musl",
            type=ComponentType.LIBRARY,
            scope=ComponentScope.REQUIRED,
            description="C library the binary needs from the target system (not bundled)",
            properties=_props([("provided-by", "target system")]),
        )
    floor = facts.get("glibc_floor")
    if not target.endswith("-gnu") and floor is None:
        return None
    return Component(
        name="glibc",
        bom_ref="libc:glibc",
        type=ComponentType.LIBRARY,
        scope=ComponentScope.REQUIRED,
        description=f"C library the binary needs from the target system (not bundled), version {floor} or newer",
        properties=_props(
            [
                ("provided-by", "target system"),
                ("glibc-floor", str(floor or "")),
                ("glibc-floor-symbol", str(facts.get("glibc_floor_symbol") or "")),
            ]
        ),
    )


@dataclass(frozen=True, slots=True)
class Program:
    """One compiled binary with the report of its compilation."""

    binary: Artifact
    report: CompilationReport
    report_artifact: Artifact
    host: HostDetails = field(default_factory=HostDetails)


def make_bom(
    product: Product, subject: Artifact, programs: list[Program], epoch: int, via: Artifact | None = None
) -> Bom:
    """The SBOM of `subject`: a compiled binary, a binary merged from `programs` (macOS
    universal), or an archive holding one of those (`via`, when it is merged)."""
    first = programs[0]
    root = artifact_component(product, subject, archive=subject.kind != "binary")
    bom = Bom(
        serial_number=uuid.UUID(int=0),
        metadata=BomMetaData(
            component=root,
            tools=tools(first.binary, first.report, first.host),
            timestamp=dt.datetime.fromtimestamp(epoch, tz=dt.UTC),
        ),
    )
    components: dict[str, Component] = {}
    parent = root
    if via is not None:
        parent = components.setdefault(via.id, artifact_component(product, via, archive=False))
        bom.register_dependency(root, [parent])
    program_components = []
    for program in programs:
        if program.binary.id == subject.id:
            component = root
        else:
            component = components.setdefault(
                program.binary.id, artifact_component(product, program.binary, archive=False)
            )
        component.properties.add(Property(name=f"{PROP}:build-report:sha256", value=program.report_artifact.sha256))
        environment = program.binary.facts.get("build_environment")
        if isinstance(environment, dict) and isinstance(environment.get("lock"), str):
            lock_digest = hashlib.sha256(environment["lock"].encode()).hexdigest()
            component.properties.add(Property(name=f"{PROP}:build-environment:lock:sha256", value=lock_digest))
            component.properties.add(
                Property(name=f"{PROP}:build-environment:from", value=str(environment.get("source", "")))
            )
        program_components.append(component)
        _add_program(bom, component, program, components)
    if parent is not root or program_components != [root]:
        bom.register_dependency(parent, [c for c in program_components if c is not parent])
    bom.components = list(components.values())
    return bom


def _add_program(bom: Bom, program_component: Component, program: Program, components: dict[str, Component]) -> None:
    report, binary, host = program.report, program.binary, program.host

    def add(component: Component) -> Component:
        return components.setdefault(str(component.bom_ref.value), component)

    python = add(_python_component(report, binary))
    distributions = {
        d.name: add(_distribution_component(d.name, d.version, d.installer, host.distributions.get(d.name)))
        for d in report.distributions
    }
    libraries = [
        (add(_library_component(report, lib.name, host.debian.get(lib.source_path))), lib.used_by_stdlib)
        for lib in report.libraries
    ]
    libc_made = _libc_component(binary)
    libc = add(libc_made) if libc_made else None
    needs = [distributions[name] for name in report.uses.get(ROOT, ())]
    needs += [python, *(c for c, stdlib in libraries if not stdlib)]
    needs += [libc] if libc else []
    bom.register_dependency(program_component, needs)
    bom.register_dependency(python, [c for c, stdlib in libraries if stdlib])
    for name, component in distributions.items():
        bom.register_dependency(component, [distributions[u] for u in report.uses.get(name, ())])
    for component, _ in libraries:
        bom.register_dependency(component, [])
    if libc:
        bom.register_dependency(libc, [])


def serialize(bom: Bom) -> str:
    """JSON with a serial number derived from the rest of the document."""
    bom.serial_number = uuid.UUID(int=0)
    draft = JsonV1Dot5(bom).output_as_string(indent=2)
    bom.serial_number = uuid.uuid5(SERIAL_NAMESPACE, hashlib.sha256(draft.encode()).hexdigest())
    placeholder, serial = f'"{uuid.UUID(int=0).urn}"', f'"{bom.serial_number.urn}"'
    if draft.count(placeholder) == 1:
        # The serial number is the only difference: put it in rather than serialize again.
        return draft.replace(placeholder, serial) + "\n"
    return JsonV1Dot5(bom).output_as_string(indent=2) + "\n"
