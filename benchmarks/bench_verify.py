"""verify-release on 1,000 signed artifacts, against sigstore-python's Verifier in a plain loop and the batched CLI.

Reproduce:  .venv/bin/python -m benchmarks.bench_verify [--artifacts 1000] [--repeat 3]

Setup (cached in benchmarks/results/verify-<N>/, not timed): a release of N
archives (16 KiB each), SHA256SUMS, an SBOM statement per archive and one
provenance over all of them, the release statement listing every file, all
signed by the embedded local Sigstore instance through the real
release-statement and sign stages.

Timed, in one run on the same files, best of --repeat:
- ours: `verify_release` with 2 worker processes (and 1, for the ratio), every
  check on every file: the release statement first, ledger, versions, folder
  coverage and paths, then per file its digest, SHA256SUMS, its bundle
  (sigstore-python's Verifier), provenance subject, SBOM statement;
- the library in-process: one sigstore-python `Verifier`, a plain loop over
  the same bundles (each archive's message signature and its SBOM statement's
  DSSE bundle, plus SHA256SUMS and the provenance), bundles parsed and files
  read and hashed in the loop, nothing else;
- the CLI batched: `sigstore verify identity --offline` given every archive in
  one invocation (bundles found beside them): one bundle per artifact, half the
  bundles the other two verify, so its rate is flattering.
Goals: >= 1,000 artifacts/s on 2 cores, >= 1.6x the in-process loop.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from opencode_release.attest.digests import sums_text
from opencode_release.attest.stages import ReleaseStatementStage, SignStage
from opencode_release.core import config
from opencode_release.core.formats import canonical_json
from opencode_release.core.ledger import ArtifactKind, Ledger, Source
from opencode_release.release import session
from opencode_release.verify import identity_policy
from opencode_release.verify.release import verify_release

RESULTS = Path(__file__).resolve().parent / "results"
IDENTITY, ISSUER = "release@opencode.local", "http://127.0.0.1/oidc"
BUILDER = "https://opencode.example.org/builders/local-snapshot@v1"
REPOSITORY = "https://github.com/opencode/opencode"
PYPROJECT = f"""[project]
name = "bench"
version = "1.4.0"
license = "MIT"
maintainers = [{{name = "Bench", email = "bench@example.org"}}]

