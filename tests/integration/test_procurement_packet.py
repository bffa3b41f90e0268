"""The quarterly packet of a real signed, published release (no Nuitka build): scope, evidence, SSDF mapping."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from opencode_release.channels import repository
from opencode_release.core import config
from opencode_release.core.errors import CheckFailed, ReleaseError, UsageError
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.procurement import catalog
from opencode_release.release import procurement
from tests.conftest import PRODUCT
from tests.integration import signed_release

pytestmark = pytest.mark.integration
TODAY = dt.datetime.now(dt.UTC).date()
QUARTER = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"


def _signed_with_components(into: Path) -> Path:
    """tests/fake_release.py's release, with an SBOM listing the components test_procurement_vex.py matches."""
    from opencode_release.attest.stages import ChecksumStage
    from opencode_release.core.formats import canonical_json
    from opencode_release.release import session
    from tests.fake_release import fake_release
    from tests.unit.test_procurement_vex import SBOM

    ctx = fake_release(into, only=("linux-x86_64-gnu",))
    session.run(ctx.settings, [ChecksumStage()], session.Request(snapshot=True, quiet=True))
    product = ctx.settings.project_dir
    ledger = Ledger.load(signed_release.release_root(product))
    (archive,) = ledger.by_kind(ArtifactKind.ARCHIVE)
    path = ledger.file(archive).with_name(archive.name + ".cdx.json")
    path.write_bytes(canonical_json({**SBOM, "version": 1, "metadata": {"component": {"name": archive.name}}}))
    sbom = ledger.record(path, ArtifactKind.SBOM, target=archive.target, relations={"sbom_of": [archive.id]})
    statement = ledger.file(archive).with_name(archive.name + ".sbom.intoto.json")
    statement.write_bytes(signed_release.statement([archive], signed_release.CYCLONEDX, json.loads(path.read_bytes())))
    ledger.record(
        statement,
        ArtifactKind.ATTESTATION,
        target=archive.target,
        relations={"attests": [archive.id], "sbom": [sbom.id]},
        facts={"predicate_type": signed_release.CYCLONEDX},
    )
    ledger.save()
    signed_release.sign(product)
    return product


def published_release(folder: Path) -> Path:
    """A signed fake release 1.4.0, published to stable and lts/1.4, with a changelog and one statement."""
    product = _signed_with_components(folder)
    shutil.copyfile(PRODUCT / "CHANGELOG.md", product / "CHANGELOG.md")
    (product / "ssdf-statements.toml").write_text('[tasks."PO.2.2"]\nstatement = "Maintainers train yearly."\n')
    settings = config.load(product / "pyproject.toml")
    ledger = Ledger.load(signed_release.release_root(product))
    repository.repository(settings, snapshot=True).publish(ledger, ["stable", "lts/1.4"])
    return product


def working_copy(published: Path, tmp_path: Path) -> Path:
    """A test's own copy of the published product and its folders (dist, state, public)."""
    shutil.copytree(published.parent, tmp_path / "w", symlinks=True)
    return tmp_path / "w" / published.name


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return published_release(tmp_path_factory.mktemp("procurement"))


@pytest.fixture
def product(published: Path, tmp_path: Path) -> Path:
    return working_copy(published, tmp_path)


def _build(product: Path) -> tuple[Path, dict[str, Any]]:
    settings = config.load(product / "pyproject.toml")
    summary = procurement.build(settings, QUARTER, TODAY)
    return Path(summary["packet"]), summary


def _read(packet: Path, name: str) -> Any:
    return json.loads((packet / name).read_text(encoding="utf-8"))


