"""The second product (tests/products/mytool) released end to end through the console script:
init, check, a real Nuitka build, smoke with its own checks, signing, its own channel, verify-release
with its own policy. Nothing of the sample reaches its formula, .deb, winget manifests or SBOMs."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from opencode_release.core.ledger import ArtifactKind, Ledger
from tests.conftest import REPO

SCRIPT = Path(sys.executable).parent / "opencode-release"
MYTOOL = REPO / "tests" / "products" / "mytool"
SAMPLE_WORDS = re.compile(r"opencode(?!-release)|\bMIT\b|example\.org", re.IGNORECASE)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, check=False)


def _git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Ada", "-c", "user.email=ada@newcomer.example.net", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def test_a_click_product_from_init_to_verify_release(tmp_path: Path) -> None:
    product = tmp_path / "mytool"
    shutil.copytree(MYTOOL, product)
    _git(product, "init", "-q")
    _git(product, "add", "-A")
    _git(product, "commit", "-qm", "mytool 0.3.0")

    init = _run("init", "--json", cwd=product)
    assert init.returncode == 0, init.stderr
    pyproject = product / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.opencode-release.smoke]\n",
            '[tool.opencode-release.smoke]\nversion-pattern = "^mytool, version {version}$"\n'
            'commands = [{ args = ["greet", "world"], expect = "^hello world$" }]\n',
        )
    )
    _git(product, "add", "-A")
    _git(product, "commit", "-qm", "release with opencode-release")
    check = _run("check", "--json", cwd=product)
    assert check.returncode == 0, check.stdout + check.stderr

    release = _run("release", "--snapshot", "--json", cwd=product)
    assert release.returncode == 0, release.stdout[-3000:] + release.stderr[-3000:]
    report = json.loads(release.stdout)
    statuses = {s["name"]: s["status"] for s in report["stages"]}
    assert statuses["build"] == statuses["smoke"] == statuses["sign"] == statuses["publish"] == "ran"
    folder = Path(report["release"])
    assert re.fullmatch(r"0\.3\.0-snapshot\.\d{8}\.1\+g[0-9a-f]{7}", folder.name)

    ledger = Ledger.load(folder)
    (binary,) = ledger.by_kind(ArtifactKind.BINARY)
    assert binary.facts["smoke"]["commands"] == ["hello world"] and "handshake" not in binary.facts["smoke"]
    greeted = subprocess.run([str(ledger.file(binary)), "greet", "you"], capture_output=True, text=True, env={})
    assert greeted.stdout == "hello you\n"

    # Its own channel repository, and only the snapshot channel in it.
    public = product / "public"
    assert json.loads((public / "snapshot" / "index.json").read_text())["releases"][0]["version"] == folder.name
    assert not (public / "stable").exists()

    # Its own trust, as init wrote it: the policy file it ships (--policy), or --project in a checkout.
    policy = product / "identity-policy.toml"
    assert str(policy) in json.loads(init.stdout)["written"]
    for trust in (("--policy", str(policy)), ("--project", str(product))):
        verified = _run("verify-release", str(folder), "--instance", "local", *trust, "--json", cwd=product)
        assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
        assert json.loads(verified.stdout)["ok"] is True
    # The sample's packaged policy does not accept it: the trust is the product's own.
    foreign = _run("verify-release", str(folder), "--instance", "local", "--json", cwd=product)
    assert foreign.returncode == 1

    # Compiled in its own build environment: click from there; defusedxml, which the pipeline has
    # installed and mytool imports only if present, is in neither the binary nor its SBOM.
    (click_installed,) = binary.facts["build_environment"]["packages"]
    assert click_installed["name"] == "click"
    (report_file,) = ledger.by_kind(ArtifactKind.BUILD_REPORT)
    compiled = ledger.file(report_file).read_text()
    assert '<distribution name="click"' in compiled and '<distribution name="defusedxml"' not in compiled
    assert '<module name="defusedxml' not in compiled and 'name="defusedxml" finding="not-found"' in compiled
    assert b"defusedxml" not in ledger.file(binary).read_bytes()
    (provenance,) = ledger.by_kind(ArtifactKind.PROVENANCE)
    statement = json.loads(ledger.file(provenance).read_text())
    builder = statement["predicate"]["runDetails"]["builder"]["id"]
    assert builder == "https://github.com/newcomer/mytool/opencode-release/local-snapshot@v1"
    resolved = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    product_lock = next(d for d in resolved if d["name"] == "product-build-environment.lock")
    assert base64.b64decode(product_lock["content"]).decode() == f"click=={click_installed['version']}\n"

    sboms = [ledger.file(a) for a in ledger.by_kind(ArtifactKind.SBOM)]
    binary_sbom = json.loads(next(p for p in sboms if binary.name in p.name).read_text())
    assert binary_sbom["metadata"]["component"]["licenses"][0]["license"]["id"] == "Apache-2.0"
    assert not [c for c in binary_sbom["components"] if c["name"] == "defusedxml"]
    click = next(c for c in binary_sbom["components"] if c["name"] == "click")
    assert "BSD" in json.dumps(click.get("licenses", []))
    texts = {p.name: p.read_text() for p in sboms}
    texts |= {
        p.name: p.read_text() for p in (folder / "manifests").rglob("*") if p.is_file() and p.suffix in (".rb", ".yaml")
    }
    for name, text in texts.items():
        assert not SAMPLE_WORDS.findall(text), f"{name} mentions the sample"
