"""Binary checks per target, over binaries linked by real toolchains: one negative test per check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from opencode_release.build import inspection, targets
from opencode_release.build.inspection import macho, pe
from opencode_release.build.stages import SIMULATED_RUNNER, InspectStage, simulated_host_glibc
from opencode_release.core import config
from opencode_release.core.errors import CheckFailed
from opencode_release.core.ledger import ArtifactKind, Ledger, Source
from opencode_release.core.stage import CollectingReporter, Context
from tests import binaries
from tests.conftest import PRODUCT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return binaries.shared(tmp_path_factory)


def _findings(path: Path, target: str) -> list[tuple[str, str]]:
    _facts, findings = inspection.inspect(path, targets.get(target))
    return [(f.check, f.message) for f in findings]


@pytest.mark.parametrize("target", sorted(binaries.FOR_TARGET))
def test_each_fixture_passes_its_own_target(bins: dict[str, Path], target: str) -> None:
    facts, findings = inspection.inspect(bins[binaries.FOR_TARGET[target]], targets.get(target))
    assert findings == []
    assert facts["format"] == targets.get(target).binary_format


def test_universal_passes_darwin_universal(bins: dict[str, Path], tmp_path: Path) -> None:
    fat = tmp_path / "opencode"
    macho.make_universal([bins["macho-arm64"], bins["macho-x86_64"]], fat)
    facts, findings = inspection.inspect(fat, targets.get("darwin-universal"))
    assert findings == [] and facts["archs"] == ["x86_64", "arm64"] and facts["fat"]
    # A thin binary is not a universal one.
    assert _findings(bins["macho-arm64"], "darwin-universal") == [
        ("arch", "architecture arm64 does not match target darwin-universal (arm64+x86_64)")
    ]


def test_format(bins: dict[str, Path]) -> None:
    assert _findings(bins["pe-arm64"], "darwin-arm64") == [
        ("format", "is a PE (Windows) executable, but darwin-arm64 needs a Mach-O executable")
    ]
    assert _findings(bins["macho-x86_64"], "linux-x86_64-gnu") == [
        ("format", "is a Mach-O executable, but linux-x86_64-gnu needs an ELF executable")
    ]


def test_macho_arch(bins: dict[str, Path]) -> None:
    assert _findings(bins["macho-x86_64"], "darwin-arm64") == [
        ("arch", "architecture x86_64 does not match target darwin-arm64 (arm64)")
    ]


def test_macho_min_macos(bins: dict[str, Path]) -> None:
    assert _findings(bins["macho-x86_64-macos11"], "darwin-x86_64") == [
        ("min-macos", "x86_64 slice declares minimum macOS 11.0, below 12.0")
    ]


def test_macho_code_signature(bins: dict[str, Path]) -> None:
    assert _findings(bins["macho-arm64-unsigned"], "darwin-arm64") == [
        ("code-signature", "arm64 slice has no code signature (LC_CODE_SIGNATURE); sign it, ad hoc at least")
    ]


def test_pe_facts_and_arch(bins: dict[str, Path]) -> None:
    assert pe.inspect(bins["pe-arm64"]).to_json() == {
        "format": "pe",
        "arch": "arm64",
        "subsystem": "console",
        "pe32_plus": True,
    }
    assert _findings(bins["pe-arm64"], "windows-x86_64") == [
        ("arch", "architecture arm64 does not match target windows-x86_64 (x86_64)")
    ]


def test_pe_console_subsystem(bins: dict[str, Path]) -> None:
    assert _findings(bins["pe-x86_64-gui"], "windows-x86_64") == [
        ("console-subsystem", "subsystem is windows-gui, not console: a CLI would open no terminal output")
    ]


def test_elf_arch(bins: dict[str, Path]) -> None:
    assert _findings(bins["elf-aarch64-gnu-2.28"], "linux-x86_64-gnu") == [
        ("arch", "architecture aarch64 does not match target linux-x86_64-gnu (x86_64)")
    ]


def test_elf_glibc_floor_names_the_symbol(bins: dict[str, Path]) -> None:
    facts, _ = inspection.inspect(bins["elf-x86_64-gnu-2.28"], targets.get("linux-x86_64-gnu"))
    assert facts["glibc_floor"] == "2.28" and facts["glibc_floor_symbol"] == "statx@GLIBC_2.28"
    assert _findings(bins["elf-x86_64-gnu-2.34"], "linux-x86_64-gnu") == [
        (
            "glibc-floor",
            "needs glibc 2.34 (symbol __libc_start_main@GLIBC_2.34 in elf-x86_64-gnu-2.34), "
            "above the linux-x86_64-gnu floor 2.28; build it in quay.io/pypa/manylinux_2_28_x86_64",
        )
    ]


def test_musl_static_and_musl_loader_pass_and_record_why(bins: dict[str, Path]) -> None:
    static, _ = inspection.inspect(bins["elf-x86_64-musl-static"], targets.get("linux-x86_64-musl"))
    assert static["static"] and static["glibc_floor"] is None
    dynamic, _ = inspection.inspect(bins["elf-aarch64-musl-dynamic"], targets.get("linux-aarch64-musl"))
    assert dynamic["interpreter"] == "/lib/ld-musl-aarch64.so.1" and dynamic["needed"] == ["libc.so"]


def test_musl_no_glibc(bins: dict[str, Path]) -> None:
    assert _findings(bins["elf-x86_64-gnu-2.28"], "linux-x86_64-musl") == [
        (
            "no-glibc",
            "depends on glibc (elf-x86_64-gnu-2.28: symbol statx@GLIBC_2.28) but linux-x86_64-musl "
            "is a musl target; build it in quay.io/pypa/musllinux_1_2_x86_64",
        )
    ]


def _ledger_with(tmp_path: Path, placed: dict[str, Path]) -> Context:
    settings = config.load(PRODUCT / "pyproject.toml")
    ledger = Ledger(
        tmp_path / "1.4.0",
        product="opencode",
        version="1.4.0",
        channel="stable",
        source=Source("r", "a" * 40, "refs/tags/v1.4.0", 1767225600),
    )
    for target, source in placed.items():
        dest = ledger.root / target / ("opencode" + targets.get(target).exe_suffix)
        dest.parent.mkdir(parents=True)
        shutil.copy2(source, dest)
        ledger.record(dest, ArtifactKind.BINARY, target=target)
    return Context(settings=settings, ledger=ledger, reporter=CollectingReporter(), build_targets=(), snapshot=True)


def test_stage_refuses_a_wrong_target_binary_even_in_a_snapshot(bins: dict[str, Path], tmp_path: Path) -> None:
    ctx = _ledger_with(tmp_path, {"windows-arm64": bins["pe-x86_64"], "darwin-arm64": bins["macho-arm64"]})
    with pytest.raises(
        CheckFailed,
        match=r"^windows-arm64/opencode.exe: architecture x86_64 does not match "
        r"target windows-arm64 \(arm64\)$",
    ):
        InspectStage().run(ctx)
    good = ctx.ledger.get("binary:darwin-arm64/opencode").facts["inspection"]
    assert good["checks"] == {
        "format": "passed",
        "arch": "passed",
        "min-macos": "passed",
        "code-signature": "passed",
        "hardening": "passed",
    }


def test_stage_waives_only_the_glibc_floor_in_a_snapshot(bins: dict[str, Path], tmp_path: Path) -> None:
    ctx = _ledger_with(tmp_path, {"linux-x86_64-gnu": bins["elf-x86_64-gnu-2.34"]})
    InspectStage().run(ctx)
    assert isinstance(ctx.reporter, CollectingReporter)
    assert ctx.reporter.warnings == [
        "linux-x86_64-gnu/opencode: needs glibc 2.34 (symbol __libc_start_main@GLIBC_2.34 in opencode), above "
        "the linux-x86_64-gnu floor 2.28; build it in quay.io/pypa/manylinux_2_28_x86_64 (snapshot: recorded, "
        "not refused)"
    ]
    facts = ctx.ledger.get("binary:linux-x86_64-gnu/opencode").facts["inspection"]
    assert facts["checks"]["glibc-floor"] == "failed"
    ctx.snapshot = False
    with pytest.raises(CheckFailed, match=r"needs glibc 2\.34"):
        InspectStage().run(ctx)


def test_a_simulated_runner_holds_the_floor_to_its_host_and_a_ledger_fact_waives_nothing(
    bins: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _ledger_with(tmp_path, {"linux-x86_64-gnu": bins["elf-x86_64-gnu-2.34"]})
    ctx.snapshot = False
    binary = ctx.ledger.get("binary:linux-x86_64-gnu/opencode")
    # a partial ledger saying "built on a simulated runner" is not a simulated runner
    ctx.ledger.update_facts(binary.id, {"simulated_runner": True})
    monkeypatch.delenv(SIMULATED_RUNNER, raising=False)
    with pytest.raises(CheckFailed, match=r"needs glibc 2\.34"):
        InspectStage().run(ctx)
    # on a simulated runner the host plays the image: within its glibc, a warning
    monkeypatch.setenv(SIMULATED_RUNNER, "1")
    host = simulated_host_glibc()
    assert host is not None and tuple(map(int, host.split("."))) >= (2, 34)
    InspectStage().run(ctx)
    assert isinstance(ctx.reporter, CollectingReporter)
    assert ctx.reporter.warnings[-1].endswith(
        f"(simulated runner: within this host's glibc {host}, which plays the image)"
    )
    # above the host's glibc: refused there too (the floor the onefile payload showed on the build runner)
    ctx.ledger.update_facts(
        binary.id,
        {
            "inspection": {
                "sha256": binary.sha256,
                "glibc_floor": "2.99",
                "glibc_floor_symbol": "x@GLIBC_2.99",
                "glibc_floor_file": "libx.so",
            }
        },
    )
    with pytest.raises(CheckFailed, match=r"needs glibc 2\.99 \(symbol x@GLIBC_2\.99 in libx\.so\)"):
        InspectStage().run(ctx)


def test_floor_seen_on_the_build_runner_survives_the_merge(bins: dict[str, Path], tmp_path: Path) -> None:
    # The onefile payload stays on the runner; its inspection there (same bytes) still counts here.
    ctx = _ledger_with(tmp_path, {"linux-x86_64-gnu": bins["elf-x86_64-gnu-2.28"]})
    binary = ctx.ledger.get("binary:linux-x86_64-gnu/opencode")
    ctx.ledger.update_facts(
        binary.id,
        {
            "inspection": {
                "sha256": binary.sha256,
                "glibc_floor": "2.35",
                "glibc_floor_symbol": "pthread_key_create@GLIBC_2.34x",
                "glibc_floor_file": "libpython3.11.so.1.0",
                "bundled_libraries": ["libpython3.11.so.1.0"],
            },
        },
    )
    ctx.snapshot = False
    with pytest.raises(
        CheckFailed,
        match=r"needs glibc 2\.35 \(symbol pthread_key_create@GLIBC_2\.34x in "
        r"libpython3\.11\.so\.1\.0\), above the linux-x86_64-gnu floor 2\.28",
    ):
        InspectStage().run(ctx)
    # Facts about other bytes are not carried over.
    ctx.ledger.update_facts(binary.id, {"inspection": {"sha256": "0" * 64, "glibc_floor": "2.35"}})
    InspectStage().run(ctx)
    facts = ctx.ledger.get(binary.id).facts["inspection"]
    assert facts["glibc_floor"] == "2.28" and facts["glibc_floor_symbol"] == "statx@GLIBC_2.28"
