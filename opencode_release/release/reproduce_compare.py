"""What `reproduce` compares: each file of a release against the one its rebuild made, and diffoscope on a mismatch.

The digest a rebuilt file must have is the one the signed release statement
lists for it (`release.intoto.json`, when the release has one; verify-release
checks that statement's signature), else the ledger's. A release artifact is
`matched` or `mismatched` when the rebuild made a file at its path; `missing`
when the rebuild should have made it and did not (also a failure);
`not-rebuilt` when its target does not build on this machine, or it covers
such a target; `not-compared` when its kind is not a build output that a
rebuild can make again (signatures, keys, provenance of the run), with why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..core.environment import minimal
from ..core.ledger import Artifact, ArtifactKind, Ledger
from ..core.names import RELEASE_STATEMENT_NAME

# What a rebuild makes again, by the stages that make it (in pipeline order, see reproduce.py).
STAGES_OF_KIND: dict[str, tuple[str, ...]] = {
    ArtifactKind.BINARY: ("build", "inspect"),
    ArtifactKind.ARCHIVE: ("package",),
    ArtifactKind.IMAGE_INDEX: ("image",),
    ArtifactKind.IMAGE_MANIFEST: ("image",),
    ArtifactKind.IMAGE_BLOB: ("image",),
    ArtifactKind.IMAGE_LAYOUT: ("image",),
    ArtifactKind.DEB: ("deb",),
    ArtifactKind.HOMEBREW_FORMULA: ("homebrew",),
    ArtifactKind.WINGET_MANIFEST: ("winget",),
    ArtifactKind.WHEEL: ("python-dists",),
    ArtifactKind.SDIST: ("python-dists",),
    ArtifactKind.CHECKSUMS: ("checksum",),
    ArtifactKind.SBOM: ("sbom",),
}
# The SBOM stage's unsigned statement of each SBOM (an attestation of this predicate) is rebuilt with it.
SBOM_PREDICATE = "https://cyclonedx.org/bom"


def stages_of(artifact: Artifact) -> tuple[str, ...]:
    """The stages that make this artifact again; () when a rebuild does not."""
    if artifact.kind == ArtifactKind.ATTESTATION and artifact.facts.get("predicate_type") == SBOM_PREDICATE:
        return ("sbom",)
    return STAGES_OF_KIND.get(artifact.kind, ())


# Files made from every target's artifacts: one target rebuilt alone cannot make them again.
OF_EVERY_TARGET = frozenset(
    {ArtifactKind.CHECKSUMS, ArtifactKind.HOMEBREW_FORMULA, ArtifactKind.WINGET_MANIFEST, ArtifactKind.IMAGE_INDEX}
)
_SIGNED_OR_KEYED = "evidence of the release run (signatures, keys, times, invocation): made anew, not rebuilt"
WHY_NOT_COMPARED: dict[str, str] = {
    ArtifactKind.BUILD_REPORT: "Nuitka's compilation report records the build's own paths and times; "
    "its compiler facts are compared under toolchain",
    ArtifactKind.PROVENANCE: _SIGNED_OR_KEYED,
    ArtifactKind.ATTESTATION: _SIGNED_OR_KEYED,
    ArtifactKind.INTOTO_LINK: _SIGNED_OR_KEYED,
    ArtifactKind.INTOTO_LAYOUT: _SIGNED_OR_KEYED,
    ArtifactKind.SIGSTORE_BUNDLE: _SIGNED_OR_KEYED,
    ArtifactKind.RELEASE_STATEMENT: _SIGNED_OR_KEYED,
    ArtifactKind.TRUST_ROOT: _SIGNED_OR_KEYED,
    ArtifactKind.APT_INDEX: "signed with the apt repository's key when the release is published",
    ArtifactKind.CHANNEL_METADATA: "channel metadata, not a build output",
    ArtifactKind.PROCUREMENT_PACKET: "a procurement packet, not a build output",
    ArtifactKind.IMAGE_LIBC: "the build runner's C library package, taken as installed; its files are the image's",
}
DIFF_LIMIT = 256 * 1024  # bytes of diffoscope text kept per file
DIFF_DEADLINE = 600  # seconds diffoscope may take over one pair


@dataclass(frozen=True, slots=True)
class Comparison:
    path: str
    kind: str
    target: str | None
    status: str  # matched, mismatched, missing, not-rebuilt, not-compared
    expected_sha256: str
    recorded_in: str  # "release statement" or "ledger"
    rebuilt_sha256: str = ""
    reason: str = ""
    diff: str = ""  # the diffoscope text's path, relative to the report folder

    @property
    def failed(self) -> bool:
        return self.status in ("mismatched", "missing")

    def to_json(self) -> dict[str, Any]:
        keys = ("path", "kind", "target", "status", "expected_sha256", "recorded_in", "rebuilt_sha256")
        document = {k: getattr(self, k) for k in keys}
        document.update({k: getattr(self, k) for k in ("reason", "diff") if getattr(self, k)})
        return document


def signed_digests(ledger: Ledger) -> dict[str, str]:
    """path -> sha256 as the release statement lists them (empty without a statement)."""
    path = ledger.root / RELEASE_STATEMENT_NAME
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        files = document["predicate"]["files"]
        return {str(f["path"]): str(f["sha256"]) for f in files if isinstance(f, dict)}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return {}


def compare(release: Ledger, rebuilt: Ledger, built_here: tuple[str, ...]) -> list[Comparison]:
    """Every artifact of the release, in ledger order, against the rebuild."""
    signed = signed_digests(release)
    made = {a.path: a for a in rebuilt.artifacts}
    targets = {a.target for a in release.artifacts if a.target}
    elsewhere = sorted(t for t in targets if t not in built_here)
    found: list[Comparison] = []
    for artifact in release.artifacts:
        expected = signed.get(artifact.path, artifact.sha256)
        where = "release statement" if artifact.path in signed else "ledger"
        twin = made.get(artifact.path)
        status, reason = "", ""
        if not stages_of(artifact):
            status = "not-compared"
            reason = WHY_NOT_COMPARED.get(artifact.kind, f"kind {artifact.kind}: not a build output a rebuild makes")
        elif artifact.target and artifact.target not in built_here:
            status, reason = "not-rebuilt", f"target {artifact.target} does not build on this machine"
        elif artifact.kind in OF_EVERY_TARGET and elsewhere:
            status = "not-rebuilt"
            reason = f"made from every target's files; {', '.join(elsewhere)} do not build on this machine"
        elif twin is None:
            status, reason = "missing", "the rebuild made no file at this path"
        else:
            status = "matched" if twin.sha256 == expected else "mismatched"
        found.append(
            Comparison(
                artifact.path,
                artifact.kind,
                artifact.target,
                status,
                expected,
                where,
                rebuilt_sha256=twin.sha256 if twin is not None and status in ("matched", "mismatched") else "",
                reason=reason,
            )
        )
    return found


def _diff_name(path: str) -> str:
    return path.replace("/", "__") + ".diffoscope.txt"


def diffoscope(released: Path, rebuilt: Path, out: Path) -> str:
    """Write diffoscope's text for one pair to `out` (cut at DIFF_LIMIT); returns a note when it could not."""
    tool = shutil.which("diffoscope")
    if tool is None:
        return "diffoscope is not installed (Debian package diffoscope-minimal; ./setup.sh installs it)"
    if not released.is_file():
        return f"{released}: the released file is not on disk; only its digests can be compared"
    command = [tool, "--no-progress", "--text", "-", "--text-color", "never", f"--max-text-report-size={DIFF_LIMIT}"]
    try:
        proc = subprocess.run(
            [*command, str(released), str(rebuilt)],
            capture_output=True,
            timeout=DIFF_DEADLINE,
            check=False,
            env=minimal(),
        )
    except subprocess.TimeoutExpired:
        return f"diffoscope took over {DIFF_DEADLINE} s on {released.name}; compare the files by hand"
    if proc.returncode not in (0, 1):
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        return f"diffoscope failed on {released.name} (exit {proc.returncode}): {last[:200]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(proc.stdout[:DIFF_LIMIT])
    return ""


