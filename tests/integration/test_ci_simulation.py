"""`ci --simulate`: the generated release and nightly workflows run by act on this machine.

Both runs go through the reusable build.yml (every target's build job: the host's compiled for
real through the `docker run` stand-in, the others fed the all-targets fixtures), the merge and the
attest job, whose provenance is signed by the embedded Sigstore with the token the simulated runner
grants the attest job alone. The nightly run restores the host build's cache the release run saved.
(The publish job is not run here: its verify stage needs the verification issue's signed-roots
checks to accept a CI release; docs/slsa.md says so.)
"""

from __future__ import annotations

import base64
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release.ci_sim import simulate
from tests import ci_prebuilt
from tests.conftest import PRODUCT, REPO

pytestmark = pytest.mark.integration
BUILDER = "https://github.com/opencode/opencode/.github/workflows/build.yml@{ref}"


def _statement(bundle: Path) -> dict[str, Any]:
    data = json.loads(bundle.read_text().splitlines()[0])
    return dict(json.loads(base64.b64decode(data["dsseEnvelope"]["payload"])))


def _host_build_lines(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if "build-linux-x86_64-gnu" in line]


def test_release_then_nightly_build_merge_and_attest_under_act(tmp_path: Path) -> None:
    settings = config.load(PRODUCT / "pyproject.toml")
    prebuilt = ci_prebuilt.lay_out(tmp_path / "prebuilt", settings.version)
    folder = tmp_path / "sim"
    commit = (
        __import__("subprocess")
        .run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
        .stdout.strip()
    )

    release = simulate.simulate(settings, REPO, "release", folder, prebuilt, job="build", echo=False)
    assert release.jobs and set(release.jobs.values()) == {"succeeded"}, release.jobs
    assert len([j for j in release.jobs if j.startswith("build/build/build-")]) == 8
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
    statement = _statement(delivered / "provenance.sigstore.json")
    assert statement["predicate"]["runDetails"]["builder"]["id"] == BUILDER.format(ref="refs/tags/v1.4.0")
    assert statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["path"] == (
        ".github/workflows/release.yml"
    )
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert subjects == {a.path: a.sha256 for a in ledger.uploadable()} and "SHA256SUMS" in subjects
    assert any(
        "Cache not found for input keys: nuitka-linux-x86_64-gnu-" in line for line in _host_build_lines(release.log)
    )

    nightly = simulate.simulate(settings, REPO, "nightly", folder, prebuilt, job="build", echo=False)
    assert set(nightly.jobs.values()) == {"succeeded"}, nightly.jobs
    night = Ledger.load(nightly.delivered)
    assert night.channel == "nightly" and night.version.startswith("1.4.1-nightly.")
    statement = _statement(nightly.delivered / "provenance.sigstore.json")
    assert statement["predicate"]["runDetails"]["builder"]["id"] == BUILDER.format(ref="refs/heads/main")
    assert any("Cache restored from key: nuitka-linux-x86_64-gnu-" in line for line in _host_build_lines(nightly.log))
