"""verify-image: an OCI image in a registry, checked as every other artifact of a release is.

For the image a reference names (an index, or one platform's manifest), and
for each platform image of an index, in order (each check its own name):

- `resolve`, `digest`: the manifest is there, and its bytes hash to the digest
  asked for (a reference by digest, the index's descriptor) and to the one the
  registry names it by;
- `release-statement`: the release's statement is attached (referrers API,
  else the `sha256-<hex>` tag) or given (`--release-statement`, the bundle the
  release ships), its bundle verifies with sigstore-python's
  Verifier under the channel's identity policy, and it lists this digest as an
  image of the release. Its signed `signatures` field says how the rest is signed:
- each-file (the local pipeline): `bundle` plus `sigstore` and the policy rules,
  a bundle over the manifest's digest; `sbom-statement`, a DSSE-signed
  CycloneDX statement about this digest;
- statement (CI: only the provenance and the release statement are signed): the
  statement's verified bundle binds the digest; `provenance`, the attached
  provenance verifies under the policy and is the one the statement lists, with
  `provenance-type`, `-builder`, `-source`, `version` and `-subject` (it names
  this digest); `sbom-statement`, the attached in-toto statement is one the
  release statement lists as about this image, and binds this digest;
- `release`: a tag names the release the statement is about (X.Y.Z, X.Y or
  its channel), so an image of another release under this tag is refused;
- with `binary`: `layer` (every layer's bytes match their digest) and `binary`
  (the entrypoint's file in the layers is the binary the statement lists for
  that image).
"""

from __future__ import annotations

