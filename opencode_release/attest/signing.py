"""Sigstore signing: a bundle for every uploadable artifact, verified before it is kept.

Artifacts are signed as message signatures (hashedrekord), in-toto statements
(provenance, SBOM statements) as DSSE envelopes. The instance is the
configured one: `local` (the embedded instance, default for snapshots),
`production` or `staging` (public Sigstore, with the ambient OIDC token of the
CI), or a client trust-config file. Signing checks only the certificate's SCT,
not the log's answer, so every bundle is verified with sigstore-python's
Verifier right away; one failure stops the release, and nothing of this stage
is kept. Identity tokens are held in memory only: never logged, recorded or written.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from sigstore import dsse
from sigstore.errors import Error as SigstoreError
from sigstore.hashes import Hashed
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityError, IdentityToken, detect_credential
from sigstore.verify import Verifier, policy
from sigstore_models.common.v1 import HashAlgorithm

from ..core.errors import StageError, UsageError
from ..core.ledger import UPLOADABLE, Artifact, ArtifactKind
from ..core.names import BUNDLE_SUFFIX
from ..core.stage import Context, SigningSession

STATEMENT_KINDS = frozenset({ArtifactKind.PROVENANCE, ArtifactKind.ATTESTATION, ArtifactKind.RELEASE_STATEMENT})
# Everything uploadable except what this stage makes itself.
SIGNED_KINDS = tuple(sorted(UPLOADABLE - {ArtifactKind.SIGSTORE_BUNDLE, ArtifactKind.TRUST_ROOT}))
INSTANCES = ("production", "staging", "local")


@dataclass(frozen=True)
class Instance:
    """Where to sign, with whose token, and who the verifier should expect."""

    name: str
    trust_config: ClientTrustConfig
    trusted_root_json: str
    token: IdentityToken
    # The embedded instance's session, which may rework its bundles once all are signed.
    local: SigningSession | None = None

    @property
    def identity(self) -> str:
        return self.token.identity

    @property
    def issuer(self) -> str:
        return self.token.federated_issuer


def _ambient_token(name: str) -> IdentityToken:
    try:
        raw = detect_credential()
    except IdentityError as exc:
        raise StageError(f"signing with {name}: ambient OIDC credential unusable: {exc}") from None
    if not raw:
        raise StageError(
            f"signing with {name}: no ambient OIDC credential; run in GitHub Actions with "
            "`permissions: id-token: write`, or sign a snapshot with the local instance"
        )
    return IdentityToken(raw)


@contextlib.contextmanager
def open_instance(ctx: Context) -> Iterator[Instance]:
    name = ctx.instance
    if name == "local":
        if ctx.local_sigstore is None:
            raise UsageError("signing.instance = local, but this run has no embedded Sigstore instance")
        signing = ctx.settings.signing
        with ctx.local_sigstore(ctx.state_dir, signing.issuer, signing.identity) as session:
            config = ClientTrustConfig.from_json(session.trust_config_json)
            yield Instance(name, config, session.trusted_root_json, IdentityToken(session.identity_token()), session)
        return
    token = _ambient_token(name)  # before any network: no credential, no point fetching trust
    config = _public_trust_config(ctx, name)
    yield Instance(name, config, config.trusted_root._inner.to_json(), token)


def _public_trust_config(ctx: Context, name: str) -> ClientTrustConfig:
    if name in ("production", "staging"):
        return ClientTrustConfig.production() if name == "production" else ClientTrustConfig.staging()
    path = ctx.settings.path(name)
    try:
        return ClientTrustConfig.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, SigstoreError) as exc:
        raise UsageError(f"{path}: not a readable Sigstore client trust config: {exc}") from exc


def instance_trusted_root(ctx: Context) -> bytes:
    """The trusted root of the instance that will sign, as the release ships it; nothing is signed.

    The release statement lists this file, so it is written before signing and the
    sign stage checks that the instance it signs with still has it."""
    if ctx.instance == "local":
        if ctx.local_sigstore is None:
            raise UsageError("signing.instance = local, but this run has no embedded Sigstore instance")
        signing = ctx.settings.signing
        with ctx.local_sigstore(ctx.state_dir, signing.issuer, signing.identity) as session:
            return pretty_json(session.trusted_root_json)
    return pretty_json(_public_trust_config(ctx, ctx.instance).trusted_root._inner.to_json())


def bundle_path(ctx: Context, artifact: Artifact) -> Path:
    path = ctx.ledger.file(artifact)
    return path.with_name(path.name + BUNDLE_SUFFIX)


def dsse_statement(path: Path, artifact: Artifact) -> dsse.Statement:
    raw = path.read_bytes()
    try:
        return dsse.Statement(raw)
    except SigstoreError as exc:
        raise StageError(f"{artifact.path}: not an in-toto statement, cannot sign it as DSSE: {exc}") from None


def hashed(artifact: Artifact) -> Hashed:
    # The ledger's digest was checked against the file when the stage started.
    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(artifact.sha256))


def verify_bundle(
    verifier: Verifier, bundle: Bundle, artifact: Artifact, path: Path, identity: policy.VerificationPolicy
) -> None:
    """sigstore-python's full check: chain, SCT, identity, log entry, SET, signature."""
    try:
        if artifact.kind in STATEMENT_KINDS:
            _, payload = verifier.verify_dsse(bundle, identity)
            if payload != path.read_bytes():
                raise SigstoreError("the DSSE payload is not the statement file's bytes")
        else:
            verifier.verify_artifact(hashed(artifact), bundle, identity)
    except SigstoreError as exc:
        raise StageError(f"{artifact.path}: bundle failed verification right after signing: {exc}") from None


def certificate_identity(bundle: Bundle) -> str:
    """Who the bundle's certificate names: its SAN, as Fulcio wrote it.

    For an email token that is the token's identity; for a GitHub Actions token it
    is the workflow's URI (`https://github.com/{job_workflow_ref}`), not the token's
    `sub` (`repo:owner/name:ref:...`), which is what sigstore-python reports as
    the token's identity.
    """
    san = bundle.signing_certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [str(name.value) for name in san if isinstance(name, x509.RFC822Name | x509.UniformResourceIdentifier)]
    if len(names) != 1:
        raise StageError(f"the signing certificate names {len(names)} identities; expected one email or URI")
    return names[0]


def pretty_json(raw: str) -> bytes:
    return (json.dumps(json.loads(raw), indent=2, sort_keys=True) + "\n").encode()
