"""in-toto: links and layout of a real snapshot release, checked by the real in-toto-verify."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from opencode_release.attest import intoto
from opencode_release.core import config
from opencode_release.core.errors import ConfigError, StageError
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release import pipeline, session

pytestmark = pytest.mark.integration
VERIFY = str(Path(sys.executable).parent / "in-toto-verify")


def _verify(release: Path, key: Path | None = None) -> subprocess.CompletedProcess[str]:
    key = key or release / "in-toto" / "owner.pub"
    return subprocess.run(
        [
            VERIFY,
            "--layout",
            "in-toto/root.layout",
            "--verification-keys",
            str(key),
            "--link-dir",
            "in-toto",
            "--verbose",
        ],
        cwd=release,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _link(release: Path, step: str) -> Path:
    (path,) = (release / "in-toto").glob(f"{step}.*.link")
    return path


def _attest(product: Path) -> Path:
    settings = config.load(product / "pyproject.toml")
    session.run(
        settings,
        pipeline.stages_named(("deb", "checksum", "sbom", "provenance", "intoto")),
        session.Request(snapshot=True, quiet=True),
    )
    return product.parent / "dist" / "1.4.0"


def test_in_toto_verify_passes_on_the_release_and_fails_on_each_tamper(release_copy: Path, tmp_path: Path) -> None:
    release = _attest(release_copy)
    ledger = Ledger.load(release)
    links = ledger.by_kind(ArtifactKind.INTOTO_LINK)
    assert sorted(a.facts["step"] for a in links) == ["build", "package", "provenance", "sbom"]
    assert len(ledger.by_kind(ArtifactKind.INTOTO_LAYOUT)) == 2
    good = _verify(release)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "passed all verification" in good.stdout + good.stderr

    def case(name: str) -> Path:
        copy = tmp_path / name
        shutil.copytree(release, copy)
        return copy

    # An archive replaced, with SHA256SUMS rewritten to match: only the layout's rules catch it.
    altered = case("archive")
    (archive,) = ledger.by_kind(ArtifactKind.ARCHIVE)
    target = altered / archive.path
    target.write_bytes(target.read_bytes() + b"\0")
    sums = (altered / "SHA256SUMS").read_text().replace(archive.sha256, hashlib.sha256(target.read_bytes()).hexdigest())
    (altered / "SHA256SUMS").write_text(sums)
    result = _verify(altered)
    assert result.returncode == 1
    assert "'DISALLOW *' matched the following artifacts" in result.stderr and archive.path in result.stderr

    # A link whose payload was edited no longer carries a valid signature from the step key.
    edited = case("link")
    link_path = _link(edited, "package")
    envelope = json.loads(link_path.read_text())
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["products"][archive.path]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(payload, sort_keys=True).encode()).decode()
    link_path.write_text(json.dumps(envelope))
    result = _verify(edited)
    assert result.returncode == 1
    assert "ThresholdVerificationError" in result.stderr and "'package'" in result.stderr

    # A layout checked with a key that did not sign it.
    other = tmp_path / "other.pub"
    other.write_bytes(
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    result = _verify(release, other)
    assert result.returncode == 1
    assert "SignatureVerificationError" in result.stderr

    # A step whose link is missing.
    missing = case("missing")
    _link(missing, "sbom").unlink()
    result = _verify(missing)
    assert result.returncode == 1
    assert "LinkNotFoundError" in result.stderr and "'sbom'" in result.stderr


def test_snapshot_keys_are_generated_once_and_reused(release_copy: Path) -> None:
    release = _attest(release_copy)
    keys = release_copy.parent / ".opencode-release" / "in-toto-keys"
    before = {p.name: p.read_bytes() for p in keys.glob("*.pem")}
    assert sorted(before) == [f"in-toto-{r}.pem" for r in sorted(("owner", *intoto.STEPS))]
    layout = (release / "in-toto" / "root.layout").read_bytes()
    (release / "in-toto" / "root.layout").unlink()
    session.run(
        config.load(release_copy / "pyproject.toml"),
        pipeline.stages_named(("intoto",)),
        session.Request(snapshot=True, quiet=True),
    )
    assert {p.name: p.read_bytes() for p in keys.glob("*.pem")} == before
    assert (release / "in-toto" / "root.layout").read_bytes() == layout


def test_a_real_release_without_configured_keys_is_refused(release_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _attest(release_copy)
    monkeypatch.delenv(intoto.KEYS_ENV, raising=False)
    with pytest.raises(StageError) as caught:
        session.run(
            config.load(release_copy / "pyproject.toml"),
            pipeline.stages_named(("intoto",)),
            session.Request(snapshot=False, quiet=True),
        )
    assert isinstance(caught.value.__cause__, ConfigError)
    assert "a real release needs OPENCODE_RELEASE_KEYS_DIR or [signing] keys-dir" in str(caught.value)
    empty = release_copy.parent / "keys"
    empty.mkdir()
    monkeypatch.setenv(intoto.KEYS_ENV, str(empty))
    with pytest.raises(StageError, match=r"in-toto-owner.pem: no in-toto key for role owner"):
        session.run(
            config.load(release_copy / "pyproject.toml"),
            pipeline.stages_named(("intoto",)),
            session.Request(snapshot=False, quiet=True),
        )