[tool.opencode-release]
name = "opencode"
package = "src/x"
repository = "{REPOSITORY}"
dist-dir = "../dist"
state-dir = "../state"
"""


def _statement(subjects: list[tuple[str, str]], predicate_type: str, predicate: dict[str, object]) -> bytes:
    return canonical_json(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": predicate_type,
            "predicate": predicate,
            "subject": [{"name": n, "digest": {"sha256": d}} for n, d in subjects],
        }
    )


def build_release(count: int) -> Path:
    """The signed release of `count` archives; made once, then reused."""
    folder = RESULTS / f"verify-{count}-v2"
    root = folder / "dist" / "1.4.0"
    if (folder / "signed.ok").is_file():
        return root
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "product").mkdir(parents=True)
    (folder / "product" / "pyproject.toml").write_text(PYPROJECT)
    ledger = Ledger(
        root,
        product="opencode",
        version="1.4.0",
        channel="stable",
        source=Source(REPOSITORY, "a" * 40, "refs/tags/v1.4.0", 1767225600),
    )
    archives = []
    for i in range(count):
        path = root / f"opencode-1.4.0-part{i:04d}.tar.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(16 << 10))
        archives.append(ledger.record(path, ArtifactKind.ARCHIVE))
    (root / "SHA256SUMS").write_text(sums_text((a.path, a.sha256) for a in archives))
    ledger.record(
        root / "SHA256SUMS",
        ArtifactKind.CHECKSUMS,
        relations={"checksum_of": [a.id for a in archives]},
        facts={"algorithm": "sha256"},
    )
    for archive in archives:
        path = root / f"{archive.name}.sbom.intoto.json"
        path.write_bytes(
            _statement(
                [(archive.name, archive.sha256)],
                "https://cyclonedx.org/bom",
                {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1},
            )
        )
        ledger.record(path, ArtifactKind.ATTESTATION, relations={"attests": [archive.id]})
    predicate = {
        "buildDefinition": {
            "buildType": "https://opencode.example.org/release/v1",
            "externalParameters": {"repository": REPOSITORY, "ref": "refs/tags/v1.4.0"},
        },
        "runDetails": {"builder": {"id": BUILDER}},
    }
    (root / "provenance.intoto.json").write_bytes(
        _statement([(a.name, a.sha256) for a in archives], "https://slsa.dev/provenance/v1", predicate)
    )
    ledger.record(
        root / "provenance.intoto.json", ArtifactKind.PROVENANCE, relations={"provenance_of": [a.id for a in archives]}
    )
    ledger.save()
    started = time.perf_counter()
    session.run(
        config.load(folder / "product" / "pyproject.toml"),
        [ReleaseStatementStage(), SignStage()],
        session.Request(snapshot=True, quiet=True),
    )
    print(f"setup: signed {2 * count + 2} files in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    (folder / "signed.ok").write_text("ok")
    return root


def _trust(root: Path) -> tuple[identity_policy.Trust, identity_policy.Policy]:
    trusted = identity_policy.load_trusted_root("local", str(root / "sigstore-trusted-root.json"), None)
    return trusted, identity_policy.load_policy("local", None, {"source_ref": "refs/tags/v*"})


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_ours(root: Path, workers: int, repeat: int) -> dict[str, float]:
    trusted, policy = _trust(root)
    best = None
    for _ in range(repeat):
        before = _cpu()
        start = time.perf_counter()
        report = verify_release(root, trusted, policy, workers=workers)
        wall = time.perf_counter() - start
        cpu = _cpu() - before  # user + system, this process and its (joined) workers
        if not report.ok:
            raise SystemExit(f"verification failed: {report.first_failure()}")
        if best is None or wall < best["seconds"]:
            best = {"seconds": wall, "cpu_seconds": cpu, "rows": len(report.rows)}
    assert best is not None
    return best


def time_library_loop(root: Path, repeat: int) -> float:
    """sigstore-python's Verifier, in this process, in a plain loop over the same bundles."""
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy
    from sigstore_models.common.v1 import HashAlgorithm

    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(root / "sigstore-trusted-root.json")))
    identity = policy.Identity(identity=IDENTITY, issuer=ISSUER)
    archives = sorted(p.name for p in root.glob("*.tar.gz"))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for name in ["SHA256SUMS", *archives]:
            digest = hashlib.sha256((root / name).read_bytes()).digest()
            bundle = Bundle.from_json((root / f"{name}.sigstore.json").read_bytes())
            verifier.verify_artifact(Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest), bundle, identity)
        for name in ["provenance.intoto.json", *(f"{a}.sbom.intoto.json" for a in archives)]:
            bundle = Bundle.from_json((root / f"{name}.sigstore.json").read_bytes())
            _, payload = verifier.verify_dsse(bundle, identity)
            if payload != (root / name).read_bytes():
                raise SystemExit(f"{name}: payload differs")
        best = min(best, time.perf_counter() - start)
    return best


def time_cli_batched(root: Path) -> float:
    """`sigstore verify identity --offline` once, over every archive (bundles beside them)."""
    trust_config = root.parent.parent / "state" / "sigstore" / "trust_config.json"
    sigstore = Path(sys.executable).parent / "sigstore"
    names = sorted(str(p) for p in root.glob("*.tar.gz"))
    start = time.perf_counter()
    subprocess.run(
        [
            str(sigstore),
            "--trust-config",
            str(trust_config),
            "verify",
            "identity",
            "--offline",
            "--cert-identity",
            IDENTITY,
            "--cert-oidc-issuer",
            ISSUER,
            *names,
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--artifacts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = build_release(args.artifacts)
    one = time_ours(root, 1, args.repeat)
    two = time_ours(root, 2, args.repeat)
    loop = time_library_loop(root, args.repeat)
    cli = min(time_cli_batched(root) for _ in range(args.repeat))
    n = args.artifacts
    result = {
        "artifacts": n,
        "files_verified": two["rows"],
        "ours_2_workers": {
            **two,
            "artifacts_per_s": n / two["seconds"],
            "cores_busy": two["cpu_seconds"] / two["seconds"],
        },
        "ours_1_worker": {**one, "artifacts_per_s": n / one["seconds"]},
        "library_loop_in_process": {"seconds": loop, "artifacts_per_s": n / loop},
        "sigstore_cli_batched": {"seconds": cli, "artifacts_per_s": n / cli, "bundles_per_artifact": 1},
        "ratio_ours_2_workers_vs_loop": loop / two["seconds"],
        "goals": {
            "artifacts_per_s>=1000": n / two["seconds"] >= 1000,
            "ratio_vs_loop>=1.6": loop / two["seconds"] >= 1.6,
        },
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
