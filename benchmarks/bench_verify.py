"""verify-release throughput on 1,000 signed artifacts vs the `sigstore verify` CLI once per artifact.

Reproduce:  .venv/bin/python -m benchmarks.bench_verify [--artifacts 1000] [--cli-sample 20] [--repeat 3]

Setup (cached in benchmarks/results/verify-<N>/, not timed): a release of N
archives (16 KiB each), SHA256SUMS, an SBOM statement per archive and one
provenance over all of them, every file signed by the embedded local Sigstore
instance through the real sign stage (sigstore-python client, each bundle
verified after signing). Timed: `verify_release` with every check on every
artifact (digest, bundle: certificate chain, SCT, identity, issuer, log key,
SET, inclusion proof, checkpoint, signature, log entry; DSSE payload;
provenance subject; SBOM statement), with 1 and with 2 worker processes,
best of --repeat; CPU time of all processes shows both cores at work.
Baseline: `sigstore --trust-config F verify identity --offline` once per
artifact on a sample, extrapolated to N. Goals: >= 1,000 artifacts/s on 2
cores, >= 50x the CLI. Then a profile of a 1-worker run says where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from opencode_release.attest.digests import sums_text
from opencode_release.attest.stages import SignStage
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
    folder = RESULTS / f"verify-{count}"
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
        config.load(folder / "product" / "pyproject.toml"), [SignStage()], session.Request(snapshot=True, quiet=True)
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


def time_cli(root: Path, sample: int) -> float:
    trust_config = root.parent.parent / "state" / "sigstore" / "trust_config.json"
    sigstore = Path(sys.executable).parent / "sigstore"
    names = sorted(p.name for p in root.glob("*.tar.gz"))[:sample]
    start = time.perf_counter()
    for name in names:
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
                "--bundle",
                str(root / f"{name}.sigstore.json"),
                str(root / name),
            ],
            check=True,
            capture_output=True,
        )
    return (time.perf_counter() - start) / len(names)


def profile(root: Path) -> dict[str, object]:
    trusted, policy = _trust(root)
    profiler = cProfile.Profile(time.process_time)  # CPU time: other load on the machine does not count
    profiler.enable()
    verify_release(root, trusted, policy, workers=1)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    phases = {
        "ecdsa verify (signature, SET; checkpoint once)": ("verify' of 'cryptography",),
        "sha256 (artifacts, payloads, Merkle path)": ("openssl_sha256", "hashlib"),
        "json parsing (bundles, log entries, statements)": ("json/", "raw_decode"),
        "file reads": ("read' of", "io.open", "_read"),
        "base64": ("a2b_base64", "b64decode", "_b64"),
        "certificate chain + SCT (once per certificate)": ("_certificate", "verify_certificate_chain"),
    }
    spent: dict[str, float] = dict.fromkeys(phases, 0.0)
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        label = f"{filename}:{function}"
        for phase, needles in phases.items():
            if any(n in label for n in needles):
                spent[phase] += row[2] if "certificate" not in phase else row[3]
                break
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(10)
    return {
        "cpu_seconds": round(total, 3),
        "share": {k: f"{100 * v / total:.0f}%" for k, v in spent.items()},
        "top_by_tottime": [line for line in out.getvalue().splitlines() if line.strip()][-11:],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--artifacts", type=int, default=1000)
    parser.add_argument("--cli-sample", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = build_release(args.artifacts)
    one = time_ours(root, 1, args.repeat)
    two = time_ours(root, 2, args.repeat)
    cli = time_cli(root, args.cli_sample)
    result = {
        "artifacts": args.artifacts,
        "files_verified": two["rows"],
        "one_worker": {
            **one,
            "artifacts_per_s": args.artifacts / one["seconds"],
            "artifacts_per_cpu_s": args.artifacts / one["cpu_seconds"],
        },
        "two_workers": {
            **two,
            "artifacts_per_s": args.artifacts / two["seconds"],
            "cores_busy": two["cpu_seconds"] / two["seconds"],
        },
        "sigstore_cli_s_per_artifact": cli,
        "sigstore_cli_extrapolated_s": cli * args.artifacts,
        "speedup_vs_cli": cli * args.artifacts / two["seconds"],
        "goals": {
            "artifacts_per_s>=1000": args.artifacts / two["seconds"] >= 1000,
            "speedup>=50": cli * args.artifacts / two["seconds"] >= 50,
        },
        "loadavg": os.getloadavg(),
        "profile_1_worker_cpu": profile(root),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
