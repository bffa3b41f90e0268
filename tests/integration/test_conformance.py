"""The Sigstore client conformance suite's bundle cases, through the installed `opencode-release verify`.

Every folder of ../shared/conformance/bundle-verify (copied from the Sigstore
project; see its README) is one case: a name ending in `_fail` must be
refused (exit 1 or 2), any other must verify (exit 0). Trust is the folder's
`trusted_root.json`, else the production root sigstore-python ships (no
network). A folder with `key.pub` is verified with that managed key.

Two cases sigstore-python 4.5.1 gets wrong are expected to fail, strictly: the
day a release of the library fixes them, the xfail turns into a failure and
the list below must shrink. They are not skipped, and no `_fail` case is
ever allowed to verify.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO.parent / "shared" / "conformance" / "bundle-verify"
SCRIPT = Path(sys.executable).parent / "opencode-release"
DEFAULT_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"

# Happy-path cases sigstore-python 4.5.1's Verifier refuses, with why.
LIBRARY_MISSES = {
    "intoto-with-custom-trust-root": (
        "the log entry is an `intoto` 0.0.2 entry; the library takes a log's integrated time only from "
        "dsse/hashedrekord 0.0.1 entries and refuses: 'Integrated time only supported for dsse/hashedrekord "
        "0.0.1 types'"
    ),
    "trust-root-tsa-validity-end-inclusive": (
        "the timestamp equals the end of the TSA's validity in the trusted root; the spec's TimeRange is "
        "closed, the library compares with `<` and finds 'not enough sources of verified time'"
    ),
}


def _cases() -> list[str]:
    return sorted(p.name for p in SUITE.iterdir() if p.is_dir())


def _command(case: Path) -> list[str]:
    artifact = case / "artifact" if (case / "artifact").is_file() else SUITE / "a.txt"
    command = [str(SCRIPT), "verify", str(artifact), "--bundle", str(case / "bundle.sigstore.json"), "--json"]
    if (case / "trusted_root.json").is_file():
        command += ["--trusted-root", str(case / "trusted_root.json")]
    if (case / "key.pub").is_file():
        return [*command, "--key", str(case / "key.pub")]
    identity = (case / "identity").read_text().strip() if (case / "identity").is_file() else DEFAULT_IDENTITY
    issuer = (case / "issuer").read_text().strip() if (case / "issuer").is_file() else DEFAULT_ISSUER
    return [*command, "--identity", identity, "--issuer", issuer]


def test_the_suite_is_all_here() -> None:
    cases = _cases()
    assert len(cases) >= 70, "the conformance suite is missing from ../shared"
    assert sum(1 for c in cases if c.startswith("managed-key")) == 4


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=LIBRARY_MISSES[n], strict=True)) if n in LIBRARY_MISSES else n
        for n in _cases()
    ],
)
def test_conformance_case(name: str, tmp_path: Path) -> None:
    case = SUITE / name
    proc = subprocess.run(_command(case), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout)  # --json prints the report in every case
    assert "Traceback" not in proc.stderr, proc.stderr
    if name.endswith("_fail"):
        assert proc.returncode in (1, 2), f"{name} verified: {proc.stdout}"
        assert report["ok"] is False
    else:
        assert proc.returncode == 0, f"{name} refused: {proc.stdout} {proc.stderr}"
        assert report["ok"] is True
