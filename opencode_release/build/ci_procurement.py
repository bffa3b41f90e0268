"""The nightly workflow's quarterly job: on the first day of each quarter, the packet of the quarter that ended.

CI keeps no `dist/`: the release job attaches each stable release's folder (its
ledger, evidence and build files, packed as it verified: release/verified_folder.py)
to the tag's GitHub Release as `release-folder-<version>.tar.gz`, and this job downloads the folders
of the releases in scope from there. It reads the channel repository (the
store's read credentials from the `procurement` environment: no TUF key, no
signing identity), rebuilds each release from its recorded commit (`reproduce`,
so the checkout has the whole history) and builds the packet unsigned: no job
that runs this project's code holds a signing identity (ci_jobs.py).

Two jobs follow, split as the release's attest and publish are:
- `procurement-sign` checks out and installs nothing: it downloads the packet and
  signs one in-toto statement over its zip and `packet-manifest.json` with the pinned
  `actions/attest` (its certificate names nightly.yml on the default branch, what the
  policy's `procurement` channel pins), and hands the bundle on beside each file;
- `procurement-publish` holds the TUF keys of the LTS lines (its environment's secrets)
  and no OIDC token: `procurement --publish-built` verifies both files against that
  policy (the manifest's folder too) and only then publishes the zip and its bundle
  under each LTS line the packet covers.
"""

from __future__ import annotations

from typing import Any

from ..core.names import BUNDLE_SUFFIX, PACKET_MANIFEST_NAME, PACKET_PREDICATE
from . import ci_pins
from .ci_jobs import HOST_RUNNER, PYTHON, Layout, checkout, download, install, run, setup, upload

