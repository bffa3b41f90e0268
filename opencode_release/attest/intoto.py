"""in-toto links per pipeline step and the layout that says who does what, in which order.

Four steps (build, package, sbom, provenance) each get a link whose materials
and products are the ledger's artifacts, hashed again from disk (a file that no
longer matches its ledger record stops the stage), signed as DSSE with the
step's key. The layout, signed by the owner key, names each step's key and
artifact rules, and an inspection that `in-toto-verify` runs over the release
folder: every file there must MATCH a product of the step that made it, a
short list of files written later is allowed, and everything else is refused
(`DISALLOW *`: with `ALLOW *` a tampered file would pass).

Keys: snapshots generate Ed25519 keys once into the ignored state folder;
real releases read `in-toto-<role>.pem` from $OPENCODE_RELEASE_KEYS_DIR or
`[signing] keys-dir`, and never generate one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from in_toto.models.layout import Inspection, Layout, Step
from in_toto.models.link import Link
from in_toto.models.metadata import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

from ..core.errors import ConfigError, LedgerError
from ..core.fsio import write_atomic
from ..core.ledger import Artifact, ArtifactKind, Ledger
from ..core.names import BUNDLE_SUFFIX, TRUST_ROOT_NAME

OWNER = "owner"
STEPS = ("build", "package", "sbom", "provenance")
KEYS_ENV = "OPENCODE_RELEASE_KEYS_DIR"
FOLDER = "in-toto"
LAYOUT_NAME = "root.layout"
OWNER_KEY_NAME = "owner.pub"
INSPECTION = "release-files"
# Which step makes which kinds; a kind listed nowhere is not attested by in-toto.
STEP_PRODUCTS: Mapping[str, frozenset[str]] = {
    "build": frozenset({ArtifactKind.BINARY, ArtifactKind.BUILD_REPORT}),
    "package": frozenset(
        {
            ArtifactKind.ARCHIVE,
            ArtifactKind.DEB,
            ArtifactKind.CHECKSUMS,
            ArtifactKind.WHEEL,
            ArtifactKind.SDIST,
            ArtifactKind.HOMEBREW_FORMULA,
            ArtifactKind.WINGET_MANIFEST,
            ArtifactKind.APT_INDEX,
        }
    ),
    "sbom": frozenset({ArtifactKind.SBOM, ArtifactKind.ATTESTATION}),
    "provenance": frozenset({ArtifactKind.PROVENANCE}),
}
STEP_MATERIALS: Mapping[str, tuple[str, ...]] = {
    "package": ("build",),
    "sbom": ("build", "package"),
    "provenance": ("build", "package", "sbom"),
}
# Files that appear in the release folder after (or beside) the attested ones.
ALLOWED_LATER = ("release-manifest.json", f"{FOLDER}/*", f"*{BUNDLE_SUFFIX}", TRUST_ROOT_NAME, ".work/*")


@dataclass(frozen=True, slots=True)
class KeyPair:
    role: str
    signer: CryptoSigner

    @property
    def public(self) -> dict[str, Any]:
        key = self.signer.public_key
        data: dict[str, Any] = key.to_dict()
        data["keyid"] = key.keyid
        return data

    @property
    def keyid(self) -> str:
        return str(self.signer.public_key.keyid)

    def public_pem(self) -> bytes:
        return self.signer._private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def _load(path: Path, role: str) -> KeyPair:
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a readable unencrypted PEM private key for in-toto role {role}: {exc}") from exc
    return KeyPair(role, CryptoSigner(private, SSlibKey.from_crypto(private.public_key())))


def load_keys(folder: Path, *, generate: bool) -> dict[str, KeyPair]:
    """The owner and step keys from `folder` (`in-toto-<role>.pem`); snapshots create missing ones."""
    keys = {}
    for role in (OWNER, *STEPS):
        path = folder / f"in-toto-{role}.pem"
        if not path.is_file():
            if not generate:
                raise ConfigError(
                    f"{path}: no in-toto key for role {role}; put an Ed25519 PEM key there "
                    f"(set {KEYS_ENV} or [signing] keys-dir to the folder that has it)"
                )
            pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(path, pem, mode=0o600)
        keys[role] = _load(path, role)
    return keys


def configured_keys(keys_dir: str, project_dir: Path) -> Path | None:
    """The keys folder a real release reads: $OPENCODE_RELEASE_KEYS_DIR, else `[signing] keys-dir`."""
    chosen = os.environ.get(KEYS_ENV) or keys_dir
    return (project_dir / chosen).resolve() if chosen else None


def no_keys_error() -> ConfigError:
    return ConfigError(
        f"in-toto keys: a real release needs {KEYS_ENV} or [signing] keys-dir "
        "(only snapshots generate keys, into the state folder)"
    )


# Digests already checked in this run, by artifact id: one step's products are the next
# step's materials, and each file needs reading only once.
Checked = dict[str, str]


def _digest(ledger: Ledger, artifact: Artifact, checked: Checked) -> dict[str, str]:
    sha = checked.get(artifact.id)
    if sha is None:
        path = ledger.file(artifact)
        sha = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        if sha != artifact.sha256:
            raise LedgerError(f"{artifact.path}: missing or changed since it was recorded; rerun its stage")
        checked[artifact.id] = sha
    return {"sha256": sha}


def step_products(ledger: Ledger, step: str) -> list[Artifact]:
    return sorted((a for a in ledger.artifacts if a.kind in STEP_PRODUCTS[step]), key=lambda a: a.path)


def source_materials(project_dir: Path, package: str) -> dict[str, dict[str, str]]:
    root = project_dir / package
    return {
        f"{package}/{p.relative_to(root).as_posix()}": {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def step_materials(
    ledger: Ledger, step: str, sources: Mapping[str, Mapping[str, str]], checked: Checked | None = None
) -> dict[str, Any]:
    if step == "build":
        return {k: dict(v) for k, v in sources.items()}
    checked = {} if checked is None else checked
    wanted: list[Artifact] = []
    for earlier in STEP_MATERIALS[step]:
        wanted += [a for a in step_products(ledger, earlier) if step != "package" or a.kind == ArtifactKind.BINARY]
    return {a.path: _digest(ledger, a, checked) for a in wanted}


def make_link(
    ledger: Ledger, step: str, sources: Mapping[str, Mapping[str, str]], checked: Checked | None = None
) -> Link:
    """The step's link; pass one `checked` to the links of a run so each file is hashed once."""
    checked = {} if checked is None else checked
    return Link(
        name=step,
        command=["opencode-release", "stage", step],
        materials=step_materials(ledger, step, sources, checked),
        products={a.path: _digest(ledger, a, checked) for a in step_products(ledger, step)},
    )


