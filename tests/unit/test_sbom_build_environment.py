"""An SBOM's licenses come from the product's build environment, where the binary was compiled,
never from the pipeline's own environment (which may lack a distribution or hold another copy)."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from pathlib import Path

from opencode_release.attest import _compilation as compilation
from opencode_release.attest import _release_sboms
from opencode_release.core.ledger import Artifact
from tests.fake_release import fake_release

REPORT = Path(__file__).resolve().parent.parent / "testdata" / "nuitka-report-small.xml"
RICH = importlib.metadata.version("rich")  # the pipeline's copy says MIT


def _binary(packages: list[dict[str, object]] | None) -> Artifact:
    facts: dict[str, object] = {"c_compiler": "gcc"}
    if packages is not None:
        facts["build_environment"] = {"source": "[project].dependencies", "packages": packages}
    return Artifact(
        id="binary:linux-x86_64-gnu/app",
        kind="binary",
        path="linux-x86_64-gnu/app",
        target="linux-x86_64-gnu",
        size=1,
        sha256="ab" * 32,
        facts=facts,
    )


def _report() -> compilation.CompilationReport:
    compiled = (compilation.Distribution("greetlib", "1.0", "pip"), compilation.Distribution("Rich", RICH, "pip"))
    return dataclasses.replace(compilation.parse(REPORT), distributions=compiled)


def test_licenses_are_what_the_build_environment_declared(tmp_path: Path) -> None:
    ctx = fake_release(tmp_path, only=("linux-x86_64-gnu",))
    packages: list[dict[str, object]] = [
        {"name": "greetlib", "version": "1.0", "metadata": {"License-Expression": ["0BSD"]}, "direct_url": ""},
        {
            "name": "rich",
            "version": RICH,
            "metadata": {"License": ["Apache-2.0"], "Project-URL": ["Homepage, https://rich.example.net"]},
            "direct_url": '{"archive_info": {"hashes": {"sha256": "' + "5" * 64 + '"}}}',
        },
    ]
    for built_here in ((), ("linux-x86_64-gnu",)):  # the build recorded it: true on any machine
        ctx = dataclasses.replace(ctx, build_targets=built_here)
        details = _release_sboms.host_details(ctx, _binary(packages), _report()).distributions
        assert details["greetlib"].license == "0BSD"  # not installed in the pipeline at all
        assert details["Rich"].license == "Apache-2.0"  # not the pipeline's copy (MIT)
        assert details["Rich"].homepage == "https://rich.example.net"
        assert details["Rich"].hashes == (("SHA-256", "5" * 64),)
    # Another version in the environment than the one compiled in: no details rather than wrong ones.
    other = [{**packages[1], "version": "0.0.1"}]
    assert _release_sboms.host_details(ctx, _binary(other), _report()).distributions == {}


def test_without_a_build_environment_the_interpreter_it_compiled_in_is_read(tmp_path: Path) -> None:
    ctx = dataclasses.replace(fake_release(tmp_path, only=("linux-x86_64-gnu",)), build_targets=("linux-x86_64-gnu",))
    details = _release_sboms.host_details(ctx, _binary(None), _report()).distributions  # build.isolated = false
    assert details["Rich"].license == "MIT" and "greetlib" not in details
    elsewhere = dataclasses.replace(ctx, build_targets=())
    assert _release_sboms.host_details(elsewhere, _binary(None), _report()).distributions == {}