import base64
import hashlib
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
from .statement_checks import (
    IN_TOTO_PAYLOAD,
    parse_statement,
    verify_provenance_release,
    verify_provenance_subject,
    verify_provenance_version,
    verify_sbom_statement,
)

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
    def __init__(
        self, registry: oci.Registry, trust: Trust, policy: Policy, binary: bool, channel: str | None = None
    ) -> None:
        self.registry, self.binary, self.policy, self.channel = registry, binary, policy, channel
        self.verifier = BundleVerifier(trust.root, policy.certificate_policy())
        self.bundle_checks = ("sigstore", "issuer", "identity", *sorted(k for k in CLAIMS if k in policy.claims))
        self.release: statements.ReleaseStatement | None = None

    def check(
        self, subject: fetched.Subject, evidence: dict[str, list[bytes]], where: str, tag: str | None
    ) -> list[str]:
        passed = ["resolve", "digest"]
        release = self._listed(subject, evidence.get("release-statement", []), where)
        passed += ["release-statement", *(["channel"] if self.channel is not None else [])]
        if release.signatures == statements.EACH_FILE:
            self._signature(subject, evidence.get("signature", []), where)
            passed += ["bundle", *self.bundle_checks]
            self._sbom(subject, evidence.get("sbom", []))
        else:
            # Signed as CI signs (`signatures: statement`): the statement's bundle, verified under the policy, binds
            # this digest; the provenance, listed by it, says who built the image from what.
            passed += self.bundle_checks
            passed += self._provenance(subject, evidence.get("provenance", []), release)
            self._bound_sbom(subject, evidence.get(fetched.STATEMENT_PREFIX + "sbom", []), release)
        passed.append("sbom-statement")
        if tag is not None:
            self._tag(subject, tag)
            passed.append("release")
        if self.binary and subject.media_type == oci.MANIFEST:
            self._binary(subject)
            passed += ["layer", "binary"]
        return passed

    def _signature(self, subject: fetched.Subject, signatures: list[bytes], where: str) -> None:
        name = subject.name
        if not signatures:
            raise VerificationError(name, "bundle", f"no Sigstore bundle signs {subject.digest} (looked in {where})")
        errors = []
        for raw in signatures:  # one good signature is enough; a foreign one beside it is not a failure
            try:
                self.verifier.verify_artifact(name, BundleVerifier.parse(name, raw), bytes.fromhex(subject.hex))
                return
            except VerificationError as exc:
                errors.append(exc)
        raise errors[0]

    def _provenance(
        self, subject: fetched.Subject, raw: list[bytes], release: statements.ReleaseStatement
    ) -> list[str]:
        name = subject.name
        if not raw:
            raise VerificationError(
                name,
                "provenance",
                f"no signed provenance is attached to {subject.digest}; a release signed by its "
                "statement alone names its builder there",
            )
        listed = {f.sha256 for f in release.files.values() if f.kind == ArtifactKind.PROVENANCE}
        payload = self.verifier.verify_dsse(name, BundleVerifier.parse(name, raw[0]))
        if hashlib.sha256(payload.payload).hexdigest() not in listed:
            raise VerificationError(
                name,
                "provenance",
                f"the attached provenance is not the one the signed statement of {release.version} lists",
            )
        statement = parse_statement(name, "provenance", payload.payload_type, payload.payload)
        verify_provenance_release(name, statement, self.policy)
        verify_provenance_version(name, statement, release.version)
        verify_provenance_subject(name, statement, subject.hex)
        return [
            "provenance",
            "provenance-type",
            "provenance-builder",
            "provenance-source",
            "version",
            "provenance-subject",
        ]

    def _bound_sbom(self, subject: fetched.Subject, raw: list[bytes], release: statements.ReleaseStatement) -> None:
        """CI's SBOM statement has no bundle of its own: the signed release statement lists its digest as a
        statement about this image."""
        name = subject.name
        image = self._image(subject, release)
        bound = {
            f.sha256
            for f in release.files.values()
            if f.kind == ArtifactKind.ATTESTATION and image.id in f.relations.get("attests", ())
        }
        for text in raw:
            if hashlib.sha256(text).hexdigest() in bound:
                statement = parse_statement(name, "sbom-statement", IN_TOTO_PAYLOAD, text)
                verify_sbom_statement(name, statement, subject.hex)
                return
        raise VerificationError(
            name,
            "sbom-statement",
            f"no attached SBOM statement is one the signed statement of {release.version} lists for {subject.digest}",
        )

    @staticmethod
    def _image(subject: fetched.Subject, release: statements.ReleaseStatement) -> statements.Listed:
        return next(f for f in release.files.values() if f.sha256 == subject.hex and f.kind in IMAGE_KINDS)

    def _statement(self, name: str, raw: bytes, check: str) -> Any:
        payload = self.verifier.verify_dsse(name, BundleVerifier.parse(name, raw))
        return parse_statement(name, check, payload.payload_type, payload.payload)

    def _sbom(self, subject: fetched.Subject, raw: list[bytes]) -> None:
        if not raw:
            raise VerificationError(
                subject.name, "sbom-statement", f"no SBOM statement is attached to {subject.digest}"
            )
        verify_sbom_statement(subject.name, self._statement(subject.name, raw[0], "sbom-statement"), subject.hex)

    def _listed(self, subject: fetched.Subject, raw: list[bytes], where: str) -> statements.ReleaseStatement:
        if not raw:
            raise VerificationError(
                subject.name, "release-statement", f"no signed release statement is attached (looked in {where})"
            )
        try:
            release = statements.parse(self._statement(subject.name, raw[0], "release-statement"))
        except VerificationError as exc:
            raise VerificationError(subject.name, exc.check, exc.reason) from None
        if self.channel is not None and not statements.in_channel(release.channel, self.channel):
            raise VerificationError(
                subject.name,
                "channel",
                f"an image of {release.product} {release.version} of channel {release.channel!r}; "
                f"--channel asked for {self.channel!r}",
            )
        if not any(f.sha256 == subject.hex and f.kind in IMAGE_KINDS for f in release.files.values()):
            raise VerificationError(
                subject.name,
                "release-statement",
                f"the signed statement of {release.product} {release.version} lists no image {subject.digest}",
            )
        if self.release is not None and self.release.version != release.version:
            raise VerificationError(subject.name, "release", f"an image of {release.version} in {self.release.version}")
        self.release = release
        return release

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
        manifest = self._image(subject, release)
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
    text: str,
    trust: Trust,
    policy_for: Callable[[str | None], Policy],
    *,
    channel: str | None,
    binary: bool,
    statement: bytes | None = None,
) -> list[Row]:
    """One row per subject: the image the reference names, then each platform image of an index. `statement`:
    the release statement's bundle as the release gives it (release.intoto.json.sigstore.json), used instead of
    any attached to the image."""

    def given(found: dict[str, list[bytes]]) -> dict[str, list[bytes]]:
        return {**found, "release-statement": [statement]} if statement is not None else found

    reference = oci.Reference.parse(text)
    registry = oci.Registry.of(reference)
    rows: list[Row] = []
    name = str(reference)
    try:
        top = fetched.fetch(registry, name, reference.reference, reference.digest)
        evidence, where = fetched.bundles(registry, top)
        evidence = given(evidence)
        policy = policy_for(channel or _channel_hint(evidence.get("release-statement", [])))
        verifier = ImageVerifier(registry, trust, policy, binary, channel)
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
            evidence = given(evidence)
            rows.append(Row(child, subject.media_type, tuple(verifier.check(subject, evidence, where, None))))
        except VerificationError as exc:
            rows.append(Row(child, oci.MANIFEST, (), exc.check, exc.reason))
    return rows
