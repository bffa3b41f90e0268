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

import base64
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigstore import dsse
from sigstore.errors import Error as SigstoreError
from sigstore.hashes import Hashed
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityError, IdentityToken, detect_credential
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy
from sigstore_models.common.v1 import HashAlgorithm

from ..artifacts import UPLOADABLE, Artifact, ArtifactKind, concurrently, write_atomic
from ..errors import StageError, UsageError
from ..stage import Context, Stage
from .local_sigstore import LocalSigstore
from .local_sigstore.rekor import TransparencyLog

BUNDLE_SUFFIX = ".sigstore.json"
TRUST_ROOT_NAME = "sigstore-trusted-root.json"
STATEMENT_KINDS = frozenset({ArtifactKind.PROVENANCE, ArtifactKind.ATTESTATION})
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
    # The local log, to give every bundle of a release the same checkpoint.
    log: TransparencyLog | None = None

    @property
    def identity(self) -> str:
        return self.token.identity

    @property
    def issuer(self) -> str:
        return self.token.federated_issuer


def instance_name(ctx: Context) -> str:
    return str(ctx.option("signing.instance") or ctx.settings.signing.instance)


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
    name = instance_name(ctx)
    if name == "local":
        signing = ctx.settings.signing
        local = LocalSigstore(ctx.state_dir, signing.issuer, signing.identity)
        with local.running() as session:
            config = ClientTrustConfig.from_json(session.trust_config_path.read_text(encoding="utf-8"))
            yield Instance(
                name,
                config,
                session.trusted_root_path.read_text(encoding="utf-8"),
                IdentityToken(session.identity_token()),
                session.log,
            )
        return
    token = _ambient_token(name)  # before any network: no credential, no point fetching trust
    if name in ("production", "staging"):
        config = ClientTrustConfig.production() if name == "production" else ClientTrustConfig.staging()
    else:
        path = ctx.settings.path(name)
        try:
            config = ClientTrustConfig.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, SigstoreError) as exc:
            raise UsageError(f"{path}: not a readable Sigstore client trust config: {exc}") from exc
    root_json = config.trusted_root._inner.to_json()
    yield Instance(name, config, root_json, token)


def bundle_path(ctx: Context, artifact: Artifact) -> Path:
    path = ctx.ledger.file(artifact)
    return path.with_name(path.name + BUNDLE_SUFFIX)


def _statement(path: Path, artifact: Artifact) -> dsse.Statement:
    raw = path.read_bytes()
    try:
        return dsse.Statement(raw)
    except SigstoreError as exc:
        raise StageError(f"{artifact.path}: not an in-toto statement, cannot sign it as DSSE: {exc}") from None


def _hashed(artifact: Artifact) -> Hashed:
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
            verifier.verify_artifact(_hashed(artifact), bundle, identity)
    except SigstoreError as exc:
        raise StageError(f"{artifact.path}: bundle failed verification right after signing: {exc}") from None


class SignStage(Stage):
    name = "sign"
    description = "Sigstore bundles for every uploadable artifact, each verified after signing"
    consumes = SIGNED_KINDS

    def fingerprint(self, ctx: Context) -> str:
        signing = ctx.settings.signing
        return f"{instance_name(ctx)}|{signing.identity}|{signing.issuer}"

    def skip(self, ctx: Context) -> str | None:
        if not self._targets(ctx):
            return "nothing uploadable to sign yet"
        return None

    @staticmethod
    def _targets(ctx: Context) -> list[Artifact]:
        return sorted((a for a in ctx.ledger.artifacts if a.kind in SIGNED_KINDS), key=lambda a: a.id)

    def run(self, ctx: Context) -> None:
        targets = self._targets(ctx)
        for artifact in targets:
            if not ctx.ledger.verify_file(artifact):
                raise StageError(f"{artifact.path}: changed since it was recorded; rerun its stage")
        written: list[Path] = []
        try:
            self._sign_all(ctx, targets, written)
        except BaseException:
            for path in written:  # a failed signing run leaves nothing behind to publish
                path.unlink(missing_ok=True)
            raise

    def _sign_all(self, ctx: Context, targets: list[Artifact], written: list[Path]) -> None:
        with open_instance(ctx) as instance:
            signing = SigningContext.from_trust_config(instance.trust_config)
            verifier = Verifier(trusted_root=instance.trust_config.trusted_root)
            expected = policy.Identity(identity=instance.identity, issuer=instance.issuer)
            made: list[tuple[Artifact, Bundle]] = []
            with (
                signing.signer(instance.token) as signer,
                ctx.reporter.progress(f"signing with {instance.name}", len(targets)) as bar,
            ):
                for artifact in targets:
                    source = ctx.ledger.file(artifact)
                    if artifact.kind in STATEMENT_KINDS:
                        made.append((artifact, signer.sign_dsse(_statement(source, artifact))))
                    else:
                        made.append((artifact, signer.sign_artifact(_hashed(artifact))))
                    bar.advance()
            if instance.log is not None:
                made = refresh_inclusion_proofs(instance.log, made)
            for artifact, bundle in made:  # every bundle verified before any is written
                verify_bundle(verifier, bundle, artifact, ctx.ledger.file(artifact), expected)
            signed = [(artifact, bundle, bundle_path(ctx, artifact)) for artifact, bundle in made]

            def write(item: tuple[Artifact, Bundle, Path]) -> None:
                _, bundle, out = item
                write_atomic(out, bundle.to_json().encode())
                written.append(out)

            concurrently(write, signed)
            root_path = ctx.dist_dir / TRUST_ROOT_NAME
            write_atomic(root_path, _pretty(instance.trusted_root_json))
            written.append(root_path)
        facts: dict[str, Any] = {"instance": instance.name, "identity": instance.identity, "issuer": instance.issuer}
        for artifact, bundle, out in signed:
            entry = bundle.log_entry._inner
            ctx.ledger.record(
                out,
                ArtifactKind.SIGSTORE_BUNDLE,
                target=artifact.target,
                relations={"signature_of": [artifact.id]},
                facts={
                    **facts,
                    "content": "dsse" if artifact.kind in STATEMENT_KINDS else "message_signature",
                    "log_index": int(entry.log_index),
                    "integrated_time": int(entry.integrated_time or 0),
                },
            )
        ctx.ledger.record(root_path, ArtifactKind.TRUST_ROOT, facts=facts)
        ctx.reporter.note(
            f"{len(signed)} bundles signed with {instance.name} as {instance.identity} "
            f"and verified; trusted root in {TRUST_ROOT_NAME}"
        )


Signed = list[tuple[Artifact, Bundle]]


def refresh_inclusion_proofs(log: TransparencyLog, made: Signed) -> Signed:
    """Prove every entry against the log's tree after the last one, as a Rekor client may
    refetch proofs: the release's bundles then share one signed checkpoint, which a
    verifier checks once per release instead of once per bundle."""
    size = log.size
    checkpoint = log.checkpoint(size)
    refreshed = []
    for artifact, bundle in made:
        data = json.loads(bundle.to_json())
        (entry,) = data["verificationMaterial"]["tlogEntries"]
        index = int(entry["logIndex"])
        root, path = log.inclusion(index, size)
        entry["inclusionProof"] = {
            "logIndex": str(index),
            "treeSize": str(size),
            "rootHash": _b64(root),
            "hashes": [_b64(h) for h in path],
            "checkpoint": {"envelope": checkpoint},
        }
        refreshed.append((artifact, Bundle.from_json(json.dumps(data))))
    return refreshed


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pretty(raw: str) -> bytes:
    return (json.dumps(json.loads(raw), indent=2, sort_keys=True) + "\n").encode()
