"""SBOM building from a compilation report: components, graph, validation, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opencode_release.attest import _cdx_validate, sbom
from opencode_release.attest import _compilation as compilation
from opencode_release.attest._buildhost import DebianPackage, DistributionDetails
from opencode_release.attest._release_sboms import write_sbom
from opencode_release.core.errors import LedgerError, StageError
from opencode_release.core.ledger import Artifact

REPORT = Path(__file__).resolve().parent.parent / "testdata" / "nuitka-report-small.xml"
PRODUCT = sbom.Product("app", "2.0.0", "a sample", "https://app.example.org", "MIT")
BINARY = Artifact(
    id="binary:linux-x86_64-gnu/app",
    kind="binary",
    path="linux-x86_64-gnu/app",
    target="linux-x86_64-gnu",
    size=10,
    sha256="ab" * 32,
    facts={
        "nuitka_version": "4.3.3",
        "c_compiler": "gcc",
        "python_version": "3.11.2",
        "inspection": {"glibc_floor": "2.34", "glibc_floor_symbol": "x@GLIBC_2.34"},
    },
)
ARCHIVE = Artifact(
    id="archive:app-2.0.0-linux-x86_64-gnu.tar.gz",
    kind="archive",
    path="app-2.0.0-linux-x86_64-gnu.tar.gz",
    target="linux-x86_64-gnu",
    size=5,
    sha256="cd" * 32,
    relations={"archive_of": (BINARY.id,)},
    facts={"sha512": "ef" * 64},
)
REPORT_ARTIFACT = Artifact(
    id="build-report:linux-x86_64-gnu/nuitka-report.xml",
    kind="build-report",
    path="linux-x86_64-gnu/nuitka-report.xml",
    target="linux-x86_64-gnu",
    size=1,
    sha256="12" * 32,
)
HOST = sbom.HostDetails(
    distributions={"fastlib": DistributionDetails("Apache-2.0", (("SHA-256", "34" * 32),), None)},
    debian={"/lib/x86_64-linux-gnu/libcrypto.so.3": DebianPackage("libssl3", "3.0.19-1", "amd64", "openssl")},
    compiler_version="12.2.0",
)


def _document(subject: Artifact = BINARY, host: sbom.HostDetails = HOST) -> dict:  # type: ignore[type-arg]
    report = compilation.parse(REPORT)
    text = sbom.serialize(
        sbom.make_bom(PRODUCT, subject, [sbom.Program(BINARY, report, REPORT_ARTIFACT, host)], 1767225600)
    )
    assert _cdx_validate.problem(text) is None
    return json.loads(text)  # type: ignore[no-any-return]


def test_report_parse_reads_distributions_usages_and_libraries() -> None:
    report = compilation.parse(REPORT)
    assert [(d.name, d.version, d.installer) for d in report.distributions] == [
        ("app", "2.0.0", "pip"),
        ("fastlib", "1.2.3", "pip"),
        ("tinydep", "0.1", "uv"),
    ]
    assert report.uses == {"": ("app",), "app": ("fastlib",), "fastlib": ("tinydep",)}
    assert [(lib.name, lib.used_by, lib.used_by_stdlib) for lib in report.libraries] == [
        ("libcrypto.so.3", "_hashlib.so", True),
        ("libyaml-0.so.2", "fastlib/_speed.so", False),
    ]
    assert (report.python_version, report.os_release, report.c_compiler) == ("3.11.2", "Debian-12", "gcc")


def test_report_that_is_not_nuitka_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "r.xml"
    bad.write_text("<other/>")
    with pytest.raises(LedgerError, match="not a Nuitka compilation report"):
        compilation.parse(bad)


def test_binary_sbom_components_are_exactly_the_report_plus_python_libraries_and_libc() -> None:
    doc = _document()
    names = sorted((c["name"], c.get("version")) for c in doc["components"])
    assert names == [
        ("app", "2.0.0"),
        ("cpython", "3.11.2"),
        ("fastlib", "1.2.3"),
        ("glibc", None),
        ("libssl3", "3.0.19-1"),
        ("libyaml-0.so.2", None),
        ("tinydep", "0.1"),
    ]
    by_name = {c["name"]: c for c in doc["components"]}
    assert by_name["fastlib"]["purl"] == "pkg:pypi/fastlib@1.2.3"
    assert by_name["fastlib"]["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert by_name["fastlib"]["hashes"] == [{"alg": "SHA-256", "content": "34" * 32}]
    assert by_name["cpython"]["licenses"] == [{"license": {"id": "PSF-2.0"}}]
    assert by_name["libssl3"]["purl"] == "pkg:deb/debian/libssl3@3.0.19-1?arch=amd64&distro=debian-12"
    floor = {p["name"]: p["value"] for p in by_name["glibc"]["properties"]}
    assert floor["opencode-release:glibc-floor"] == "2.34" and by_name["glibc"]["scope"] == "required"


def test_metadata_names_the_artifact_target_tools_and_epoch() -> None:
    meta = _document()["metadata"]
    assert meta["timestamp"] == "2026-01-01T00:00:00+00:00"
    assert meta["component"]["bom-ref"] == BINARY.id
    assert meta["component"]["hashes"] == [{"alg": "SHA-256", "content": BINARY.sha256}]
    props = {p["name"]: p["value"] for p in meta["component"]["properties"]}
    assert (
        props["opencode-release:target:os"],
        props["opencode-release:target:arch"],
        props["opencode-release:target:libc"],
    ) == ("linux", "x86_64", "gnu")
    tools = {t["name"]: t.get("version") for t in meta["tools"]["components"]}
    assert tools["nuitka"] == "4.3.3" and tools["gcc"] == "12.2.0" and "opencode-release" in tools


def test_dependency_graph_links_program_to_direct_and_those_to_theirs() -> None:
    graph = {d["ref"]: set(d.get("dependsOn", [])) for d in _document()["dependencies"]}
    assert graph[BINARY.id] == {"pkg:pypi/app@2.0.0", "cpython@3.11.2", "file:libyaml-0.so.2", "libc:glibc"}
    assert graph["pkg:pypi/app@2.0.0"] == {"pkg:pypi/fastlib@1.2.3"}
    assert graph["pkg:pypi/fastlib@1.2.3"] == {"pkg:pypi/tinydep@0.1"}
    assert graph["cpython@3.11.2"] == {"pkg:deb/debian/libssl3@3.0.19-1?arch=amd64&distro=debian-12"}


def test_archive_sbom_contains_the_binary_with_its_digest() -> None:
    doc = _document(ARCHIVE)
    assert doc["metadata"]["component"]["bom-ref"] == ARCHIVE.id
    assert doc["metadata"]["component"]["type"] == "file"
    assert {"alg": "SHA-512", "content": "ef" * 64} in doc["metadata"]["component"]["hashes"]
    (binary,) = [c for c in doc["components"] if c["bom-ref"] == BINARY.id]
    assert binary["hashes"] == [{"alg": "SHA-256", "content": BINARY.sha256}]
    graph = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert graph[ARCHIVE.id] == [BINARY.id]


def test_without_build_host_details_nothing_is_invented() -> None:
    doc = _document(host=sbom.HostDetails())
    for component in doc["components"]:
        assert "licenses" not in component or component["name"] == "cpython"
        assert "hashes" not in component
    assert {t["name"]: t.get("version") for t in doc["metadata"]["tools"]["components"]}["gcc"] is None


def test_same_inputs_same_bytes_and_serial_follows_content() -> None:
    assert _document() == _document()
    report = compilation.parse(REPORT)
    one = sbom.serialize(
        sbom.make_bom(PRODUCT, BINARY, [sbom.Program(BINARY, report, REPORT_ARTIFACT, HOST)], 1767225600)
    )
    two = sbom.serialize(
        sbom.make_bom(PRODUCT, BINARY, [sbom.Program(BINARY, report, REPORT_ARTIFACT, HOST)], 1767225600)
    )
    other = sbom.serialize(
        sbom.make_bom(PRODUCT, BINARY, [sbom.Program(BINARY, report, REPORT_ARTIFACT, HOST)], 1767225601)
    )
    assert one == two
    assert json.loads(one)["serialNumber"] != json.loads(other)["serialNumber"]


def test_serialized_text_is_the_librarys_own_with_a_serial_derived_from_the_rest() -> None:
    import hashlib
    import uuid

    from cyclonedx.output.json import JsonV1Dot5

    report = compilation.parse(REPORT)
    bom = sbom.make_bom(PRODUCT, BINARY, [sbom.Program(BINARY, report, REPORT_ARTIFACT, HOST)], 1767225600)
    text = sbom.serialize(bom)
    assert text == JsonV1Dot5(bom).output_as_string(indent=2) + "\n"
    serial = json.loads(text)["serialNumber"]
    draft = text[:-1].replace(f'"{serial}"', f'"{uuid.UUID(int=0).urn}"')
    assert serial == uuid.uuid5(sbom.SERIAL_NAMESPACE, hashlib.sha256(draft.encode()).hexdigest()).urn


def test_invalid_sbom_is_refused_and_not_written(tmp_path: Path) -> None:
    doc = _document()
    doc["metadata"]["component"]["unexpected"] = True
    path = tmp_path / "app.cdx.json"
    with pytest.raises(StageError, match=r"app.cdx.json: not valid CycloneDX 1.5 \(strict\) at \$.metadata.component"):
        write_sbom(path, json.dumps(doc))
    assert not path.exists()


def test_universal_binary_lists_its_thin_builds_and_their_contents() -> None:
    report = compilation.parse(REPORT)
    thin = [
        Artifact(
            id=f"binary:darwin-{a}/app",
            kind="binary",
            path=f"darwin-{a}/app",
            target=f"darwin-{a}",
            size=1,
            sha256=c * 64,
            facts={"nuitka_version": "4.3.3"},
        )
        for a, c in (("arm64", "1"), ("x86_64", "2"))
    ]
    universal = Artifact(
        id="binary:darwin-universal/app",
        kind="binary",
        path="darwin-universal/app",
        target="darwin-universal",
        size=2,
        sha256="3" * 64,
        relations={"merged_from": tuple(t.id for t in thin)},
    )
    archive = Artifact(
        id="archive:app-2.0.0-darwin-universal.tar.gz",
        kind="archive",
        path="app-2.0.0-darwin-universal.tar.gz",
        target="darwin-universal",
        size=1,
        sha256="4" * 64,
    )
    programs = [sbom.Program(t, report, REPORT_ARTIFACT) for t in thin]
    for subject, via in ((universal, None), (archive, universal)):
        text = sbom.serialize(sbom.make_bom(PRODUCT, subject, programs, 1767225600, via=via))
        assert _cdx_validate.problem(text) is None
        doc = json.loads(text)
        graph = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
        assert graph[universal.id] == {t.id for t in thin}
        assert graph[thin[0].id] >= {"pkg:pypi/app@2.0.0", "cpython@3.11.2"}
        assert not any(c["name"] == "glibc" for c in doc["components"])
        if via is not None:
            assert graph[archive.id] == {universal.id}


def _dist_files(tmp_path: Path) -> list[Path]:
    import io
    import tarfile
    import zipfile

    metadata = (
        "Metadata-Version: 2.4\nName: app\nVersion: 2.0.0\nSummary: a sample\nLicense-Expression: MIT\n"
        "Requires-Dist: fastlib>=1.2\nRequires-Dist: tinydep; sys_platform == 'win32'\n"
        "Requires-Dist: extra-thing; extra == 'docs'\n\n"
    )
    wheel = tmp_path / "app-2.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("app/__init__.py", "")
        archive.writestr("app-2.0.0.dist-info/METADATA", metadata)
    sdist = tmp_path / "app-2.0.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        data = metadata.encode()
        info = tarfile.TarInfo("app-2.0.0/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return [wheel, sdist]


def test_wheel_and_sdist_sboms_list_the_distribution_and_what_it_declares(tmp_path: Path) -> None:
    from opencode_release.attest import pydist_sbom

    for path in _dist_files(tmp_path):
        kind = "wheel" if path.suffix == ".whl" else "sdist"
        subject = Artifact(
            id=f"{kind}:python/{path.name}", kind=kind, path=f"python/{path.name}", target=None, size=1, sha256="5" * 64
        )
        text = sbom.serialize(pydist_sbom.make_dist_bom(PRODUCT, subject, path, 1767225600))
        assert _cdx_validate.problem(text) is None
        doc = json.loads(text)
        by_name = {c["name"]: c for c in doc["components"]}
        assert sorted(by_name) == ["app", "fastlib", "tinydep"]
        assert by_name["app"]["purl"] == "pkg:pypi/app@2.0.0"
        assert by_name["app"]["licenses"] == [{"license": {"id": "MIT"}}]
        assert by_name["fastlib"]["scope"] == "required" and "version" not in by_name["fastlib"]
        assert {p["value"] for p in by_name["tinydep"]["properties"]} == {'tinydep; sys_platform == "win32"'}
        graph = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
        assert graph[subject.id] == {"pkg:pypi/app@2.0.0"}


def test_a_distribution_without_metadata_is_refused(tmp_path: Path) -> None:
    import zipfile

    from opencode_release.attest import pydist_sbom

    wheel = tmp_path / "bad-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("bad/__init__.py", "")
    with pytest.raises(LedgerError, match="no readable METADATA/PKG-INFO"):
        pydist_sbom.read_metadata(wheel)
