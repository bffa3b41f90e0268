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


def _production_pairs(names: list[str]) -> list[tuple[Path, Path]]:
    """The keyless cases on the production root with the default identity, as (artifact, bundle) pairs."""
    pairs = []
    for name in names:
        case = SUITE / name
        if any((case / f).exists() for f in ("trusted_root.json", "key.pub", "identity", "issuer")):
            continue
        artifact = case / "artifact" if (case / "artifact").is_file() else SUITE / "a.txt"
        pairs.append((artifact, case / "bundle.sigstore.json"))
    return pairs


def test_one_warm_verifier_still_refuses_every_fail_case_after_accepting_the_happy_ones() -> None:
    """The verifier remembers what the library accepted (verify/_remembered.py): the memory must never let
    a refused case through. One verifier checks the happy cases, then every _fail case, then the happy
    cases again; the second pass is answered from memory for the keyrings (no key is asked again)."""
    from sigstore._internal.trust import KeyringPurpose

    from opencode_release.verify import identity_policy
    from opencode_release.verify.artifact import verify_files

    names = [n for n in _cases() if n not in LIBRARY_MISSES]
    happy = _production_pairs([n for n in names if not n.endswith("_fail")])
    failing = _production_pairs([n for n in names if n.endswith("_fail")])
    assert len(happy) >= 5 and len(failing) >= 15
    trust = identity_policy.load_trusted_root("production", None, None)
    policy = identity_policy.load_policy("production", None, {"identity": DEFAULT_IDENTITY, "issuer": DEFAULT_ISSUER})

    calls: list[bytes] = []
    for keyring in (trust.root.rekor_keyring(KeyringPurpose.VERIFY), trust.root.ct_keyring(KeyringPurpose.VERIFY)):
        for key in keyring._keyring.values():
            original = key.verify

            def counted(signature: bytes, data: bytes, _original=original) -> None:  # type: ignore[no-untyped-def]
                calls.append(data)
                _original(signature, data)

            key.verify = counted  # type: ignore[method-assign]

    rows = verify_files([*happy, *failing, *happy], trust, policy).rows
    first, refused, again = rows[: len(happy)], rows[len(happy) : -len(happy)], rows[-len(happy) :]
    assert all(r.ok for r in first), [r.reason for r in first if not r.ok]
    assert not [str(p[1].parent.name) for p, r in zip(failing, refused, strict=True) if r.ok]
    assert all(r.ok for r in again)
    # Asked once more, the same bundles need no key of the keyrings: their SCTs, checkpoints and SETs are remembered.
    before = len(calls)
    assert all(r.ok for r in verify_files(happy, trust, policy).rows)
    assert len(calls) == before and before > 0