# 05:29 UTC on 1 January, April, July and October.
QUARTERLY_CRON = "29 5 1 1,4,7,10 *"
RELEASE_FOLDER = "release-folder-{version}.tar.gz"
STORE_READ_SECRETS = {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY"}
# what publishing into LTS lines signs: their delegation, the top-level targets, snapshot and timestamp (never root)
PACKET_TUF_ROLES = ("release", "targets", "snapshot", "timestamp")
QUARTER_ENV = {"QUARTER": "${{ needs.procurement.outputs.quarter }}"}
# Started by hand (Actions' "Run workflow", or `gh workflow run nightly.yml -f quarter=2026-Q4`), the
# nightly workflow builds that quarter's packet instead of a nightly: a quarter missed, or made again.
QUARTER_INPUT = "quarter"
DISPATCH_INPUTS = {
    QUARTER_INPUT: {
        "description": "build the procurement packet of this quarter (YYYY-QN) instead of a nightly",
        "type": "string",
        "required": False,
        "default": "",
    }
}
DISPATCHED_QUARTER = f"(github.event_name == 'workflow_dispatch' && inputs.{QUARTER_INPUT} != '')"
# a job output is data: checked before the shell uses it in a path
_QUARTER_CHECK = '[[ "$QUARTER" =~ ^[0-9]{4}-Q[1-4]$ ]] || { echo "::error::not a quarter: $QUARTER"; exit 1; }\n'


def procurement_job(layout: Layout, store: str) -> dict[str, Any]:
    """`store`: the channel repository CI publishes to (channels.ci-storage), read here."""
    # the input reaches the shell as data (an environment variable), never as script text;
    # `procurement` refuses anything that is not a quarter or `previous`
    packet = f'opencode-release procurement --project {layout.project} --store {store} --quarter "$QUARTER"'
    asked = {"QUARTER": f"${{{{ inputs.{QUARTER_INPUT} || 'previous' }}}}"}
    restore = (
        f"{packet} --list-scope --json > scope.json\n"
        'python -c \'import json; print("\\n".join(json.load(open("scope.json"))["releases"]))\' > versions.txt\n'
        f'mkdir -p "{layout.dist}"\n'
        "while read -r version; do\n"
        f'  gh release download "v$version" --pattern "{RELEASE_FOLDER.format(version="$version")}" --dir .folders\n'
        f'  tar -xzf ".folders/{RELEASE_FOLDER.format(version="$version")}" -C "{layout.dist}"\n'
        "done < versions.txt\n"
    )
    credentials = {name: f"${{{{ secrets.{secret} }}}}" for name, secret in STORE_READ_SECRETS.items()}
    return {
        **_QUARTERLY_ONLY,
        "runs-on": HOST_RUNNER,
        "environment": "procurement",
        "permissions": {"contents": "read"},
        "outputs": {"quarter": "${{ steps.packet.outputs.quarter }}"},
        "steps": [
            # every release's recorded commit must be in the checkout for `reproduce`
            {**checkout(), "with": {"persist-credentials": False, "fetch-depth": 0}},
            {"uses": ci_pins.uses("actions/setup-python"), "with": {"python-version": PYTHON}},
            install(layout),
            run(
                "diffoscope, for what does not reproduce",
                "sudo apt-get update -qq\nsudo apt-get install -y -qq --no-install-recommends diffoscope-minimal\n",
            ),
            run(
                "the releases in scope of the quarter that ended, from their GitHub Releases",
                restore,
                {"GH_TOKEN": "${{ github.token }}", **asked, **credentials},
            ),
            run(
                "the packet: each release rebuilt and compared, the evidence, the SSDF mapping (unsigned)",
                # CI's bundles record no instance: the releases were signed by public-good Sigstore
                f"{packet} --reproduce --unsigned --instance production --json > packet.json\n"
                'jq -r \'"quarter=\\(.quarter)"\' packet.json >> "$GITHUB_OUTPUT"\n',
                {**asked, **credentials},
                id="packet",
            ),
            upload("procurement-packet", f"{layout.dist}/procurement/"),
        ],
    }


# Skipped with the procurement job anyway (its `needs`); said again so that no runner's reading of a
# skipped dependency can start them on another schedule.
_QUARTERLY_ONLY = {"if": f"github.event.schedule == '{QUARTERLY_CRON}' || {DISPATCHED_QUARTER}"}


def _sign_script() -> str:
    manifest = f"$QUARTER/{PACKET_MANIFEST_NAME}"
    return (
        _QUARTER_CHECK
        + f'(cd packet && sha256sum "$QUARTER.zip" "{manifest}") > packet.sha256\n'
        + 'jq -n --arg q "$QUARTER" --arg r "$GITHUB_REPOSITORY" \'{quarter: $q, repository: $r}\' > predicate.json\n'
    )


def _keep_script() -> str:
    return (
        'mkdir -p "signed/$QUARTER"\n'
        f'cp "$BUNDLE" "signed/$QUARTER.zip{BUNDLE_SUFFIX}"\n'
        f'cp "$BUNDLE" "signed/$QUARTER/{PACKET_MANIFEST_NAME}{BUNDLE_SUFFIX}"\n'
    )


def procurement_sign_job() -> dict[str, Any]:
    """Signs what the procurement job made; runs no project code, so nothing it installs sees the token."""
    return {
        "needs": "procurement",
        **_QUARTERLY_ONLY,
        "runs-on": HOST_RUNNER,
        "permissions": {"contents": "read", "id-token": "write", "attestations": "write"},
        "steps": [
            download("packet", name="procurement-packet"),
            run("the statement's subjects: the packet's zip and manifest", _sign_script(), QUARTER_ENV),
            {
                "uses": ci_pins.uses("actions/attest"),
                "id": "packet",
                "with": {
                    "subject-checksums": "packet.sha256",
                    "predicate-type": PACKET_PREDICATE,
                    "predicate-path": "predicate.json",
                    "show-summary": False,
                },
            },
            run(
                "the bundle beside each file it signs",
                _keep_script(),
                {**QUARTER_ENV, "BUNDLE": "${{ steps.packet.outputs.bundle-path }}"},
            ),
            upload("procurement-signed", "signed/"),
        ],
    }


def procurement_publish_job(layout: Layout, store: str, secrets_env: dict[str, str]) -> dict[str, Any]:
    """`secrets_env`: the store's credentials and PACKET_TUF_ROLES' keys, from the environment's secrets."""
    folder = f"{layout.dist}/procurement"
    return {
        "needs": ["procurement", "procurement-sign"],
        **_QUARTERLY_ONLY,
        "runs-on": HOST_RUNNER,
        "environment": "procurement-publish",
        "permissions": {"contents": "read"},
        "steps": [
            *setup(layout),
            download(folder, name="procurement-packet"),
            download(folder, name="procurement-signed"),
            run(
                "verify the signed packet, then publish it under each LTS line it covers",
                _QUARTER_CHECK
                + f'opencode-release procurement --project {layout.project} --quarter "$QUARTER" --publish-built '
                f"--instance production --store {store} --json\n",
                {**QUARTER_ENV, **secrets_env},
            ),
        ],
    }
