"""The push: the release's image layout to HOST[:PORT]/REPO, its tags, and its evidence as OCI 1.1 referrers.

Order: blobs, then each platform manifest and the index by digest, then the
evidence, then the tags last, so a tag never names an image whose evidence is
not there yet. Evidence is each Sigstore bundle of an image subject (the
index, each manifest): its signature, its SBOM statement and the release
statement, attached as cosign attaches bundles: a referrer manifest with
`artifactType` the bundle's media type, the bundle as its one layer, the
image as `subject`, annotations saying what the bundle holds. A release
signed as CI signs it (`signatures: statement`: only the provenance and the
release statement have bundles) attaches its SBOM statements themselves
(`artifactType application/vnd.in-toto+json`, the statement as the layer):
the signed release statement binds them by digest. A registry
with the referrers API answers the referrer's push with `OCI-Subject`;
otherwise the referrer is added to the referrers tag schema's index
(`sha256-<hex>`). Every manifest is canonical JSON, so a second push of the
same release writes the same digests and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core import oci
from ..core.errors import LedgerError, UsageError
from ..core.formats import canonical_json
from ..core.ledger import Artifact, ArtifactKind, Ledger
from ..core.versions import Version
from .layout import created

SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
EVIDENCE = "dev.opencode.release.evidence"  # signature | sbom | provenance | release-statement
_SUBJECT_KINDS = (ArtifactKind.IMAGE_INDEX, ArtifactKind.IMAGE_MANIFEST)


@dataclass(frozen=True, slots=True)
class Referrer:
    subject: str  # the image digest it refers to
    evidence: str
    manifest: bytes
    bundle: bytes  # the one layer: a Sigstore bundle, or an in-toto statement (artifact_type IN_TOTO)
    artifact_type: str = oci.SIGSTORE_BUNDLE

    @property
    def digest(self) -> str:
        return oci.sha256_digest(self.manifest)


@dataclass
class Plan:
    repository: str
    index: Artifact
    manifests: list[Artifact]
    blobs: dict[str, bytes]  # config and layer blobs by digest
    tags: list[str]
    referrers: list[Referrer]
    attached: dict[str, str] = field(default_factory=dict)  # referrer digest -> "referrers-api" | "fallback-tag"

    def to_json(self, dry_run: bool) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "dry_run": dry_run,
            "index": self.index.facts["digest"],
            "manifests": {m.target: m.facts["digest"] for m in self.manifests},
            "tags": self.tags,
            "referrers": [
                {"subject": r.subject, "evidence": r.evidence, "digest": r.digest, "via": self.attached.get(r.digest)}
                for r in self.referrers
            ],
        }


def tags_of(version: str, channel: str) -> list[str]:
    """X.Y.Z, X.Y (of a release, not a pre-release) and the channel; `+` is not allowed in a tag."""
    parsed = Version.parse(version)
    tags = [version.replace("+", "_")]
    if not parsed.pre:
        tags.append(f"{parsed.major}.{parsed.minor}")
    return [*tags, channel.replace("/", "-")]


def _bytes(ledger: Ledger, artifact: Artifact) -> bytes:
    if not ledger.verify_file(artifact):
        raise LedgerError(f"{artifact.path}: missing or changed since it was recorded; rerun the image stage")
    return ledger.file(artifact).read_bytes()


def _bundles_of(ledger: Ledger, subject: Artifact) -> list[tuple[str, str, Artifact, str]]:
    """(evidence, predicate type, layer, artifact type) for each piece of evidence about the subject: its own
    signature, the signed statements naming it (SBOM, provenance), the release statement; an SBOM statement
    without a bundle of its own (CI's) goes as the statement itself, which the signed release statement binds."""
    bundles = {
        b.related("signature_of")[0]: b
        for b in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE)
        if b.related("signature_of")
    }
    signed_release = [s for s in ledger.by_kind(ArtifactKind.RELEASE_STATEMENT) if s.id in bundles]
    found = []
    if subject.id in bundles:
        found.append(("signature", SIGN_PREDICATE, bundles[subject.id], oci.SIGSTORE_BUNDLE))
    for kind, evidence, relation in (
        (ArtifactKind.ATTESTATION, "sbom", "attests"),
        (ArtifactKind.PROVENANCE, "provenance", "provenance_of"),
    ):
        for statement in ledger.by_kind(kind):
            if subject.id not in statement.related(relation):
                continue
            predicate = str(statement.facts.get("predicate_type", ""))
            if statement.id in bundles:
                found.append((evidence, predicate, bundles[statement.id], oci.SIGSTORE_BUNDLE))
            elif kind == ArtifactKind.ATTESTATION and signed_release:
                found.append((evidence, predicate, statement, oci.IN_TOTO))
    if not any(media == oci.SIGSTORE_BUNDLE for *_, media in found):
        raise UsageError(
            f"{subject.path}: no Sigstore bundle signs it or a statement about it; run the sign stage "
            "(or collect CI's attestations) before publishing the image"
        )
    return found + [("release-statement", "", bundles[s.id], oci.SIGSTORE_BUNDLE) for s in signed_release]