def with_diffs(rows: list[Comparison], release: Ledger, rebuilt: Ledger, folder: Path) -> list[Comparison]:
    """Each mismatched row with its diffoscope text under `folder`/diffs/ (or the reason there is none)."""
    made = {a.path: a for a in rebuilt.artifacts}
    done: list[Comparison] = []
    for row in rows:
        if row.status != "mismatched":
            done.append(row)
            continue
        name = f"diffs/{_diff_name(row.path)}"
        note = diffoscope(release.root / row.path, rebuilt.file(made[row.path]), folder / name)
        done.append(replace(row, diff="" if note else name, reason=note or "digests differ; see the diff"))
    return done


def toolchain(release: Ledger, rebuilt: Ledger) -> list[dict[str, Any]]:
    """Per binary target: the compiler facts and build-environment lock the release recorded and the rebuild used."""
    rows: list[dict[str, Any]] = []
    rebuilt_binaries = {a.target: a for a in rebuilt.by_kind(ArtifactKind.BINARY) if a.target}
    for binary in release.by_kind(ArtifactKind.BINARY):
        twin = rebuilt_binaries.get(binary.target or "")
        if twin is None:
            continue
        for fact in ("nuitka_version", "python_version", "python_flavor", "c_compiler", "lock"):
            recorded, used = _fact(binary, fact), _fact(twin, fact)
            rows.append(
                {"target": binary.target, "fact": fact, "recorded": recorded, "rebuilt": used, "same": recorded == used}
            )
    return rows


def _fact(artifact: Artifact, name: str) -> str:
    if name == "lock":
        env = artifact.facts.get("build_environment")
        return str(env.get("requirements_sha256", "")) if isinstance(env, dict) else ""
    return str(artifact.facts.get(name, ""))
