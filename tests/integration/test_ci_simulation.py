"""`ci --simulate`: the generated release and nightly workflows run by act on this machine.

Both runs go through the reusable build.yml (every target's build job: the host's compiled for
real through the `docker run` stand-in, the others fed the all-targets fixtures), the merge and the
attest job, whose provenance and release statement are signed by the embedded Sigstore (playing
public-good Sigstore, with GitHub's issuer) with the token the simulated runner grants the attest
job alone, then the publish job (verify against the signed statements, apt and TUF signed with the
environment's secrets, the GitHub Release). Each run ends with verify-release of the delivered
release under production's policy for its channel. The tag's release run restores the host build's
cache the nightly saved on main (a tag's run reads its own ref's and the default branch's caches).
Both push the musl images to the simulated ghcr.io (a Distribution registry kept between runs) and end
with verify-image of the pushed tag. Both publish to the channel bucket (channels.ci-storage), kept between runs in the simulation's
kept/ folder as a real bucket outlives runs: the release's publish reads the repository the nightly's made, keeps its root and signs the next versions; then the nightly
workflow's refresh schedule, started from the command line in another process, re-signs the
timestamp that is about to expire; last, the nightly workflow started for the quarter's procurement
packet builds it from the release folder the release's GitHub Release carries, signs, verifies and
publishes it under the LTS line.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]
from tuf.api.metadata import Metadata, Timestamp
from tuf.api.serialization.json import JSONSerializer

from opencode_release.channels.storage import FileStorage
from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release.ci_sim import secrets, simulate
from tests import ci_prebuilt
from tests.conftest import PRODUCT, REPO

pytestmark = pytest.mark.integration
BUILDER = "https://github.com/opencode/opencode/.github/workflows/build.yml@{ref}"


def _statement(bundle: Path) -> dict[str, Any]:
    data = json.loads(bundle.read_text().splitlines()[0])
    return dict(json.loads(base64.b64decode(data["dsseEnvelope"]["payload"])))


def _extensions(bundle: Path) -> dict[str, str]:
    """The signing certificate's Fulcio extensions (DER UTF8String values), by OID arc."""
    from cryptography import x509

    material = json.loads(bundle.read_text().splitlines()[0])["verificationMaterial"]
    cert = x509.load_der_x509_certificate(base64.b64decode(material["certificate"]["rawBytes"]))
    found = {}
    for extension in cert.extensions:
        oid = extension.oid.dotted_string
        if oid.startswith("1.3.6.1.4.1.57264.1.") and int(oid.rsplit(".", 1)[1]) >= 8:
            raw = extension.value.value
            skip = 2 + (raw[1] & 0x7F if raw[1] & 0x80 else 0)  # DER UTF8String: tag, length, text
            found[oid.rsplit(".", 1)[1]] = raw[skip:].decode()
    return found


def _host_build_lines(log: Path) -> list[str]:
    """The host build job's lines of the run, the attempt act hung in first when there was one (its cache
    misses and saves are the run's first)."""
    logs = [p for p in (log.with_name(simulate.STALLED_LOG), log) if p.is_file()]
    lines = [line for path in logs for line in path.read_text(errors="replace").splitlines()]
    return [line for line in lines if "build-linux-x86_64-gnu" in line]


def _image_tags(kept: Path) -> set[str]:
    """The tags of opencode/opencode in the simulated registry's storage (Distribution's filesystem layout)."""
    tags = kept / simulate.REGISTRY / "storage/docker/registry/v2/repositories/opencode/opencode/_manifests/tags"
    return {p.name for p in tags.iterdir()}


def _metadata(storage: FileStorage, key: str) -> Any:
    data = storage.read(key)
    assert data is not None, f"{storage.description}/{key}: missing"
    return Metadata.from_bytes(data)


