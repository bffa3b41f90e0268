"""A real snapshot release of the sample product: Nuitka, inspect, smoke, package, checksum."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from opencode_release.build import targets
from opencode_release.build.inspection import hardening
from opencode_release.core import config
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.release import pipeline, session
from tests.conftest import BUILT_STAGES

pytestmark = pytest.mark.integration


def _ledger(product: Path) -> Ledger:
    return Ledger.load(product.parent / "dist" / "1.4.0")


def test_release_records_binary_report_archive_and_sums(built_product: Path) -> None:
    ledger = _ledger(built_product)
    host = targets.host().name
    kinds = {a.kind for a in ledger.artifacts}
    assert {ArtifactKind.BINARY, ArtifactKind.BUILD_REPORT, ArtifactKind.ARCHIVE, ArtifactKind.CHECKSUMS} <= kinds
    (binary,) = ledger.by_kind(ArtifactKind.BINARY, target=host)
    assert ledger.verify_file(binary)
    assert binary.facts["nuitka_version"] == "4.3.3"
    inspection = binary.facts["inspection"]
    assert inspection["arch"] == "x86_64" and inspection["glibc_floor"] is not None
    assert inspection["glibc_floor_symbol"].endswith("@GLIBC_" + inspection["glibc_floor"])
    # The mitigations of the onefile bootstrap and of the program it unpacks, read where the payload was.
    assert inspection["hardening"] == hardening.elf(ledger.file(binary))
    assert inspection["hardening"]["nx"] is True and inspection["hardening_required"] == ["nx"]
    assert sorted(inspection["payload_hardening"]) == ["opencode.bin"]
    assert inspection["payload_hardening"]["opencode.bin"]["nx"] is True
    assert inspection["checks"]["hardening"] == "passed"
    assert binary.facts["hardening_flags"] == {"LDFLAGS": "-Wl,-z,noexecstack"}  # what build.hardening asked for
    assert [s.name for s in ledger.stages] == [s for s in BUILT_STAGES if s != "preflight"]


def test_built_binary_runs_version_and_handshake_without_python(built_product: Path, tmp_path: Path) -> None:
    ledger = _ledger(built_product)
    (binary,) = ledger.by_kind(ArtifactKind.BINARY, target=targets.host().name)
    exe = str(ledger.file(binary))
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, env={}, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "opencode 1.4.0"
    hello = json.dumps({"id": 7, "verb": "hello", "body": {"render": ["markdown", "sixel"]}}) + "\n"
    proc = subprocess.run(
        [exe, "serve", "--stdio"],
        input=hello,
        capture_output=True,
        text=True,
        env={"TMPDIR": str(tmp_path)},
        cwd=tmp_path,
        check=True,
    )
    answer = json.loads(proc.stdout)
    assert answer == {
        "id": 7,
        "verb": "hello",
        "ok": True,
        "body": {
            "agent": "opencode",
            "version": "1.4.0",
            "protocol": 1,
            "verbs": ["plan", "apply", "observe", "revert", "log"],
            "render": ["markdown"],
        },
    }


def test_checksum_files_pass_sha256sum_and_sha512sum(built_product: Path) -> None:
    root = built_product.parent / "dist" / "1.4.0"
    for tool, name in (("sha256sum", "SHA256SUMS"), ("sha512sum", "SHA512SUMS")):
        proc = subprocess.run([tool, "-c", name], cwd=root, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert ": OK" in proc.stdout


def test_rerun_is_up_to_date_and_a_deleted_archive_is_rebuilt_identically(release_copy: Path) -> None:
    settings = config.load(release_copy / "pyproject.toml")
    stages = pipeline.stages_named(BUILT_STAGES)
    _, report = session.run(settings, stages, session.Request(snapshot=True, quiet=True))
    assert {r.name: r.status for r in report.results} == {
        "preflight": "ran",
        "build": "up-to-date",
        "inspect": "up-to-date",
        "smoke": "up-to-date",
        "package": "up-to-date",
        "checksum": "up-to-date",
    }
    ledger = _ledger(release_copy)
    (archive,) = ledger.by_kind(ArtifactKind.ARCHIVE)
    original = ledger.file(archive).read_bytes()
    ledger.file(archive).unlink()
    _, report = session.run(settings, stages, session.Request(snapshot=True, quiet=True))
    statuses = {r.name: r.status for r in report.results}
    assert statuses["build"] == "up-to-date" and statuses["package"] == "ran" and statuses["checksum"] == "ran"
    assert ledger.file(archive).read_bytes() == original