def test_the_packet_maps_every_task_once_with_evidence_that_is_in_it(product: Path) -> None:
    packet, summary = _build(product)
    assert summary["releases"] == ["1.4.0"] and summary["verified"] is True
    ssdf = _read(packet, "ssdf/mapping.json")
    ids = [row["id"] for row in ssdf["tasks"]]
    assert ids == [t.id for t in catalog.tasks()] and len(set(ids)) == 42
    for row in ssdf["tasks"]:
        for item in row["evidence"]:
            path = packet / item["path"]
            assert path.is_file(), (row["id"], item)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == item["sha256"], (row["id"], item)
    rows = {row["id"]: row for row in ssdf["tasks"]}
    signed = rows["PS.2.1"]
    assert signed["status"] == "met"
    paths = [e["path"] for e in signed["evidence"]]
    assert "releases/1.4.0/verify-release.json" in paths and "releases/1.4.0/transparency-log.json" in paths
    assert any(p.endswith(".sigstore.json") for p in paths)
    assert rows["PS.3.2"]["status"] == "met"
    assert any(p.endswith(".cdx.json") for p in (e["path"] for e in rows["PS.3.2"]["evidence"]))
    # The fake release has no compilation report, only its ledger; and hardening is not checked: partly met.
    assert rows["PW.6.1"]["status"] == "partly met"
    assert [e["path"] for e in rows["PW.6.1"]["evidence"]] == ["releases/1.4.0/release-manifest.json"]
    draft = _read(packet, "ssdf/draft-1.2.json")
    assert draft["draft"] is True and [r["id"] for r in draft["tasks"]][:3] == ["PO.6.1", "PO.6.2", "PO.6.3"]
    assert {r["id"]: r["status"] for r in draft["tasks"]}["PS.4.3"] == "met"  # the TUF root is in the packet
    assert not set(ids) & {r["id"] for r in draft["tasks"]}
    # The fake release was never reproduced (it has no commit to rebuild from): listed, and PO.3.2 not met.
    (reproduced,) = _read(packet, "reproducibility/summary.json")["releases"]
    assert reproduced["reproduced"] is False and "opencode-release reproduce --version 1.4.0" in reproduced["note"]
    assert rows["PO.3.2"]["status"] == "not met" and summary["reproducibility"] == {"1.4.0": "not reproduced"}


def test_a_missing_organisational_statement_is_marked_missing_and_a_given_one_is_cited(product: Path) -> None:
    packet, _ = _build(product)
    rows = {row["id"]: row for row in _read(packet, "ssdf/mapping.json")["tasks"]}
    assert rows["PO.2.2"]["missing"] is False and rows["PO.2.2"]["how"] == "Maintainers train yearly."
    assert rows["PO.2.2"]["evidence"][0]["path"] == "ssdf/ssdf-statements.toml"
    assert rows["RV.1.3"]["missing"] is True
    assert rows["RV.1.3"]["how"] == (
        "MISSING: ssdf-statements.toml has no statement on a vulnerability disclosure and remediation policy"
    )


def test_the_verification_and_the_log_evidence_are_recorded_per_bundle(product: Path) -> None:
    packet, _ = _build(product)
    result = _read(packet, "releases/1.4.0/verify-release.json")
    assert result["ok"] is True and result["artifacts"] and all(a["ok"] for a in result["artifacts"])
    logs = _read(packet, "releases/1.4.0/transparency-log.json")
    ledger = Ledger.load(signed_release.release_root(product))
    assert sorted(logs) == sorted(a.path for a in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE))
    for entries in logs.values():
        (entry,) = entries
        assert entry["log_id"] and entry["log_index"] is not None and entry["integrated_time"]
        assert entry["inclusion_proof"]["root_hash"] and entry["inclusion_proof"]["hashes"]
        assert entry["checkpoint"].startswith("opencode-release.local/rekor")
    trust = {t["name"]: t for t in _read(packet, "trust/fingerprints.json")}
    assert trust["tuf-root.json"]["keys"] and trust["sigstore-trusted-root.json"]["keys"]
    assert trust["apt-archive-keyring.asc"]["missing"] is True  # the fake release has no apt repository
    lifecycle = _read(packet, "lifecycle.json")
    assert [d["subject"] for d in lifecycle["deprecations_in_force"]] == ["opencode config --global-file"]


def test_a_release_that_fails_verification_lowers_ps_2_1(product: Path) -> None:
    root = signed_release.release_root(product)
    sbom = root / "opencode-1.4.0-linux-x86_64-gnu.tar.gz.cdx.json"
    sbom.write_bytes(sbom.read_bytes().replace(b"CycloneDX", b"CycloneDY"))
    packet, summary = _build(product)
    assert summary["verified"] is False
    row = {r["id"]: r for r in _read(packet, "ssdf/mapping.json")["tasks"]}["PS.2.1"]
    assert row["status"] == "partly met" and row["how"].endswith("does not hold: verification-passed")
    assert _read(packet, "releases/1.4.0/verify-release.json")["ok"] is False


