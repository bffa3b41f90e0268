"""actions/attest v4.1.0, as documented, signing with the simulation's embedded Sigstore.

Modes (README "Attestation Modes"): provenance when no predicate or sbom-path is given (the SLSA v1
predicate of @actions/attest's buildSLSAProvenancePredicate, built from the OIDC token's claims:
builder.id = server/job_workflow_ref), SBOM with sbom-path (CycloneDX -> https://cyclonedx.org/bom),
custom with predicate-type + predicate/predicate-path. Subjects from exactly one of subject-path (globs,
lines or commas), subject-digest + subject-name, subject-checksums (sha256sum lines, an optional '*'
before the name). Without ACTIONS_ID_TOKEN_REQUEST_URL it fails as the action does.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from _common import fail, get_input, set_output

PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
CYCLONEDX = "https://cyclonedx.org/bom"


def id_token(audience: str) -> str:
    url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    if not url:
        fail('missing "id-token" permission. Please add "permissions: id-token: write" to your workflow.')
    request = urllib.request.Request(
        f"{url}&audience={urllib.parse.quote(audience)}",
        headers={"Authorization": f"bearer {os.environ.get('ACTIONS_ID_TOKEN_REQUEST_TOKEN', '')}"},
    )
    with urllib.request.urlopen(request) as answer:
        return str(json.load(answer)["value"])


def claims_of(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def subjects() -> list[tuple[str, str]]:
    given = [n for n in ("subject-path", "subject-digest", "subject-checksums") if get_input(n)]
    if len(given) != 1:
        fail(
            "One of subject-path, subject-digest, or subject-checksums must be provided"
            if not given
            else "Only one of subject-path, subject-digest, or subject-checksums may be provided"
        )
    if get_input("subject-digest"):
        algorithm, _, value = get_input("subject-digest").partition(":")
        if algorithm != "sha256" or len(value) != 64:
            fail(f"subject-digest must be in the format sha256:<hex>: {get_input('subject-digest')}")
        return [(get_input("subject-name"), value)]
    if get_input("subject-checksums"):
        found = []
        for line in Path(get_input("subject-checksums")).read_text(encoding="utf-8").splitlines():
            if line.strip():
                digest, _, name = line.strip().partition(" ")
                found.append((name.strip().lstrip("*"), digest))
        return found
    patterns = [p.strip() for line in get_input("subject-path").splitlines() for p in line.split(",") if p.strip()]
    files = sorted({Path(m) for p in patterns for m in glob.glob(p) if Path(m).is_file()})
    if not files:
        fail(f"Could not find subject at path {get_input('subject-path')}")
    return [(f.name, sha256_of(f)) for f in files]


def predicate(claims: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if get_input("sbom-path"):
        return CYCLONEDX, json.loads(Path(get_input("sbom-path")).read_text(encoding="utf-8"))
    if get_input("predicate-type"):
        text = get_input("predicate") or Path(get_input("predicate-path")).read_text(encoding="utf-8")
        return get_input("predicate-type"), json.loads(text)
    server = os.environ["GITHUB_SERVER_URL"]
    workflow_ref = str(claims["workflow_ref"])
    path_start, ref_start = workflow_ref.index("/.github/"), workflow_ref.rindex("@")
    return PROVENANCE, {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "workflow": {
                    "ref": workflow_ref[ref_start + 1 :],
                    "repository": f"{server}/{workflow_ref[:path_start]}",
                    "path": workflow_ref[path_start + 1 : ref_start],
                }
            },
            "internalParameters": {
                "github": {
                    key: claims[key]
                    for key in ("event_name", "repository_id", "repository_owner_id", "runner_environment")
                }
            },
            "resolvedDependencies": [
                {"uri": f"git+{server}/{claims['repository']}@{claims['ref']}", "digest": {"gitCommit": claims["sha"]}}
            ],
        },
        "runDetails": {
            "builder": {"id": f"{server}/{claims['job_workflow_ref']}"},
            "metadata": {
                "invocationId": f"{server}/{claims['repository']}/actions/runs/{claims['run_id']}"
                f"/attempts/{claims['run_attempt']}"
            },
        },
    }


def main() -> None:
    token = id_token("sigstore")
    from sigstore import dsse
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    predicate_type, body = predicate(claims_of(token))
    named = subjects()
    statement = (
        dsse.StatementBuilder()
        .subjects([dsse.Subject(name=name, digest=dsse.DigestSet(root={"sha256": digest})) for name, digest in named])
        .predicate_type(predicate_type)
        .predicate(body)
        .build()
    )
    trust = ClientTrustConfig.from_json(
        Path(os.environ["OPENCODE_SIM_SIGSTORE_TRUST_CONFIG"]).read_text(encoding="utf-8")
    )
    with SigningContext.from_trust_config(trust).signer(IdentityToken(token)) as signer:
        bundle = signer.sign_dsse(statement)
    folder = Path(tempfile.mkdtemp(dir=os.environ["RUNNER_TEMP"]))
    out = folder / "attestation.json"
    with out.open("a", encoding="utf-8") as handle:
        handle.write(bundle.to_json() + "\n")
    set_output(bundle_path=str(out))
    print(f"attested {predicate_type} for {len(named)} subjects: {out}")


if __name__ == "__main__":
    if sys.argv[1] == "main":
        main()
