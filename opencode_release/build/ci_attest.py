"""CI's attest job: the platform side of the release, which signs and runs no project code.

It checks out nothing and installs nothing: it downloads the merged release, checks every file
against the digests the merge job published, and signs two statements with the pinned
`actions/attest`, whose certificate names the reusable build.yml (docs/slsa.md):

1. the SLSA provenance over every uploadable file (GitHub's build type, provenance mode);
2. the release statement (verify/release_statement.py): the merge job's predicate, which lists
   every file of the release with its ledger record, plus the provenance this job just made, with
   `signatures: statement` (each listed file is bound by its digest in this signed statement;
   only the provenance carries a bundle of its own).

Each statement is kept as the DSSE payload of its bundle (`jq` and `base64` only), so the files
the publish job records are byte for byte what was signed. The shell uses only what a GitHub-hosted
Ubuntu runner has: sha256sum, stat, jq, base64.
"""

from __future__ import annotations

from typing import Any

from ..core.names import BUNDLE_SUFFIX as BUNDLE
from ..core.names import PROVENANCE_NAME, RELEASE_PREDICATE, RELEASE_STATEMENT_NAME
from . import ci_pins
from .ci_jobs import HOST_RUNNER, VERSION_ENV, download, run, upload

_CHECK = (
    "printf '%s' \"$SUBJECTS\" | base64 -d > subjects.sha256\n"
    "printf '%s' \"$PREDICATE\" | base64 -d > merged-predicate.json\n"
    "# every file the predicate lists, and every subject, is one this job received, with that digest\n"
    "jq -r '.files[] | \"\\(.sha256)  \\(.path)\"' merged-predicate.json > listed.sha256\n"
    'cd "release/$VERSION"\n'
    "sha256sum --strict --check --quiet ../../subjects.sha256 ../../listed.sha256\n"
    "# the subjects' digests, computed here from the files this job received\n"
    "awk '{print $2}' ../../subjects.sha256 | xargs sha256sum > ../../provenance.sha256\n"
)


def _keep(name: str) -> str:
    """The bundle beside the statement it signs, and the statement as the bundle's payload."""
    return (
        "mkdir -p attested\n"
        f'cp "$BUNDLE" "attested/{name}{BUNDLE}"\n'
        f"jq -r .dsseEnvelope.payload \"$BUNDLE\" | base64 -d > 'attested/{name}'\n"
    )


# The release predicate: the merge job's list, plus the provenance, in path order.
_RELEASE_SUBJECTS = (
    f"size=$(stat -c %s 'attested/{PROVENANCE_NAME}')\n"
    f"digest=$(sha256sum 'attested/{PROVENANCE_NAME}' | cut -d' ' -f1)\n"
    'jq --arg d "$digest" --argjson s "$size" '
    f'\'.files += [{{"path": "{PROVENANCE_NAME}", "kind": "provenance", "size": $s, "sha256": $d, '
    '"uploadable": true}] | .files |= sort_by(.path)\' merged-predicate.json > release-predicate.json\n'
    "jq -r '.files[] | \"\\(.sha256)  \\(.path)\"' release-predicate.json > release.sha256\n"
)


def attest() -> dict[str, Any]:
    return {
        "needs": "merge",
        "runs-on": HOST_RUNNER,
        "permissions": {"contents": "read", "id-token": "write", "attestations": "write"},
        "steps": [
            download("release", name="release"),
            run(
                "check the files against the merge job's digests and release predicate",
                _CHECK,
                {
                    "SUBJECTS": "${{ needs.merge.outputs.subjects }}",
                    "PREDICATE": "${{ needs.merge.outputs.predicate }}",
                    **VERSION_ENV,
                },
            ),
            {
                "uses": ci_pins.uses("actions/attest"),
                "id": "provenance",
                "with": {"subject-checksums": "provenance.sha256", "show-summary": False},
            },
            run(
                "keep the provenance and its bundle",
                _keep(PROVENANCE_NAME),
                {"BUNDLE": "${{ steps.provenance.outputs.bundle-path }}"},
            ),
            run("the release statement's subjects: every listed file and the provenance", _RELEASE_SUBJECTS),
            {
                "uses": ci_pins.uses("actions/attest"),
                "id": "release-statement",
                "with": {
                    "subject-checksums": "release.sha256",
                    "predicate-type": RELEASE_PREDICATE,
                    "predicate-path": "release-predicate.json",
                    "show-summary": False,
                },
            },
            run(
                "keep the release statement and its bundle",
                _keep(RELEASE_STATEMENT_NAME),
                {"BUNDLE": "${{ steps.release-statement.outputs.bundle-path }}"},
            ),
            upload("attested", "attested/"),
        ],
    }