def test_the_command_fails_on_a_release_that_does_not_verify_and_publishes_nothing(
    product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from opencode_release.cli import program

    root = signed_release.release_root(product)
    sbom = root / "opencode-1.4.0-linux-x86_64-gnu.tar.gz.cdx.json"
    sbom.write_bytes(sbom.read_bytes().replace(b"CycloneDX", b"CycloneDY"))
    argv = ["procurement", "--quarter", QUARTER, "--project", str(product), "--publish", "--snapshot", "--json"]
    code = program.main(argv)
    document = json.loads(capsys.readouterr().out)
    assert code == 1 and document["error"].startswith(f"procurement {QUARTER}: release 1.4.0 does not verify (")
    assert "channel_repository" not in document and Path(document["packet"], "scope.json").is_file()
    metadata = product.parent / "public" / "metadata"
    assert not any(f"procurement/{QUARTER}/" in p.read_text() for p in metadata.glob("*.json"))
    code = program.main([*argv, "--allow-unverified"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["verified"] is False and document["channel_repository"]["published"]
    assert any(f"procurement/{QUARTER}/" in p.read_text() for p in metadata.glob("*.json"))


def test_bad_input_writes_nothing(product: Path) -> None:
    settings = config.load(product / "pyproject.toml")
    with pytest.raises(UsageError):
        procurement.build(settings, "2026-Q5", TODAY)
    with pytest.raises(CheckFailed) as err:
        procurement.build(settings, "2020-Q1", TODAY)
    assert str(err.value) == (
        "procurement 2020-Q1: no release in scope: the stable channel lists none published by 2020-03-31; "
        "publish a release first"
    )
    (product / "ssdf-statements.toml").write_text('[tasks."PS.2.1"]\nstatement = "x"\n')
    with pytest.raises(UsageError, match="is not an organisational SSDF task"):
        procurement.build(settings, QUARTER, TODAY)
    shutil.rmtree(signed_release.release_root(product))
    (product / "ssdf-statements.toml").unlink()
    with pytest.raises(UsageError, match=r"^release 1\.4\.0 is in scope but .*release-manifest\.json does not exist"):
        procurement.build(settings, QUARTER, TODAY)
    assert not (product.parent / "dist" / "procurement").exists()


def test_the_command_dry_run_writes_nothing_and_a_bad_quarter_is_usage(
    product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from opencode_release.cli import program

    code = program.main(["procurement", "--quarter", QUARTER, "--project", str(product), "--dry-run", "--json"])
    document = json.loads(capsys.readouterr().out)
    why = document["releases"]["1.4.0"]
    assert code == 0 and list(document["releases"]) == ["1.4.0"] and why[-1] == "latest stable"
    assert why[0].startswith("lts/1.4 (in support ")
    assert not (product.parent / "dist" / "procurement").exists()
    code = program.main(["procurement", "--quarter", "Q4", "--project", str(product), "--json"])
    assert code == 2 and "expected YYYY-QN" in json.loads(capsys.readouterr().out)["error"]


def test_list_scope_reads_only_the_channel_and_unsigned_writes_no_bundle(
    product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from opencode_release.cli import program

    # CI's quarterly job lists the scope before the release folders are there
    shutil.rmtree(signed_release.release_root(product))
    code = program.main(["procurement", "--quarter", QUARTER, "--project", str(product), "--list-scope", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["quarter"] == QUARTER and list(document["releases"]) == ["1.4.0"]
    assert not (product.parent / "dist" / "procurement").exists()
    code = program.main(["procurement", "--quarter", QUARTER, "-p", str(product), "--unsigned", "--publish", "--json"])
    assert code == 2 and "only a signed packet is published" in json.loads(capsys.readouterr().out)["error"]


def test_an_unsigned_packet_has_its_manifest_and_zip_and_no_bundle(product: Path) -> None:
    settings = config.load(product / "pyproject.toml")
    summary = procurement.build(settings, QUARTER, TODAY, unsigned=True)
    assert summary["signed"] is False and summary["bundles"] == []
    assert Path(summary["manifest"]).is_file() and Path(summary["zip"]).is_file()
    made = product.parent / "dist" / "procurement"
    assert not list(made.glob("*.sigstore.json")) and not list(made.glob(f"{QUARTER}/*.sigstore.json"))


def test_the_previous_quarter_is_the_one_before_todays() -> None:
    assert procurement.previous_quarter(dt.date(2027, 1, 1)) == "2026-Q4"
    assert procurement.previous_quarter(dt.date(2026, 4, 1)) == "2026-Q1"
    assert procurement.previous_quarter(dt.date(2026, 12, 31)) == "2026-Q3"


def _verify(product: Path, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    from opencode_release.cli import program

    code = program.main(["verify", str(path), "--instance", "local", "--project", str(product), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_packet_is_signed_and_verify_checks_every_file_in_it(
    product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packet, summary = _build(product)
    manifest = packet / "packet-manifest.json"
    listed = [f["path"] for f in json.loads(manifest.read_text())["files"]]
    assert "ssdf/mapping.json" in listed and "packet-manifest.json" not in listed
    code, document = _verify(product, manifest, capsys)
    assert code == 0 and document["artifacts"][0]["passed"][-1] == "packet-files"
    assert _verify(product, Path(summary["zip"]), capsys)[0] == 0
    # A changed file inside: the manifest's signature still holds, the folder no longer matches it.
    fingerprints = packet / "trust" / "fingerprints.json"
    fingerprints.write_text(fingerprints.read_text().replace("sha256:", "sha256:0"))
    code, document = _verify(product, manifest, capsys)
    failed = document["artifacts"][0]["failed"]
    assert code == 1 and failed["check"] == "packet-digest"
    assert failed["reason"].startswith("trust/fingerprints.json has sha256 ")


def test_an_added_or_removed_file_fails_the_packet(product: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packet, _ = _build(product)
    manifest = packet / "packet-manifest.json"
    (packet / "ssdf" / "extra.json").write_text("{}")
    code, document = _verify(product, manifest, capsys)
    assert code == 1 and document["artifacts"][0]["failed"] == {
        "check": "packet-unlisted",
        "reason": "ssdf/extra.json is in the packet but not in its manifest",
    }
    (packet / "ssdf" / "extra.json").unlink()
    (packet / "lifecycle.json").unlink()
    code, document = _verify(product, manifest, capsys)
    assert code == 1 and document["artifacts"][0]["failed"]["check"] == "listed-file"


def test_a_changed_zip_fails_and_the_same_inputs_give_the_same_zip(
    product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, summary = _build(product)
    first = Path(summary["zip"]).read_bytes()
    _, again = _build(product)
    assert Path(again["zip"]).read_bytes() == first
    zipped = Path(again["zip"])
    zipped.write_bytes(first.replace(b"lifecycle.json", b"lifecycle.jsoN", 1))
    code, document = _verify(product, zipped, capsys)
    assert code == 1 and document["artifacts"][0]["failed"]["check"] == "sigstore"


def test_without_an_osv_export_the_packet_says_so(product: Path) -> None:
    packet, summary = _build(product)
    assert summary["vulnerabilities"] == {"findings": None, "untriaged": None}
    assert _read(packet, "vex/vulnerabilities.json")["osv_export"] is None
    rows = {r["id"]: r for r in _read(packet, "ssdf/mapping.json")["tasks"]}
    assert rows["PW.4.4"]["status"] == "partly met" and rows["PW.4.4"]["how"].endswith(
        "not in this packet: vulnerabilities"
    )


def test_vex_from_the_osv_export_and_the_triage_with_the_untriaged_listed(product: Path) -> None:
    from tests.unit.test_procurement_vex import TRIAGE, export

    export(product)
    (product / "vex-triage.toml").write_text(TRIAGE)
    with (product / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.opencode-release.procurement]\nosv-export = "all.zip"\n')
    packet, summary = _build(product)
    assert summary["vulnerabilities"] == {"findings": 3, "untriaged": 1}
    found = _read(packet, "vex/vulnerabilities.json")["findings"]
    assert [(f["component"], f["state"], f["triaged"]) for f in found] == [
        ("pkg:pypi/idna@3.6", "affected", True),
        ("pkg:pypi/jinja2@3.1.2", "under_investigation", False),
        ("pkg:pypi/requests@2.31.0", "not_affected", True),
    ]
    assert len(_read(packet, "vex/openvex.json")["statements"]) == 3
    assert len(_read(packet, "vex/cyclonedx-vex.json")["vulnerabilities"]) == 3
    rows = {r["id"]: r for r in _read(packet, "ssdf/mapping.json")["tasks"]}
    assert rows["PW.4.4"]["status"] == "met"
    assert "vex/openvex.json" in [e["path"] for e in rows["RV.2.1"]["evidence"]]
    form = _read(packet, "attestation/cisa-attestation-draft.json")
    assert form["draft"] is True and len(form["statements"]) == 4
    (product / "all.zip").unlink()
    with pytest.raises(UsageError, match=r"procurement\.osv-export = 'all\.zip': no such file"):
        _build(product)


def test_an_osv_export_by_url_is_fetched_from_a_loopback_server_and_a_failed_fetch_writes_nothing(
    product: Path,
) -> None:
    from tests.integration.channel_helpers import serve
    from tests.unit.test_procurement_vex import TRIAGE, export

    served = product.parent / "served"
    served.mkdir()
    data = export(served).read_bytes()
    (product / "vex-triage.toml").write_text(TRIAGE)
    text = (product / "pyproject.toml").read_text()
    with serve(served) as url:
        (product / "pyproject.toml").write_text(
            text + f'\n[tool.opencode-release.procurement]\nosv-export = "{url}/all.zip"\n'
        )
        packet, summary = _build(product)
        assert summary["vulnerabilities"] == {"findings": 3, "untriaged": 1}
        document = _read(packet, "vex/vulnerabilities.json")
        assert document["osv_export"] == f"{url}/all.zip"
        assert document["osv_export_sha256"] == hashlib.sha256(data).hexdigest()
        shutil.rmtree(product.parent / "dist" / "procurement")
        (product / "pyproject.toml").write_text(
            text + f'\n[tool.opencode-release.procurement]\nosv-export = "{url}/gone.zip"\n'
        )
        with pytest.raises(ReleaseError, match=r"procurement\.osv-export: http://127\.0\.0\.1:\d+/gone\.zip: HTTP 404"):
            _build(product)
    assert not (product.parent / "dist" / "procurement").exists()


def test_the_report_renders_every_section_and_every_ssdf_task(product: Path, tmp_path: Path) -> None:
    import subprocess

    from opencode_release.procurement import report

    packet, _ = _build(product)
    pdf = packet / "report" / "report.pdf"
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    by_page = text.split("\f")[: len(pages)]
    titles = [part.title for part in report.sections(packet)]
    # One section at least per page; the SSDF table runs over several.
    assert len(pages) == text.count("\f") and len(pages) >= len(titles)
    assert all(p.stat().st_size > 1000 for p in pages)  # rendered, not blank
    for title in titles:
        assert any(title in page for page in by_page), title
    for task in (*catalog.tasks(), *catalog.draft_tasks()):
        assert f"{task.id} " in text, task.id
    assert by_page[0].lstrip().startswith(f"opencode procurement packet {QUARTER}")
    html = (packet / "report" / "report.html").read_text()
    assert all(f"<td>{t.id}</td>" in html for t in catalog.tasks()) and "<svg" in html
    listed = [f["path"] for f in _read(packet, "packet-manifest.json")["files"]]
    assert "report/report.pdf" in listed and "report/report.html" in listed


def test_the_packet_is_published_under_its_lts_line_and_a_tuf_client_downloads_it(
    product: Path, tmp_path: Path
) -> None:
    import time

    from tuf.ngclient import Updater

    from opencode_release.channels.update_client import BoundedFetcher

    _, summary = _build(product)
    settings = config.load(product / "pyproject.toml")
    assert procurement.publish(settings, QUARTER, snapshot=True, dry_run=True) == {
        "would_publish": [
            f"lts/1.4/procurement/{QUARTER}/{QUARTER}.zip",
            f"lts/1.4/procurement/{QUARTER}/{QUARTER}.zip.sigstore.json",
        ]
    }
    published = procurement.publish(settings, QUARTER, snapshot=True)
    assert published["published"]["status"] == "published" and published["published"]["channels"] == ["lts/1.4"]
    assert procurement.publish(settings, QUARTER, snapshot=True)["published"]["status"] == "unchanged"
    repo = (product.parent / "public").as_uri()
    (tmp_path / "metadata").mkdir()
    updater = Updater(
        str(tmp_path / "metadata"),
        f"{repo}/metadata/",
        str(tmp_path),
        f"{repo}/targets/",
        fetcher=BoundedFetcher(time.monotonic() + 60),
        bootstrap=(product.parent / "public" / "metadata" / "1.root.json").read_bytes(),
    )
    updater.refresh()
    info = updater.get_targetinfo(f"lts/1.4/procurement/{QUARTER}/{QUARTER}.zip")
    assert info is not None
    downloaded = updater.download_target(info, str(tmp_path / "packet.zip"))
    assert Path(downloaded).read_bytes() == Path(summary["zip"]).read_bytes()
    # The stable channel has no packet: only LTS lines carry it.
    stable = json.loads((product.parent / "public" / "stable" / "index.json").read_text())
    assert "procurement" not in json.dumps(stable)


def test_publishing_a_packet_that_was_not_made_is_refused(product: Path) -> None:
    settings = config.load(product / "pyproject.toml")
    with pytest.raises(UsageError) as err:
        procurement.publish(settings, "2026-Q1", snapshot=True)
    assert str(err.value).endswith(
        "2026-Q1.zip: no signed packet for 2026-Q1; run `opencode-release procurement --quarter 2026-Q1`"
    )
