"""winget manifests: the official schemas (1.10.0, 1.12.0, 1.28.0), golden files, and the cross-file checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from opencode_release.core.errors import ConfigError, VerificationError
from opencode_release.core.ledger import ArtifactKind
from opencode_release.core.stage import CollectingReporter, Context
from opencode_release.manifests import winget
from opencode_release.manifests.stages import WingetStage
from tests.fake_release import fake_release

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "testdata" / "winget"
FOLDER = "manifests/winget/manifests/o/OpenCode/OpenCode/1.4.0"
FILES = {
    "version": "OpenCode.OpenCode.yaml",
    "installer": "OpenCode.OpenCode.installer.yaml",
    "defaultLocale": "OpenCode.OpenCode.locale.en-US.yaml",
}


def schemas() -> Path:
    folder = Path(os.environ.get("OPENCODE_WINGET_SCHEMAS", REPO.parent / "shared" / "schemas" / "winget"))
    if not (folder / "manifest.installer.1.10.0.json").is_file():
        pytest.fail(
            f"the official winget schemas are not in {folder}; set OPENCODE_WINGET_SCHEMAS to the folder "
            "holding manifest.<type>.<version>.json (1.10.0, 1.12.0, 1.28.0)"
        )
    return folder


def _manifests(ctx: Context) -> Path:
    WingetStage().run(ctx)
    return ctx.dist_dir / FOLDER


@pytest.mark.parametrize("version", winget.SUPPORTED)
def test_every_file_passes_the_official_schema(tmp_path: Path, version: str) -> None:
    ctx = fake_release(tmp_path, toml={"winget": f'manifest-version = "{version}"'})
    folder = _manifests(ctx)
    for kind, name in FILES.items():
        schema = schemas() / f"manifest.{kind}.{version}.json"
        proc = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--schemafile", str(schema), str(folder / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f'ManifestVersion: "{version}"' in (folder / name).read_text()


def test_schema_rejects_what_it_should(tmp_path: Path) -> None:
    # The validator is real: a manifest with an unknown architecture fails it.
    folder = _manifests(fake_release(tmp_path))
    installer = folder / FILES["installer"]
    installer.write_text(installer.read_text().replace('Architecture: "x64"', 'Architecture: "sparc"'))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--schemafile",
            str(schemas() / "manifest.installer.1.10.0.json"),
            str(installer),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and "'sparc' is not one of" in proc.stdout


def test_manifests_match_golden_files(tmp_path: Path) -> None:
    folder = _manifests(fake_release(tmp_path))
    for name in FILES.values():
        if os.environ.get("UPDATE_GOLDEN"):
            GOLDEN.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text((folder / name).read_text())
        assert (folder / name).read_text() == (GOLDEN / name).read_text(), name


def test_installers_come_from_the_ledger_with_quoted_versions(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path)
    folder = _manifests(ctx)
    yaml = YAML(typ="safe")
    docs = {kind: yaml.load((folder / name).read_text()) for kind, name in FILES.items()}
    for doc in docs.values():
        assert doc["PackageIdentifier"] == "OpenCode.OpenCode"
        assert isinstance(doc["PackageVersion"], str) and doc["PackageVersion"] == "1.4.0"
        assert isinstance(doc["ManifestVersion"], str) and doc["ManifestVersion"] == "1.10.0"
    installer = docs["installer"]
    assert installer["InstallerType"] == "zip" and installer["NestedInstallerType"] == "portable"
    assert installer["MinimumOSVersion"] == "10.0.17763.0" and installer["ReleaseDate"] == "2026-01-01"
    archives = {a.target: a for a in ctx.ledger.by_kind(ArtifactKind.ARCHIVE)}
    got = {i["Architecture"]: i for i in installer["Installers"]}
    for arch, target in (("x64", "windows-x86_64"), ("arm64", "windows-arm64")):
        assert got[arch]["InstallerSha256"] == archives[target].sha256.upper()
        assert got[arch]["InstallerUrl"].endswith(
            f"/targets/stable/1.4.0/{archives[target].sha256}.{archives[target].name}"
        )
        assert got[arch]["NestedInstallerFiles"] == [
            {"RelativeFilePath": f"opencode-1.4.0-{target}\\opencode.exe", "PortableCommandAlias": "opencode"}
        ]
    recorded = sorted(a.path for a in ctx.ledger.by_kind(ArtifactKind.WINGET_MANIFEST))
    assert recorded == sorted(f"{FOLDER}/{n}" for n in FILES.values())


def test_linux_only_snapshot_writes_no_winget_manifest_and_says_so(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=("linux-x86_64-gnu", "windows-arm64"))
    folder = _manifests(ctx)
    assert isinstance(ctx.reporter, CollectingReporter)
    assert "windows-x86_64: no archive in this release; no x64 installer" in ctx.reporter.notes
    assert 'Architecture: "x64"' not in (folder / FILES["installer"]).read_text()
    ctx = fake_release(tmp_path / "linux", only=("linux-x86_64-gnu",))
    WingetStage().run(ctx)
    assert ctx.ledger.by_kind(ArtifactKind.WINGET_MANIFEST) == ()
    assert "no Windows archive in this release; no winget manifest" in ctx.reporter.notes  # type: ignore[attr-defined]


def test_unsupported_manifest_version_is_refused(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, toml={"winget": 'manifest-version = "1.9"'})
    with pytest.raises(
        ConfigError,
        match=r"winget.manifest-version: found '1.9'; expected one of "
        r"1.10.0, 1.12.0, 1.28.0",
    ):
        WingetStage().run(ctx)
    assert not (ctx.dist_dir / "manifests").exists()


# -- the cross-file checks: one tamper per check, with its exact reason ---------


def _texts(tmp_path: Path) -> dict[str, str]:
    info = winget.PackageInfo(
        "OpenCode.OpenCode",
        "1.4.0",
        "OpenCode",
        "OpenCode",
        "MIT",
        "CLI",
        "https://opencode.example.org",
        "opencode",
        "2026-01-01",
        (winget.Installer("x64", "https://x/a.zip", "ab" * 32, "a\\opencode.exe"),),
    )
    files = winget.manifests(info)
    winget.check_consistency(files)  # the untampered set passes
    return files


@pytest.mark.parametrize(
    ("file", "old", "new", "check", "reason"),
    [
        (
            "installer",
            'PackageIdentifier: "OpenCode.OpenCode"',
            'PackageIdentifier: "OpenCode.Other"',
            "same-identifier",
            "PackageIdentifier 'OpenCode.Other' differs from 'OpenCode.OpenCode' in OpenCode.OpenCode.yaml",
        ),
        (
            "defaultLocale",
            'PackageVersion: "1.4.0"',
            'PackageVersion: "1.4.1"',
            "same-version",
            "PackageVersion '1.4.1' differs from '1.4.0' in OpenCode.OpenCode.yaml",
        ),
        (
            "installer",
            'ManifestVersion: "1.10.0"',
            'ManifestVersion: "1.12.0"',
            "same-manifest-version",
            "ManifestVersion '1.12.0' differs from '1.10.0' in OpenCode.OpenCode.yaml",
        ),
        (
            "version",
            'ManifestVersion: "1.10.0"',
            "ManifestVersion: 1.10",
            "quoted-versions",
            "ManifestVersion is 1.10, not a quoted string",
        ),
        (
            "defaultLocale",
            'PackageLocale: "en-US"',
            'PackageLocale: "de-DE"',
            "default-locale",
            "PackageLocale 'de-DE' is not the DefaultLocale 'en-US' of OpenCode.OpenCode.yaml",
        ),
        ("installer", 'ManifestType: "installer"', 'ManifestType: "locale"', "manifest-types", "no installer manifest"),
    ],
)
def test_cross_file_check_refuses(tmp_path: Path, file: str, old: str, new: str, check: str, reason: str) -> None:
    files = _texts(tmp_path)
    name = FILES[file]
    assert old in files[name]
    files[name] = files[name].replace(old, new)
    with pytest.raises(VerificationError) as caught:
        winget.check_consistency(files)
    assert (caught.value.check, caught.value.reason) == (check, reason)