def _rules_match(paths: Iterable[str], step: str) -> list[list[str]]:
    return [["MATCH", p, "WITH", "PRODUCTS", "FROM", step] for p in paths]


def make_layout(
    ledger: Ledger, keys: Mapping[str, KeyPair], links: Mapping[str, Link], package: str, expires: dt.datetime
) -> Layout:
    steps = []
    for step in STEPS:
        link = links[step]
        if step == "build":
            materials = [["ALLOW", f"{package}/*"], ["DISALLOW", "*"]]
        else:
            materials = []
            for earlier in STEP_MATERIALS[step]:
                made = set(links[earlier].products)
                materials += _rules_match(sorted(p for p in link.materials if p in made), earlier)
            materials.append(["DISALLOW", "*"])
        products = [["CREATE", p] for p in sorted(link.products)] + [["DISALLOW", "*"]]
        steps.append(
            Step(
                name=step,
                pubkeys=[keys[step].keyid],
                threshold=1,
                expected_materials=materials,
                expected_products=products,
                expected_command=["opencode-release", "stage", step],
            )
        )
    # The inspection sees the release folder as it is when someone verifies it.
    # REQUIRE looks at artifacts not yet consumed by a MATCH, so it comes first.
    check: list[list[str]] = [["REQUIRE", p] for step in STEPS for p in sorted(links[step].products)]
    for step in STEPS:
        check += _rules_match(sorted(links[step].products), step)
    check += [["ALLOW", pattern] for pattern in ALLOWED_LATER]
    check.append(["DISALLOW", "*"])
    run = ["sha256sum", "--check", "--quiet", "SHA256SUMS"] if "SHA256SUMS" in links["package"].products else ["true"]
    inspection = Inspection(
        name=INSPECTION,
        run=run,
        expected_materials=check,
        expected_products=[["MATCH", "*", "WITH", "MATERIALS", "FROM", INSPECTION], ["DISALLOW", "*"]],
    )
    return Layout(
        steps=steps,
        inspect=[inspection],
        keys={keys[s].keyid: keys[s].public for s in STEPS},
        expires=expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        readme=f"{ledger.product} {ledger.version}: build, package, sbom, provenance (opencode-release)",
    )


def sign(signable: Link | Layout, key: KeyPair) -> bytes:
    """A DSSE envelope over the statement, as JSON with sorted keys (Ed25519 makes it deterministic)."""
    envelope = Envelope.from_signable(signable)
    envelope.create_signature(key.signer)
    return (json.dumps(envelope.to_dict(), sort_keys=True, indent=1) + "\n").encode()


def link_name(step: str, key: KeyPair) -> str:
    return f"{step}.{key.keyid[:8]}.link"


def verify_command(layout: Path, owner_key: Path) -> list[str]:
    """The `in-toto-verify` call a verifier runs from the release folder."""
    return [
        "in-toto-verify",
        "--layout",
        str(layout),
        "--verification-keys",
        str(owner_key),
        "--link-dir",
        str(layout.parent),
    ]
