"""What verify-image reads from a registry: manifests checked against their digests, the Sigstore bundles
attached to an image (referrers API, else the referrers tag schema), and the entrypoint binary of a layer.

Every failure is a VerificationError naming the check: `resolve`, `digest`, `bundle` (nothing attached, or a
referrer that is not one bundle about this image), `layer` (a blob whose bytes do not match its descriptor),
`binary` (no such file in the layers)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from typing import Any

from ..core import oci
from ..core.errors import VerificationError

EVIDENCE = "dev.opencode.release.evidence"
EVIDENCE_TYPES = (oci.SIGSTORE_BUNDLE, oci.IN_TOTO)
STATEMENT_PREFIX = "statement:"  # evidence that is an in-toto statement itself, bound by the signed release statement
MAX_BUNDLE_BYTES = 16 << 20
MAX_LAYER_BYTES = 2 << 30
IMAGE_TYPES = (oci.INDEX, oci.MANIFEST)


@dataclass(frozen=True, slots=True)
class Subject:
    """A manifest (index or platform image) as fetched, checked against its digest."""

    name: str
    digest: str
    media_type: str
    document: dict[str, Any]
    data: bytes

    @property
    def hex(self) -> str:
        return self.digest.split(":", 1)[1]


def _document(name: str, data: bytes) -> dict[str, Any]:
    try:
        return oci.parse_json(data, name)
    except oci.RegistryError as exc:
        raise VerificationError(name, "resolve", str(exc)) from None


def fetch(registry: oci.Registry, name: str, reference: str, expected: str | None) -> Subject:
    """The manifest `reference` names; `expected`: the digest it must have (a reference by digest, a descriptor)."""
    try:
        found = registry.get_manifest(reference)
    except oci.RegistryError as exc:
        raise VerificationError(name, "resolve", str(exc)) from None
    if found is None:
        raise VerificationError(name, "resolve", f"the registry has no manifest {reference}")
    if expected is not None and found.digest != expected:
        raise VerificationError(name, "digest", f"the manifest served has sha256 {found.digest}, not {expected}")
    if found.served_digest and found.served_digest != found.digest:
        raise VerificationError(
            name,
            "digest",
            f"the registry names it {found.served_digest} but its bytes hash to {found.digest}: "
            "the manifest was altered after it was pushed",
        )
    document = _document(name, found.data)
    media_type = str(document.get("mediaType") or found.media_type)
    if media_type not in IMAGE_TYPES:
        raise VerificationError(name, "resolve", f"{media_type!r} is not an OCI image index or manifest")
    return Subject(name, found.digest, media_type, document, found.data)


def _listed(registry: oci.Registry, subject: Subject) -> tuple[list[dict[str, Any]], str]:
    found = registry.referrers(subject.digest)
    if found is not None:
        return found, "the referrers API"
    tag = oci.fallback_tag(subject.digest)
    index = registry.get_manifest(tag)
    if index is None:
        return [], f"the referrers API (none) or tag {tag}"
    entries = _document(subject.name, index.data).get("manifests", [])
    return [e for e in entries if isinstance(e, dict)], f"tag {tag}"


def bundles(registry: oci.Registry, subject: Subject) -> tuple[dict[str, list[bytes]], str]:
    """The bundles attached to `subject`, by evidence (signature, sbom, provenance, release-statement; an attached
    in-toto statement under `statement:<evidence>`), and where they were."""
    try:
        entries, where = _listed(registry, subject)
        found: dict[str, list[bytes]] = {}
        for entry in entries:
            kind = entry.get("artifactType")
            if kind not in EVIDENCE_TYPES or not isinstance(entry.get("digest"), str):
                continue
            referrer = registry.get_manifest(entry["digest"])
            if referrer is None or referrer.digest != entry["digest"]:
                raise VerificationError(subject.name, "bundle", f"referrer {entry['digest']} is missing or altered")
            document = _document(subject.name, referrer.data)
            about = (document.get("subject") or {}).get("digest")
            layers = document.get("layers") or []
            if about != subject.digest:
                continue  # listed under this image, but about another: not its evidence
            if document.get("artifactType") != kind or len(layers) != 1 or layers[0].get("mediaType") != kind:
                raise VerificationError(subject.name, "bundle", f"referrer {entry['digest']} is not one {kind} layer")
            size = int(layers[0].get("size", 0))
            if size > MAX_BUNDLE_BYTES:
                raise VerificationError(subject.name, "bundle", f"referrer {entry['digest']}: layer of {size} bytes")
            evidence = str((document.get("annotations") or {}).get(EVIDENCE, "signature"))
            key = evidence if kind == oci.SIGSTORE_BUNDLE else STATEMENT_PREFIX + evidence
            found.setdefault(key, []).append(registry.get_blob(str(layers[0]["digest"]), size))
    except oci.RegistryError as exc:
        raise VerificationError(subject.name, "bundle", str(exc)) from None
    return found, where


def blob(registry: oci.Registry, name: str, descriptor: Any, check: str, limit: int) -> bytes:
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
        raise VerificationError(name, check, "a descriptor without a digest")
    size = int(descriptor.get("size", -1))
    if not 0 <= size <= limit:
        raise VerificationError(name, check, f"{descriptor['digest']}: size {size} out of bounds")
    try:
        return registry.get_blob(descriptor["digest"], size)
    except oci.RegistryError as exc:
        raise VerificationError(name, check, str(exc)) from None


def file_in_layer(name: str, layer: bytes, path: str) -> str | None:
    """sha256 of the regular file at `path` in a gzip tar layer; None when the layer lacks it."""
    wanted = path.lstrip("/")
    try:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer)), mode="r:") as tar:
            for member in tar:
                if member.name.lstrip("./") == wanted.lstrip("./"):
                    if not member.isreg():
                        raise VerificationError(name, "binary", f"{path} in the layer is not a regular file")
                    handle = tar.extractfile(member)
                    assert handle is not None
                    return hashlib.sha256(handle.read()).hexdigest()
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise VerificationError(name, "layer", f"not a gzip tar layer: {exc}") from None
    return None
