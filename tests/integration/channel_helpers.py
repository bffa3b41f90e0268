"""Helpers for the channel tests: small ledgers, a local HTTP server, repository checks."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from tuf.api.metadata import Metadata, Snapshot, Targets, Timestamp

from opencode_release.channels.keys import Keyring
from opencode_release.channels.publisher import Repository, Retention
from opencode_release.channels.storage import LOCK_NAME, FileStorage, Storage
from opencode_release.channels.tuf_repo import target_key
from opencode_release.core.config_channels import ChannelSettings
from opencode_release.core.ledger import ArtifactKind, Ledger, Source

# Metadata expiry is checked by clients against the real clock: publish "now".
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TARGET = "linux-x86_64-gnu"


def make_ledger(dist: Path, version: str, payload: bytes, channel: str = "stable") -> Ledger:
    """A release with an archive, its SBOM, a deep winget manifest and SHA256SUMS, as the pipeline records them."""
    root = dist / version
    root.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(
        root,
        product="opencode",
        version=version,
        channel=channel,
        source=Source("https://example.org/opencode", "c" * 40, "", 1767225600),
    )
    archive = root / f"opencode-{version}-{TARGET}.tar.gz"
    archive.write_bytes(payload)
    made = ledger.record(archive, ArtifactKind.ARCHIVE, target=TARGET)
    sbom = root / f"{archive.name}.cdx.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "subject": archive.name}))
    ledger.record(sbom, ArtifactKind.SBOM, target=TARGET, relations={"sbom_of": [made.id]})
    manifest = root / "manifests/winget/manifests/o/OpenCode/OpenCode" / version / "OpenCode.OpenCode.yaml"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(f"winget: {version}\n")
    ledger.record(manifest, ArtifactKind.WINGET_MANIFEST, relations={"manifest_of": [made.id]})
    sums = root / "SHA256SUMS"
    sums.write_text(f"{hashlib.sha256(payload).hexdigest()}  {archive.name}\n")
    ledger.record(sums, ArtifactKind.CHECKSUMS, relations={"checksum_of": [made.id]})
    ledger.save()
    return ledger


def repository(
    public: Path,
    keys: Path,
    *,
    now: dt.datetime = NOW,
    keep: int = 30,
    evidence_days: int = 730,
    storage: Storage | None = None,
    lock_timeout: float = 30.0,
    bits: int = 4,
) -> Repository:
    settings = ChannelSettings(lock_timeout_seconds=lock_timeout, hash_bin_bits=bits)
    return Repository(
        storage or FileStorage(public),
        Keyring(keys, generate=True),
        settings,
        product="opencode",
        now=now,
        retention=Retention(keep, evidence_days),
    )


def tree(root: Path) -> dict[str, str]:
    """Every file of a repository with its sha256 (the lock file is the lock's, not content)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


def assert_consistent(public: Path) -> None:
    """Everything the current timestamp reaches exists, with the hash the metadata records."""
    timestamp = Metadata[Timestamp].from_bytes((public / "metadata/timestamp.json").read_bytes())
    snapshot = Metadata[Snapshot].from_bytes(
        (public / f"metadata/{timestamp.signed.snapshot_meta.version}.snapshot.json").read_bytes()
    )
    for name, meta in snapshot.signed.meta.items():
        role = Metadata[Targets].from_bytes((public / f"metadata/{meta.version}.{name}").read_bytes())
        assert role.signed.version == meta.version
        for path, info in role.signed.targets.items():
            stored = public / target_key(path, info.hashes["sha256"])
            assert stored.is_file(), f"{name} names {path}, missing at {stored}"
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == info.hashes["sha256"]


@contextlib.contextmanager
def serving(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (ephemeral port) answering with `handler`; stops with the block."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """A static HTTP server on 127.0.0.1 (ephemeral port) for `folder`; stops with the block."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(functools.partial(Quiet, directory=str(folder))) as url:
        yield url
