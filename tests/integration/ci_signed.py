"""A release signed as CI's attest job signs it, on this machine: the merge job's release (image, SBOMs), then
the two statements the attest job signs (build/ci_attest.py) -- the provenance over every uploadable file and the
release statement (`signatures: statement`) over every file plus that provenance -- signed here as DSSE by the
embedded Sigstore under the local identity, kept as `attested/` the way the job keeps them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sigstore import dsse
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from opencode_release import devsigstore
from opencode_release.attest import release_statement
from opencode_release.core import config
from opencode_release.core.formats import canonical_json
from opencode_release.core.ledger import Ledger
from opencode_release.core.names import RELEASE_PREDICATE

from .signed_release import SLSA, STATEMENT_TYPE, provenance_predicate

PROVENANCE = "provenance.intoto.json"
RELEASE = "release.intoto.json"


def _statement(subjects: list[tuple[str, str]], predicate_type: str, predicate: object) -> bytes:
    return canonical_json(
        {
            "_type": STATEMENT_TYPE,
            "predicateType": predicate_type,
            "predicate": predicate,
            "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in subjects],
        }
    )


def sign_as_statements(settings: config.Settings, statements: dict[str, bytes], into: Path) -> Path:
    """Each statement and its DSSE bundle into `into` (name, name.sigstore.json); returns the trusted root (beside `into`)."""
    signing = settings.signing
    with devsigstore.signing_session(settings.path(settings.state_dir), signing.issuer, signing.identity) as instance:
        trust = ClientTrustConfig.from_json(instance.trust_config_json)
        with SigningContext.from_trust_config(trust).signer(IdentityToken(instance.identity_token())) as signer:
            bundles = [signer.sign_dsse(dsse.Statement(body)).to_json() for body in statements.values()]
        bundles = instance.finish(bundles)
        root = into.parent / "sigstore-trusted-root.json"
        root.write_text(instance.trusted_root_json, encoding="utf-8")
    into.mkdir(parents=True, exist_ok=True)
    for (name, body), bundle in zip(statements.items(), bundles, strict=True):
        (into / name).write_bytes(body)
        (into / f"{name}.sigstore.json").write_text(bundle, encoding="utf-8")
    return root


def attest_like_ci(
    settings: config.Settings, ledger: Ledger, into: Path, *, builder: str | None = None, images: bool = True
) -> Path:
    """`attested/` for the merged release in `ledger`; returns the instance's trusted root (for verify-image).
    A test's variants: another `builder` in the provenance, or a provenance that names no image (`images`)."""
    uploadable = sorted(ledger.uploadable(), key=lambda a: a.path)
    subjects = [(a.path, a.sha256) for a in uploadable if images or not a.kind.startswith("oci-image")]
    provenance = _statement(subjects, SLSA, provenance_predicate(ledger, **({"builder": builder} if builder else {})))
    predicate = release_statement.predicate(ledger, signatures="statement")
    predicate["files"] = sorted(
        [
            *predicate["files"],
            {
                "path": PROVENANCE,
                "kind": "provenance",
                "size": len(provenance),
                "sha256": hashlib.sha256(provenance).hexdigest(),
                "uploadable": True,
            },
        ],
        key=lambda f: f["path"],
    )
    listed = [(f["path"], f["sha256"]) for f in predicate["files"]]
    release = _statement(listed, RELEASE_PREDICATE, predicate)
    return sign_as_statements(settings, {PROVENANCE: provenance, RELEASE: release}, into)
