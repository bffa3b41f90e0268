"""The nightly workflow's quarterly job: on the first day of each quarter, the packet of the quarter that ended.

CI keeps no `dist/`: the release job attaches each stable release's folder (its
ledger, evidence and build files, as the pipeline left it) to the tag's GitHub
Release as `release-folder-<version>.tar.gz`, and this job downloads the folders
of the releases in scope from there. It reads the channel repository (the
store's read credentials from the `procurement` environment: no TUF key, no
signing identity), rebuilds each release from its recorded commit (`reproduce`,
so the checkout has the whole history) and builds the packet unsigned: no job
that runs this project's code holds a signing identity (ci_jobs.py), so the
packet is handed on as the `procurement-packet` artifact for a maintainer to
check, sign and publish (docs/procurement.md).
"""

from __future__ import annotations

from typing import Any

from . import ci_pins
from .ci_jobs import HOST_RUNNER, PYTHON, Layout, checkout, install, run, upload

# 05:29 UTC on 1 January, April, July and October.
QUARTERLY_CRON = "29 5 1 1,4,7,10 *"
RELEASE_FOLDER = "release-folder-{version}.tar.gz"
STORE_READ_SECRETS = {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY"}


def release_folder_archive() -> str:
    """The release job's script line that packs `<dist>/$VERSION` (run from inside it) beside it."""
    name = RELEASE_FOLDER.format(version="$VERSION")
    return f'tar -czf "../{name}" --exclude=.work -C .. "$VERSION"\n'


def procurement_job(layout: Layout, store: str) -> dict[str, Any]:
    """`store`: the channel repository CI publishes to (channels.ci-storage), read here."""
    packet = f"opencode-release procurement --project {layout.project} --store {store} --quarter previous"
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
        "if": f"github.event.schedule == '{QUARTERLY_CRON}'",
        "runs-on": HOST_RUNNER,
        "environment": "procurement",
        "permissions": {"contents": "read"},
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
                {"GH_TOKEN": "${{ github.token }}", **credentials},
            ),
            run(
                "the packet: each release rebuilt and compared, the evidence, the SSDF mapping (unsigned)",
                f"{packet} --reproduce --unsigned --json",
                credentials,
            ),
            upload("procurement-packet", f"{layout.dist}/procurement/"),
        ],
    }