def _expiring_timestamp(storage: FileStorage, kept: Path) -> int:
    """The store's timestamp re-signed (with the environment's timestamp key) to expire in a day: what a quiet
    week leaves; returns its version."""
    pem = json.loads((kept / secrets.SAVED).read_text())["TUF_TIMESTAMP_KEY"]
    timestamp: Metadata[Timestamp] = _metadata(storage, "metadata/timestamp.json")
    timestamp.signed.version += 1
    timestamp.signed.expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    timestamp.signatures.clear()
    timestamp.sign(CryptoSigner(load_pem_private_key(pem.encode(), None)))
    storage.write("metadata/timestamp.json", timestamp.to_bytes(JSONSerializer()))
    return int(timestamp.signed.version)


def test_nightly_then_release_build_merge_attest_and_publish_under_act(tmp_path: Path) -> None:
    settings = config.load(PRODUCT / "pyproject.toml")
    prebuilt = ci_prebuilt.lay_out(tmp_path / "prebuilt", settings.version)
    base = tmp_path / "sim"  # as `ci --simulate --folder base` lays it out
    kept = base / "kept"
    folder = base / "release"
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()

    # the nightly first, on main: its build misses the cache and saves it, for main's later runs and tags'
    nightly = simulate.simulate(settings, REPO, "nightly", base / "nightly", prebuilt, echo=False, kept=kept)
    assert set(nightly.jobs.values()) == {"succeeded"}, nightly.jobs
    assert "nightly release/publish" in nightly.jobs and nightly.verified > 20
    night = Ledger.load(nightly.delivered)
    assert night.channel == "nightly" and night.version.startswith("1.4.1-nightly.")
    statement = _statement(nightly.delivered / "provenance.intoto.json.sigstore.json")
    assert statement["predicate"]["runDetails"]["builder"]["id"] == BUILDER.format(ref="refs/heads/main")
    missed = "Cache not found for input keys: nuitka-linux-x86_64-gnu-"
    assert any(missed in line for line in _host_build_lines(nightly.log))
    # its publish job made the channel repository in the bucket (kept between runs), nothing in a folder
    assert not list((base / "nightly").rglob("1.root.json"))
    bucket, _, prefix = settings.ci_channel_store().removeprefix("s3://").partition("/")
    storage = FileStorage(kept / simulate.CHANNEL_STORE / bucket / prefix)
    root = storage.read("metadata/root.json")
    assert root is not None and root == storage.read("metadata/1.root.json")
    first = _metadata(storage, "metadata/timestamp.json").signed
    assert storage.read("nightly/index.json") is not None and storage.read("stable/index.json") is None
    # the nightly's images went to the simulated ghcr.io, tagged by version (`+` is no tag character) and channel
    assert nightly.image.startswith("127.0.0.1:") and "/opencode/opencode:1.4.1-nightly." in nightly.image
    assert "+" not in nightly.image and {"nightly", nightly.image.rsplit(":", 1)[1]} <= _image_tags(kept)

    # then the release, on its tag
    release = simulate.simulate(settings, REPO, "release", folder, prebuilt, echo=False, kept=kept)
    assert release.jobs and set(release.jobs.values()) == {"succeeded"}, release.jobs
    assert len([j for j in release.jobs if j.startswith("build/build/build-")]) == 8
    assert "release/publish" in release.jobs
    # the run ended with verify-release of the delivered release, under production's stable policy
    assert release.verified > 20
    delivered = release.delivered
    ledger = Ledger.load(delivered)
    assert (ledger.version, ledger.channel, ledger.source.commit) == ("1.4.0", "stable", commit)
    assert ledger.source.ref.endswith("v1.4.0")
    # the host binary: built in the "container", executable in the archive the merge made
    (host,) = ledger.by_kind(ArtifactKind.BINARY, target="linux-x86_64-gnu")
    assert not host.facts.get("prebuilt") and host.facts.get("simulated_runner")
    with tarfile.open(delivered / "opencode-1.4.0-linux-x86_64-gnu.tar.gz") as archive:
        assert {m.name.rsplit("/", 1)[-1]: m.mode for m in archive.getmembers() if m.isfile()}["opencode"] == 0o755
    # the provenance: signed for the reusable workflow at the tag, over every uploadable file
    statement = _statement(delivered / "provenance.intoto.json.sigstore.json")
    assert statement["predicate"]["runDetails"]["builder"]["id"] == BUILDER.format(ref="refs/tags/v1.4.0")
    assert statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["path"] == (
        ".github/workflows/release.yml"
    )
    # the certificate carries GitHub's claims as Fulcio maps them: the reusable workflow signed
    extensions = _extensions(delivered / "provenance.intoto.json.sigstore.json")
    assert extensions["9"] == BUILDER.format(ref="refs/tags/v1.4.0")  # Build Signer URI
    assert extensions["18"] == "https://github.com/opencode/opencode/.github/workflows/release.yml@refs/tags/v1.4.0"
    assert (extensions["11"], extensions["14"]) == ("github-hosted", "refs/tags/v1.4.0")
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    # what the merge job made (the attest job's statements and bundles were recorded after it)
    signed_after = (ArtifactKind.PROVENANCE, ArtifactKind.RELEASE_STATEMENT, ArtifactKind.SIGSTORE_BUNDLE)
    merged = {a.path: a.sha256 for a in ledger.uploadable() if a.kind not in signed_after}
    assert subjects == merged and "SHA256SUMS" in subjects
    # the images: each musl build job carried its own runner's musl (the aarch64 fixture is dynamic: musl for
    # arm64, which this machine's dpkg holds for the "arm runner"; the static x86_64 one needs none), the merge
    # built them, the attest job's provenance names them, and the publish job pushed them: verify-image --binary
    # of the pushed tag under the stable policy passed at the end of the run
    carried = ledger.by_kind(ArtifactKind.IMAGE_LIBC, target="linux-aarch64-musl")
    assert {a.facts["architecture"] for a in carried} == {"arm64"}, carried
    assert "/lib/ld-musl-aarch64.so.1" in {a.facts["path"] for a in carried}
    assert not ledger.by_kind(ArtifactKind.IMAGE_LIBC, target="linux-x86_64-musl")
    manifests = {m.target: m for m in ledger.by_kind(ArtifactKind.IMAGE_MANIFEST)}
    assert set(manifests) == {"linux-x86_64-musl", "linux-aarch64-musl"}
    assert manifests["linux-aarch64-musl"].facts["libc"]["architecture"] == "arm64"
    assert "libc" not in manifests["linux-x86_64-musl"].facts
    (index,) = ledger.by_kind(ArtifactKind.IMAGE_INDEX)
    assert {index.path, *(m.path for m in manifests.values())} <= set(subjects)
    assert release.image.startswith("127.0.0.1:") and release.image.endswith("/opencode/opencode:1.4.0")
    assert {"1.4.0", "1.4", "stable", "nightly"} <= _image_tags(kept)
    # the tag's run restores the cache main's nightly saved (GitHub scopes caches by ref: a tag's run reads
    # its own and the default branch's)
    assert any("Cache restored from key: nuitka-linux-x86_64-gnu-" in line for line in _host_build_lines(release.log))
    # the release statement, signed by the same reusable workflow, lists every file with its digest
    listed = _statement(delivered / "release.intoto.json.sigstore.json")
    assert (delivered / "release.intoto.json").read_bytes() == base64.b64decode(
        json.loads((delivered / "release.intoto.json.sigstore.json").read_text())["dsseEnvelope"]["payload"]
    )
    files = {f["path"]: f["sha256"] for f in listed["predicate"]["files"]}
    assert listed["predicate"]["signatures"] == "statement" and "provenance.intoto.json" in files
    assert merged.items() <= files.items()
    # the GitHub Release holds the deliverables and both signed statements
    github_release = kept / simulate.RELEASES / "v1.4.0"  # kept: GitHub Releases outlive the run
    assets = {p.name for p in github_release.iterdir()}
    assert {"SHA256SUMS", "release.intoto.json", "provenance.intoto.json.sigstore.json"} <= assets
    # and the release folder as it verified, ledger included: the quarterly packet restores it; packed before
    # the apt repository's indexes (signed later, by a key the signing jobs never see) joined it
    with tarfile.open(github_release / "release-folder-1.4.0.tar.gz") as packed:
        names = packed.getnames()
    assert "1.4.0/release-manifest.json" in names and "1.4.0/release.intoto.json" in names
    assert not any("/.work" in n for n in names) and not any("/manifests/apt/dists/" in n for n in names)
    assert "1.4.0/manifests/apt/pool/main/o/opencode/opencode_1.4.0_amd64.deb" in names  # the deb stage's, signed

    # the release's publish job read the repository from the store: the same root, the next versions
    assert storage.read("metadata/root.json") == root and storage.read("metadata/2.root.json") is None
    second = _metadata(storage, "metadata/timestamp.json").signed
    assert second.version > first.version and second.snapshot_meta.version > first.snapshot_meta.version
    assert storage.read("stable/index.json") is not None and storage.read("nightly/index.json") is not None

    # a quiet week later: the refresh schedule re-signs the timestamp before it expires; started from the
    # command line, in a process of its own, it finds the bucket, the secrets and the signing instance in kept/
    aged = _expiring_timestamp(storage, kept)
    command = [str(Path(sys.executable).with_name("opencode-release")), "ci", "--simulate", "--project", "product"]
    command += ["--workflow", "refresh", "--folder", str(base), "--json"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    refresh = json.loads(done.stdout)
    assert refresh["jobs"] == {"nightly release/refresh": "succeeded"}, refresh["jobs"]
    assert (refresh["delivered"], refresh["kept"]) == (str(base / "refresh"), str(kept))
    third = _metadata(storage, "metadata/timestamp.json").signed
    assert third.version == aged + 1 and third.expires > dt.datetime.now(dt.UTC) + dt.timedelta(days=6)
    assert storage.read("metadata/root.json") == root

    # the quarter's procurement packet, the nightly workflow started by hand for it (its dispatch input):
    # the procurement job restores 1.4.0's folder from its GitHub Release, verifies it against the instance
    # that signed it, rebuilds it from its commit; procurement-sign signs; procurement-publish verifies, publishes
    quarterly = simulate.simulate(settings, REPO, "quarterly", base / "quarterly", None, echo=False, kept=kept)
    jobs = ("procurement", "procurement-sign", "procurement-publish")
    assert quarterly.jobs == {f"nightly release/{n}": "succeeded" for n in jobs}, quarterly.jobs
    assert quarterly.verified == 2  # the zip and the manifest (and the folder it lists), under `procurement`
    packet = quarterly.delivered
    quarter = packet.name
    scope = json.loads((packet / "scope.json").read_text())
    assert [(r["version"], r["verified"]) for r in scope["releases"]] == [("1.4.0", True)], scope["releases"]
    verified = json.loads((packet / "releases/1.4.0/verify-release.json").read_text())
    assert verified["ok"] is True and len(verified["artifacts"]) == release.verified
    # rebuilt in the job from the recorded commit (the checkout, owned by the runner's user, cloned by the
    # job); what differs from the containerised release build is recorded with its diff, not hidden
    (rebuilt,) = json.loads((packet / "reproducibility/summary.json").read_text())["releases"]
    assert rebuilt["reproduced"] is True and rebuilt["commit"] == commit, rebuilt
    assert rebuilt["counts"]["matched"] > 0, rebuilt
    rows = json.loads((packet / "reproducibility/1.4.0/reproduce.json").read_text())["artifacts"]
    differing = [r["path"].replace("/", "__") for r in rows if r["status"] == "mismatched"]
    diffs = {p.name for p in (packet / "reproducibility/1.4.0/diffs").glob("*.diffoscope.txt")}
    assert differing and {f"{d}.diffoscope.txt" for d in differing} <= diffs, (differing, diffs)
    bundle = packet.parent / f"{quarter}.zip.sigstore.json"
    signed = _statement(bundle)
    assert {s["name"] for s in signed["subject"]} == {f"{quarter}.zip", f"{quarter}/packet-manifest.json"}
    nightly_yml = "https://github.com/opencode/opencode/.github/workflows/nightly.yml@refs/heads/main"
    assert _extensions(bundle)["9"] == nightly_yml
    published = [k for k in storage.keys("targets") if f"/lts/1.4/procurement/{quarter}/" in f"/{k}"]
    assert any(k.endswith(f".{quarter}.zip") for k in published), published
