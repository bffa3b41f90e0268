"""Artifact, ArtifactKind and Ledger: the release manifest.

The ledger (`dist/<version>/release-manifest.json`) is the only channel
between areas: a stage finds what earlier stages made here, by kind and by id,
and appends what it makes. Kinds are a closed list for writers and an open one
for readers: an unknown kind (from a newer writer) survives a round trip, as do
unknown fields on records.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import LedgerError
from .fsio import check_relative, inside, write_atomic

SCHEMA_VERSION = 1
MANIFEST_NAME = "release-manifest.json"
_CHUNK = 1 << 20


class ArtifactKind(enum.StrEnum):
    BINARY = "binary"
    ARCHIVE = "archive"
    CHECKSUMS = "checksums"
    BUILD_REPORT = "build-report"
    SBOM = "sbom"
    PROVENANCE = "provenance"
    ATTESTATION = "attestation"
    INTOTO_LINK = "intoto-link"
    INTOTO_LAYOUT = "intoto-layout"
    SIGSTORE_BUNDLE = "sigstore-bundle"
    TRUST_ROOT = "trust-root"
    DEB = "deb"
    HOMEBREW_FORMULA = "homebrew-formula"
    WINGET_MANIFEST = "winget-manifest"
    APT_INDEX = "apt-index"
    WHEEL = "wheel"
    SDIST = "sdist"
    CHANNEL_METADATA = "channel-metadata"
    PROCUREMENT_PACKET = "procurement-packet"
    RELEASE_STATEMENT = "release-statement"
    # An OCI image (images/): the multi-platform index, each platform's manifest (signed, listed),
    # and the layout's other files (config and layer blobs, oci-layout, index.json: listed).
    IMAGE_INDEX = "oci-image-index"
    IMAGE_MANIFEST = "oci-image-manifest"
    IMAGE_BLOB = "oci-blob"
    IMAGE_LAYOUT = "oci-layout"
    # The C library an image target's build job took from its own runner for the image (images/carried_libc.py).
    IMAGE_LIBC = "image-libc"


# What leaves the building: published, checksummed, signed. A new kind spreads
# to every publisher by being listed here, never by a publisher globbing dist/.
UPLOADABLE: frozenset[str] = frozenset(
    {
        ArtifactKind.ARCHIVE,
        ArtifactKind.CHECKSUMS,
        ArtifactKind.SBOM,
        ArtifactKind.PROVENANCE,
        ArtifactKind.ATTESTATION,
        ArtifactKind.INTOTO_LINK,
        ArtifactKind.INTOTO_LAYOUT,
        ArtifactKind.SIGSTORE_BUNDLE,
        ArtifactKind.TRUST_ROOT,
        ArtifactKind.DEB,
        # The apt repository's indexes and key: published with the pool, and
        # provenance subjects like every other manifest.
        ArtifactKind.APT_INDEX,
        ArtifactKind.HOMEBREW_FORMULA,
        ArtifactKind.WINGET_MANIFEST,
        ArtifactKind.WHEEL,
        ArtifactKind.SDIST,
        # Lists (and so signs) every file of the release; verifiers start from it.
        ArtifactKind.RELEASE_STATEMENT,
        # The image index and manifests: their bytes are the image digests a registry serves.
        ArtifactKind.IMAGE_INDEX,
        ArtifactKind.IMAGE_MANIFEST,
        # The quarterly packet's manifest and zip (release/packet_signing.py), signed like a release's files.
        ArtifactKind.PROCUREMENT_PACKET,
    }
)

# What SHA256SUMS/SHA512SUMS cover: the deliverables a user downloads and installs.
SUMMED_KINDS = (ArtifactKind.ARCHIVE, ArtifactKind.DEB, ArtifactKind.WHEEL, ArtifactKind.SDIST)

_KNOWN_FIELDS = ("id", "kind", "path", "target", "size", "sha256", "relations", "facts")


@dataclass(frozen=True, slots=True)
class Artifact:
    id: str
    kind: str
    path: str  # relative to the manifest's folder, POSIX separators
    target: str | None
    size: int
    sha256: str
    # e.g. {"checksum_of": ("archive:…", …), "sbom_of": ("binary:…",)}
    relations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Recorded facts (binary inspection, signing identity, …): JSON values.
    facts: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def make_id(kind: str, path: str) -> str:
        return f"{kind}:{path}"

    @property
    def known_kind(self) -> ArtifactKind | None:
        try:
            return ArtifactKind(self.kind)
        except ValueError:
            return None

    @property
    def uploadable(self) -> bool:
        return self.kind in UPLOADABLE

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def related(self, relation: str) -> tuple[str, ...]:
        return tuple(self.relations.get(relation, ()))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            id=self.id,
            kind=self.kind,
            path=self.path,
            target=self.target,
            size=self.size,
            sha256=self.sha256,
        )
        if self.relations:
            data["relations"] = {k: list(v) for k, v in sorted(self.relations.items())}
        if self.facts:
            data["facts"] = dict(self.facts)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> Artifact:
        try:
            # A path from data: a build job's partial ledger or a tampered manifest must not
            # make a later copy, publish or delete reach outside the release folder.
            path = check_relative(data["path"], source=f"{where}: artifact {data.get('id')!r}")
            return cls(
                id=str(data["id"]),
                kind=str(data["kind"]),
                path=path,
                target=None if data.get("target") is None else str(data["target"]),
                size=int(data["size"]),
                sha256=str(data["sha256"]),
                relations={k: tuple(v) for k, v in dict(data.get("relations", {})).items()},
                facts=dict(data.get("facts", {})),
                extra={k: v for k, v in data.items() if k not in _KNOWN_FIELDS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(f"{where}: malformed artifact record {dict(data)!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Source:
    repository: str
    commit: str
    ref: str
    # SOURCE_DATE_EPOCH: every embedded time comes from here.
    epoch: int


@dataclass(frozen=True, slots=True)
class StageRecord:
    """What a finished stage produced, and over which inputs, for resuming."""

    name: str
    inputs: str  # sha256 over the digests of what the stage consumed
    outputs: tuple[str, ...]


def file_digest(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, streamed."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class Ledger:
    """The release manifest in memory; `save()` writes it atomically."""

    def __init__(
        self,
        root: Path,
        *,
        product: str,
        version: str,
        channel: str,
        source: Source,
        artifacts: Iterable[Artifact] = (),
        stages: Iterable[StageRecord] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.product = product
        self.version = version
        self.channel = channel
        self.source = source
        self._artifacts: dict[str, Artifact] = {a.id: a for a in artifacts}
        self._stages: dict[str, StageRecord] = {s.name: s for s in stages}
        self.extra: dict[str, Any] = dict(extra or {})

    # -- reading --------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        return tuple(self._artifacts.values())

    def __iter__(self) -> Iterator[Artifact]:
        return iter(self.artifacts)

    def __contains__(self, artifact_id: object) -> bool:
        return artifact_id in self._artifacts

    def get(self, artifact_id: str) -> Artifact:
        try:
            return self._artifacts[artifact_id]
        except KeyError:
            raise LedgerError(f"{self.path}: no artifact with id {artifact_id!r}") from None

    def by_kind(self, kind: str, target: str | None = None) -> tuple[Artifact, ...]:
        return tuple(a for a in self._artifacts.values() if a.kind == kind and (target is None or a.target == target))

    def uploadable(self) -> tuple[Artifact, ...]:
        return tuple(a for a in self._artifacts.values() if a.uploadable)

    def file(self, artifact: Artifact) -> Path:
        """The artifact's file: inside the release folder, never through a symlink (the path rule)."""
        return inside(self.root, artifact.path, source=f"{self.path}: artifact {artifact.id}")

    def stage(self, name: str) -> StageRecord | None:
        return self._stages.get(name)

    @property
    def stages(self) -> tuple[StageRecord, ...]:
        return tuple(self._stages.values())

    def verify_file(self, artifact: Artifact) -> bool:
        """True when the file on disk still has the recorded size and digest."""
        path = self.file(artifact)
        if not path.is_file():
            return False
        size, sha = file_digest(path)
        return size == artifact.size and sha == artifact.sha256

    # -- writing --------------------------------------------------------
    def add(self, artifact: Artifact) -> Artifact:
        self._artifacts[artifact.id] = artifact
        return artifact

    def remove(self, artifact_id: str) -> None:
        self._artifacts.pop(artifact_id, None)

    def record(
        self,
        path: Path,
        kind: str,
        *,
        target: str | None = None,
        relations: Mapping[str, Iterable[str]] | None = None,
        facts: Mapping[str, Any] | None = None,
        artifact_id: str | None = None,
    ) -> Artifact:
        """Digest a file under the release folder and add it to the ledger."""
        try:
            relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            raise LedgerError(f"{path}: outside the release folder {self.root}") from None
        size, sha = file_digest(path)
        return self.add(
            Artifact(
                id=artifact_id or Artifact.make_id(kind, relative),
                kind=kind,
                path=relative,
                target=target,
                size=size,
                sha256=sha,
                relations={k: tuple(v) for k, v in (relations or {}).items()},
                facts=dict(facts or {}),
            )
        )

    def update_facts(self, artifact_id: str, facts: Mapping[str, Any]) -> Artifact:
        current = self.get(artifact_id)
        return self.add(replace(current, facts={**current.facts, **facts}))

    def finish_stage(self, record: StageRecord) -> None:
        self._stages[record.name] = record

    def forget_stage(self, name: str) -> None:
        self._stages.pop(name, None)

    # -- persistence ----------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            schema_version=SCHEMA_VERSION,
            product=self.product,
            version=self.version,
            channel=self.channel,
            source={
                "repository": self.source.repository,
                "commit": self.source.commit,
                "ref": self.source.ref,
                "source_date_epoch": self.source.epoch,
            },
            artifacts=[a.to_json() for a in sorted(self._artifacts.values(), key=lambda a: a.id)],
            stages=[{"name": s.name, "inputs": s.inputs, "outputs": list(s.outputs)} for s in self._stages.values()],
        )
        return data

    def save(self) -> Path:
        text = json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        write_atomic(self.path, text.encode())
        return self.path

    @classmethod
    def load(cls, path: Path) -> Ledger:
        """Load a manifest; `path` is the manifest file or its folder."""
        if path.is_dir():
            path = path / MANIFEST_NAME
        if not path.is_file():
            raise LedgerError(f"{path}: no release manifest; run `invoke release --snapshot` first")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: bad JSON, and bytes that are not UTF-8
            raise LedgerError(f"{path}: not a readable release manifest: {exc}") from exc
        return cls.from_json(path.parent, data, str(path))

    @classmethod
    def from_json(cls, root: Path, data: Mapping[str, Any], where: str) -> Ledger:
        if not isinstance(data, Mapping):
            raise LedgerError(f"{where}: expected a JSON object")
        schema = data.get("schema_version")
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise LedgerError(
                f"{where}: schema_version {schema!r} is not supported (this reader knows "
                f"<= {SCHEMA_VERSION}); upgrade opencode-release"
            )
        try:
            src = data["source"]
            source = Source(
                repository=str(src["repository"]),
                commit=str(src["commit"]),
                ref=str(src["ref"]),
                epoch=int(src["source_date_epoch"]),
            )
            stages = [
                StageRecord(str(s["name"]), str(s["inputs"]), tuple(s["outputs"])) for s in data.get("stages", [])
            ]
            known = {"schema_version", "product", "version", "channel", "source", "artifacts", "stages"}
            return cls(
                root,
                product=str(data["product"]),
                version=str(data["version"]),
                channel=str(data["channel"]),
                source=source,
                artifacts=[Artifact.from_json(a, where) for a in data["artifacts"]],
                stages=stages,
                extra={k: v for k, v in data.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(f"{where}: malformed release manifest: missing or bad {exc}") from exc
