"""verify-image: an OCI image in a registry, checked as every other artifact of a release is.

For the image a reference names (an index, or one platform's manifest), and
for each platform image of an index, in order (each check its own name):

- `resolve`, `digest`: the manifest is there, and its bytes hash to the digest
  asked for (a reference by digest, the index's descriptor) and to the one the
  registry names it by;
- `bundle`: a Sigstore bundle is attached (referrers API, else the `sha256-<hex>`
  tag), and `sigstore` plus the policy rules: sigstore-python's Verifier checks
  it over the manifest's digest with the channel's identity policy;
- `sbom-statement`: a DSSE-signed CycloneDX statement about this digest;
- `release-statement`: the release's signed statement is attached and lists
  this digest as an image of the release;
- `release`: a tag names the release the statement is about (X.Y.Z, X.Y or
  its channel), so an image of another release under this tag is refused;
- with `binary`: `layer` (every layer's bytes match their digest) and `binary`
  (the entrypoint's file in the layers is the binary the statement lists for
  that image).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from ..core import oci
from ..core.errors import VerificationError
from ..core.ledger import ArtifactKind
from . import _image_registry as fetched
from . import release_statement as statements
from .artifact import Row
from .bundles import BundleVerifier
from .identity_policy import CLAIMS, Policy, Trust
from .statement_checks import parse_statement, verify_sbom_statement

IMAGE_KINDS = (ArtifactKind.IMAGE_INDEX, ArtifactKind.IMAGE_MANIFEST)
MAX_CONFIG_BYTES = 1 << 20


def _channel_hint(raw: list[bytes]) -> str | None:
    """The channel an attached release statement names, unverified: it only chooses the policy to verify with."""
    for bundle in raw:
        try:
            envelope = json.loads(bundle)["dsseEnvelope"]
            payload = json.loads(base64.b64decode(envelope["payload"]))
            return str(payload["predicate"]["channel"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


class ImageVerifier:
    def __init__(self, registry: oci.Registry, trust: Trust, policy: Policy, binary: bool) -> None:
        self.registry, self.binary = registry, binary
        self.verifier = BundleVerifier(trust.root, policy.certificate_policy())
        self.bundle_checks = ("sigstore", "issuer", "identity", *sorted(k for k in CLAIMS if k in policy.claims))
        self.release: statements.ReleaseStatement | None = None

    def check(
        self, subject: fetched.Subject, evidence: dict[str, list[bytes]], where: str, tag: str | None
    ) -> list[str]:
        passed = ["resolve", "digest"]
        name = subject.name
        signatures = evidence.get("signature", [])
        if not signatures:
            raise VerificationError(name, "bundle", f"no Sigstore bundle signs {subject.digest} (looked in {where})")
        errors = []
        for raw in signatures:  # one good signature is enough; a foreign one beside it is not a failure
            try:
                self.verifier.verify_artifact(name, BundleVerifier.parse(name, raw), bytes.fromhex(subject.hex))
                break
            except VerificationError as exc:
                errors.append(exc)
        else:
            raise errors[0]
        passed += ["bundle", *self.bundle_checks]
        self._sbom(subject, evidence.get("sbom", []))
        passed.append("sbom-statement")
        self._listed(subject, evidence.get("release-statement", []))
        passed.append("release-statement")
        if tag is not None:
            self._tag(subject, tag)
            passed.append("release")
        if self.binary and subject.media_type == oci.MANIFEST:
            self._binary(subject)
            passed += ["layer", "binary"]
        return passed

    def _statement(self, name: str, raw: bytes, check: str) -> Any:
        payload = self.verifier.verify_dsse(name, BundleVerifier.parse(name, raw))
        return parse_statement(name, check, payload.payload_type, payload.payload)

    def _sbom(self, subject: fetched.Subject, raw: list[bytes]) -> None:
        if not raw:
            raise VerificationError(
                subject.name, "sbom-statement", f"no SBOM statement is attached to {subject.digest}"
            )
        verify_sbom_statement(subject.name, self._statement(subject.name, raw[0], "sbom-statement"), subject.hex)

    def _listed(self, subject: fetched.Subject, raw: list[bytes]) -> None:
        if not raw:
            raise VerificationError(subject.name, "release-statement", "no signed release statement is attached")
        try:
            release = statements.parse(self._statement(subject.name, raw[0], "release-statement"))
        except VerificationError as exc:
            raise VerificationError(subject.name, exc.check, exc.reason) from None
        if not any(f.sha256 == subject.hex and f.kind in IMAGE_KINDS for f in release.files.values()):
            raise VerificationError(
                subject.name,
                "release-statement",
                f"the signed statement of {release.product} {release.version} lists no image {subject.digest}",
            )
        if self.release is not None and self.release.version != release.version:
            raise VerificationError(subject.name, "release", f"an image of {release.version} in {self.release.version}")
        self.release = release

    def _tag(self, subject: fetched.Subject, tag: str) -> None:
        release = self.release
        assert release is not None
        line = ".".join(release.version.split(".")[:2])
        allowed = {release.version.replace("+", "_"), release.channel.replace("/", "-")}
        if "-" not in release.version:
            allowed.add(line)
        if tag not in allowed:
            raise VerificationError(
                subject.name,
                "release",
                f"tag {tag} names an image of {release.product} {release.version} ({release.channel}); "
                f"that release's tags are {', '.join(sorted(allowed))}",
            )

    def _binary(self, subject: fetched.Subject) -> None:
        release, name = self.release, subject.name
        assert release is not None
        config = json.loads(
            fetched.blob(self.registry, name, subject.document.get("config"), "layer", MAX_CONFIG_BYTES)
        )
        entrypoint = (config.get("config") or {}).get("Entrypoint") or []
        if not entrypoint or not isinstance(entrypoint[0], str):
            raise VerificationError(name, "binary", "the image config names no entrypoint")
        listed = release.by_id()
        (manifest,) = [f for f in release.files.values() if f.sha256 == subject.hex and f.kind in IMAGE_KINDS]
        binaries = [listed[i] for i in manifest.relations.get("image_of", ()) if i in listed]
        if not binaries:
            raise VerificationError(name, "binary", "the release statement names no binary for this image")
        found = None
        for layer in subject.document.get("layers") or []:
            data = fetched.blob(self.registry, name, layer, "layer", fetched.MAX_LAYER_BYTES)
            found = fetched.file_in_layer(name, data, entrypoint[0]) or found
        check_binary(name, entrypoint[0], found, binaries[0].sha256, binaries[0].path)


def check_binary(name: str, entrypoint: str, found: str | None, expected: str, listed_path: str) -> None:
    if found is None:
        raise VerificationError(name, "binary", f"the layers hold no file at the entrypoint {entrypoint}")
    if found != expected:
        raise VerificationError(
            name, "binary", f"{entrypoint} has sha256 {found}; the signed statement lists {listed_path} as {expected}"
        )


def verify_image(
    text: str, trust: Trust, policy_for: Callable[[str | None], Policy], *, channel: str | None, binary: bool
) -> list[Row]:
    """One row per subject: the image the reference names, then each platform image of an index."""
    reference = oci.Reference.parse(text)
    registry = oci.Registry.of(reference)
    rows: list[Row] = []
    name = str(reference)
    try:
        top = fetched.fetch(registry, name, reference.reference, reference.digest)
        evidence, where = fetched.bundles(registry, top)
        policy = policy_for(channel or _channel_hint(evidence.get("release-statement", [])))
        verifier = ImageVerifier(registry, trust, policy, binary)
        tag = reference.tag if reference.digest is None else None
        rows.append(
            Row(f"{reference.repo}@{top.digest}", top.media_type, tuple(verifier.check(top, evidence, where, tag)))
        )
    except VerificationError as exc:
        return [Row(exc.artifact, "oci-image", (), exc.check, exc.reason)]
    for entry in top.document.get("manifests", []) if top.media_type == oci.INDEX else []:
        digest = str(entry.get("digest", "")) if isinstance(entry, dict) else ""
        child = f"{reference.repo}@{digest}"
        try:
            subject = fetched.fetch(registry, child, digest, digest)
            evidence, where = fetched.bundles(registry, subject)
            rows.append(Row(child, subject.media_type, tuple(verifier.check(subject, evidence, where, None))))
        except VerificationError as exc:
            rows.append(Row(child, oci.MANIFEST, (), exc.check, exc.reason))
    return rows