def referrer_manifest(
    subject: dict[str, Any],
    bundle: bytes,
    content: str,
    predicate: str,
    evidence: str,
    epoch: int,
    artifact_type: str = oci.SIGSTORE_BUNDLE,
) -> bytes:
    annotations = {"org.opencontainers.image.created": created(epoch), EVIDENCE: evidence}
    if artifact_type == oci.SIGSTORE_BUNDLE:
        annotations["dev.sigstore.bundle.content"] = content
        if predicate:
            annotations["dev.sigstore.bundle.predicateType"] = predicate
    elif predicate:
        annotations["in-toto.io/predicate-type"] = predicate
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": oci.MANIFEST,
            "artifactType": artifact_type,
            "config": oci.descriptor(oci.EMPTY, oci.EMPTY_JSON),
            "layers": [oci.descriptor(artifact_type, bundle)],
            "subject": subject,
            "annotations": annotations,
        }
    )


def plan(ledger: Ledger, repository: str) -> Plan:
    indexes = ledger.by_kind(ArtifactKind.IMAGE_INDEX)
    if len(indexes) != 1:
        raise UsageError(f"{ledger.path}: {len(indexes)} image indexes; run the image stage (images.targets) first")
    index = indexes[0]
    manifests = [ledger.get(i) for i in index.related("index_of")]
    layout_blobs = {str(b.facts.get("digest")): b for b in ledger.by_kind(ArtifactKind.IMAGE_BLOB)}
    blobs: dict[str, bytes] = {}
    for manifest in manifests:
        for key in ("config", "layer"):
            digest = str(manifest.facts.get(key))
            if digest not in layout_blobs:
                raise LedgerError(
                    f"{manifest.path}: its {key} {digest} is not in the image layout; rerun the image stage"
                )
            blobs[digest] = _bytes(ledger, layout_blobs[digest])
    referrers = []
    for subject in [index, *manifests]:
        data = _bytes(ledger, subject)
        descriptor = oci.descriptor(str(subject.facts["media_type"]), data)
        for evidence, predicate, layer, media in _bundles_of(ledger, subject):
            raw = _bytes(ledger, layer)
            content = "message-signature" if layer.facts.get("content") == "message_signature" else "dsse-envelope"
            document = referrer_manifest(descriptor, raw, content, predicate, evidence, ledger.source.epoch, media)
            referrers.append(Referrer(descriptor["digest"], evidence, document, raw, media))
    return Plan(repository, index, manifests, blobs, tags_of(ledger.version, ledger.channel), referrers)


def _attach(registry: oci.Registry, referrer: Referrer) -> str:
    registry.push_blob(oci.EMPTY_JSON)
    registry.push_blob(referrer.bundle)
    supported = registry.put_manifest(referrer.digest, referrer.manifest, oci.MANIFEST)
    if supported == referrer.subject:
        return "referrers-api"
    tag = oci.fallback_tag(referrer.subject)
    found = registry.get_manifest(tag)
    entries: list[dict[str, Any]] = []
    if found is not None:
        entries = list(oci.parse_json(found.data, f"{tag}").get("manifests", []))
    if not any(isinstance(e, dict) and e.get("digest") == referrer.digest for e in entries):
        document = oci.parse_json(referrer.manifest, "referrer")
        entries.append(
            oci.descriptor(
                oci.MANIFEST,
                referrer.manifest,
                artifactType=referrer.artifact_type,
                annotations=document["annotations"],
            )
        )
        registry.put_manifest(
            tag, canonical_json({"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": entries}), oci.INDEX
        )
    return "fallback-tag"


def push(ledger: Ledger, chosen: Plan, registry: oci.Registry) -> Plan:
    version_tag = chosen.tags[0]
    held = registry.get_manifest(version_tag)
    if held is not None and held.digest != chosen.index.facts["digest"]:
        raise oci.RegistryError(
            f"{chosen.repository}:{version_tag}: already names another image ({held.digest}); a published "
            "version is immutable: publish a new version"
        )
    for data in chosen.blobs.values():
        registry.push_blob(data)
    for manifest in chosen.manifests:
        registry.put_manifest(str(manifest.facts["digest"]), _bytes(ledger, manifest), oci.MANIFEST)
    index = _bytes(ledger, chosen.index)
    registry.put_manifest(str(chosen.index.facts["digest"]), index, oci.INDEX)
    for referrer in chosen.referrers:
        chosen.attached[referrer.digest] = _attach(registry, referrer)
    for tag in chosen.tags:
        registry.put_manifest(tag, index, oci.INDEX)
    return chosen
