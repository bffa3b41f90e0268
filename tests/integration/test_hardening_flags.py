"""The compiler flags build.hardening sets give a real Nuitka build every ELF mitigation, in the onefile
bootstrap and in the program it unpacks, read back by the inspector and by binutils' readelf."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from opencode_release.build import nuitka, targets
from opencode_release.build.inspection import hardening, inspect
from opencode_release.core.config_build import HARDENING_FEATURES

pytestmark = pytest.mark.integration

ELF_FEATURES = ("pie", "nx", "relro", "full-relro", "stack-protector", "fortify")


def test_each_elf_feature_has_flags_and_other_systems_get_none() -> None:
    linux = targets.get("linux-x86_64-gnu")
    for feature in ELF_FEATURES:
        assert nuitka.hardening_flags(linux, [feature]), feature
    assert set(ELF_FEATURES) < set(HARDENING_FEATURES)  # cfg and high-entropy-va are PE's: no ELF flags
    assert nuitka.hardening_flags(linux, ["relro", "full-relro"]) == {"LDFLAGS": "-Wl,-z,relro -Wl,-z,now"}
    assert nuitka.hardening_flags(targets.get("windows-x86_64"), ELF_FEATURES) == {}
    assert nuitka.hardening_flags(targets.get("darwin-arm64"), ELF_FEATURES) == {}


def test_the_callers_compiler_flags_do_not_reach_the_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFLAGS", "-fno-stack-protector")
    monkeypatch.setenv("LDFLAGS", "-Wl,-z,execstack")
    env = nuitka.environment(0, None, {"LDFLAGS": "-Wl,-z,noexecstack"})
    assert env["LDFLAGS"] == "-Wl,-z,noexecstack" and "CFLAGS" not in env


def _readelf_full_relro_and_canary(path: Path) -> tuple[bool, bool]:
    dynamic = subprocess.run(["readelf", "-W", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    symbols = subprocess.run(["readelf", "-W", "--dyn-syms", str(path)], capture_output=True, text=True).stdout
    now = "BIND_NOW" in dynamic or re.search(r"FLAGS_1\).*\bNOW\b", dynamic) is not None
    return now, re.search(r"UND __stack_chk_fail\b", symbols) is not None


def test_a_nuitka_build_with_every_elf_flag_has_every_elf_mitigation(tmp_path: Path) -> None:
    package = tmp_path / "hello_cli"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import sys\n\nprint('hello', *sys.argv[1:])\n")
    target = targets.host()
    flags = nuitka.hardening_flags(target, ELF_FEATURES)
    started = time.monotonic()
    result = nuitka.build(package, "0.1.0", tmp_path / "work", "hello", target, 1700000000, flags=flags)
    print(f"nuitka build with {flags}: {time.monotonic() - started:.0f} s")
    # Without the flags the bootstrap has partial RELRO and no canary (test_snapshot_release.py's build).
    program = result.binary.parent / "hello_cli.dist" / "hello.bin"  # the output name, as opencode.bin
    for binary in (result.binary, program):
        found = hardening.elf(binary)
        assert {f: found[f] for f in ELF_FEATURES} == dict.fromkeys(ELF_FEATURES, True), binary.name
        assert _readelf_full_relro_and_canary(binary) == (True, True), binary.name
    facts, findings = inspect(result.binary, target, result.binary.parent / "hello_cli.dist", None, ELF_FEATURES)
    assert [f for f in findings if f.check == "hardening"] == []
    assert facts["payload_hardening"]["hello.bin"]["full-relro"] is True
    out = subprocess.run([str(result.binary), "x"], capture_output=True, text=True, env={}, check=True)
    assert out.stdout.strip() == "hello x"
