"""An image released as CI releases it: the merge job's image and SBOMs, the attest job's two signed statements
(provenance, release statement with `signatures: statement`; tests/integration/ci_signed.py), then the publish
phase (`collect --from attested --phase publish --image-registry R`, as the generated publish job runs it) that
verifies the release and pushes the image. verify-image accepts it through the signed release statement and the provenance, and each
check of that path fails on its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opencode_release.core import config, oci
from opencode_release.core.errors import CheckFailed
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.images import publish as publishing
from opencode_release.release import merge
from opencode_release.release.ci_sim import simulate

from .ci_signed import attest_like_ci, sign_as_statements
from .image_helpers import GNU, cli, configure, run
from .registry_server import RegistryServer
from .signed_release import copy_release, release_root


def _merged(built_product: Path, into: Path) -> tuple[Path, config.Settings]:
    """The merge job's release: the built binaries, the C library the build job carried for the image (as a
    CI build job does on its own runner), their image and the SBOMs, nothing signed."""
    product = copy_release(built_product, into)
    settings = configure(product, GNU)
    carried = cli("carry-libc", "--target", "linux-x86_64-gnu", "--project", str(product), "--json")
    assert carried.returncode == 0, carried.stderr
    run(settings, "image", "sbom")
    return product, settings


@pytest.fixture(scope="module")
def ci_release(
    built_product: Path, session_registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, dict[str, Any]]:
    """(product, trusted root, collect's JSON): released through the publish phase into session_registry."""
    product, settings = _merged(built_product, tmp_path_factory.mktemp("ci-image"))
    attested = product.parent / "attested"
    root = attest_like_ci(settings, Ledger.load(release_root(product)), attested)
    done = cli(
        "collect", "--project", str(product), "--from", str(attested), "--phase", "publish",
        "--version", "1.4.0", "--instance", "local", "--snapshot", "--json",
        "--image-registry", f"{session_registry.host}/opencode/ci",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return product, root, json.loads(done.stdout)


def _verify(root: Path, reference: str, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    done = cli("verify-image", reference, "--instance", "local", "--trusted-root", str(root), "--json", *extra)
    assert "Traceback" not in done.stderr, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)["artifacts"]
    return done.returncode, rows


def _failed(rows: list[dict[str, Any]]) -> dict[str, Any]:
    failures: list[dict[str, Any]] = [r["failed"] for r in rows if not r["ok"]]
    assert failures, rows
    return failures[0]


def _push(product: Path, server: RegistryServer, repo: str, keep: Any = None) -> None:
    ledger = Ledger.load(release_root(product))
    plan = publishing.plan(ledger, f"{server.host}/{repo}")
    plan.referrers = [r for r in plan.referrers if keep is None or keep(r)]
    publishing.push(ledger, plan, oci.Registry(server.host, repo))


def test_the_publish_phase_pushes_the_image_and_verify_image_accepts_it(
    ci_release: tuple[Path, Path, dict[str, Any]], session_registry: RegistryServer
) -> None:
    product, root, collected = ci_release
    statuses = {s["name"]: s["status"] for s in collected["stages"]}
    assert statuses["verify"] == "ran" and statuses["publish-image"] == "ran", collected["stages"]
    ledger = Ledger.load(release_root(product))
    assert not [b for b in ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE) if "oci" in b.path], "no image is signed"
    # the carried C library is part of the release the publish phase verified (its signed statement lists it)
    assert ledger.by_kind(ArtifactKind.IMAGE_LIBC, target="linux-x86_64-gnu")
    code, rows = _verify(root, f"{session_registry.host}/opencode/ci:1.4.0", "--binary")
    assert code == 0, rows
    index, manifest = rows
    for row in (index, manifest):
        assert {"release-statement", "sigstore", "identity", "provenance", "provenance-builder"} <= set(row["passed"])
        assert {"provenance-subject", "sbom-statement"} <= set(row["passed"]) and "bundle" not in row["passed"]
    assert "release" in index["passed"] and "binary" in manifest["passed"]
    evidence = {e["annotations"][publishing.EVIDENCE]: e["artifactType"] for e in _fallback(session_registry, index)}
    assert evidence == {
        "provenance": oci.SIGSTORE_BUNDLE,
        "release-statement": oci.SIGSTORE_BUNDLE,
        "sbom": oci.IN_TOTO,
    }


def _fallback(server: RegistryServer, row: dict[str, Any]) -> list[dict[str, Any]]:
    digest = row["artifact"].rsplit("@", 1)[1]
    found = oci.Registry(server.host, "opencode/ci").get_manifest(oci.fallback_tag(digest))
    assert found is not None
    entries: list[dict[str, Any]] = json.loads(found.data)["manifests"]
    return entries


def test_without_the_provenance_it_is_refused(
    ci_release: tuple[Path, Path, dict[str, Any]], registry: RegistryServer
) -> None:
    product, root, _ = ci_release
    _push(product, registry, "opencode/no-provenance", keep=lambda r: r.evidence != "provenance")
    code, rows = _verify(root, f"{registry.host}/opencode/no-provenance:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "provenance" and "no signed provenance" in failed["reason"]


def test_an_sbom_statement_the_release_statement_does_not_list_is_refused(
    ci_release: tuple[Path, Path, dict[str, Any]], registry: RegistryServer
) -> None:
    product, root, _ = ci_release
    ledger = Ledger.load(release_root(product))
    plan = publishing.plan(ledger, f"{registry.host}/opencode/unlisted-sbom")
    swapped = []
    for r in plan.referrers:
        if r.evidence == "sbom":
            # the same statement with one byte more: still about this image, but not what was signed
            forged = r.bundle + b"\n"
            subject = json.loads(r.manifest)["subject"]
            manifest = publishing.referrer_manifest(subject, forged, "", "", "sbom", ledger.source.epoch, oci.IN_TOTO)
            r = publishing.Referrer(r.subject, "sbom", manifest, forged, oci.IN_TOTO)
        swapped.append(r)
    plan.referrers = swapped
    publishing.push(ledger, plan, oci.Registry(registry.host, "opencode/unlisted-sbom"))
    code, rows = _verify(root, f"{registry.host}/opencode/unlisted-sbom:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "sbom-statement" and "lists for" in failed["reason"]


def _variant(built_product: Path, into: Path, **attest: Any) -> tuple[Path, Path]:
    """A merged release whose attest job signed otherwise, its signatures recorded as the publish job does."""
    product, settings = _merged(built_product, into)
    ledger = Ledger.load(release_root(product))
    root = attest_like_ci(settings, ledger, product.parent / "attested", **attest)
    merge.import_signatures(ledger, product.parent / "attested")
    return product, root


def test_a_provenance_of_another_builder_is_refused(
    built_product: Path, registry: RegistryServer, tmp_path: Path
) -> None:
    product, root = _variant(built_product, tmp_path, builder="https://builder.example/forged@v1")
    _push(product, registry, "opencode/other-builder")
    code, rows = _verify(root, f"{registry.host}/opencode/other-builder:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "provenance-builder" and "forged" in failed["reason"]


def test_a_provenance_that_names_no_image_is_refused(
    built_product: Path, registry: RegistryServer, tmp_path: Path
) -> None:
    product, root = _variant(built_product, tmp_path, images=False)
    ledger = Ledger.load(release_root(product))
    # a hostile publisher's ledger says the provenance is about the images, so it is attached to them
    (provenance,) = ledger.by_kind(ArtifactKind.PROVENANCE)
    images = [a.id for a in (*ledger.by_kind(ArtifactKind.IMAGE_INDEX), *ledger.by_kind(ArtifactKind.IMAGE_MANIFEST))]
    relations = {"provenance_of": [*provenance.related("provenance_of"), *images]}
    ledger.record(ledger.file(provenance), ArtifactKind.PROVENANCE, relations=relations, facts=dict(provenance.facts))
    ledger.save()
    _push(product, registry, "opencode/unnamed")
    code, rows = _verify(root, f"{registry.host}/opencode/unnamed:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "provenance-subject"


def test_a_signed_provenance_other_than_the_listed_one_is_refused(
    ci_release: tuple[Path, Path, dict[str, Any]], registry: RegistryServer, tmp_path: Path
) -> None:
    product, root, _ = ci_release
    ledger = Ledger.load(release_root(product))
    settings = config.load(product / "pyproject.toml")
    # signed by the same identity, about the same files, but not the provenance the release statement lists
    other = (release_root(product) / "provenance.intoto.json").read_bytes() + b" "
    sign_as_statements(settings, {"provenance.intoto.json": other}, tmp_path / "other")
    bundle = (tmp_path / "other" / "provenance.intoto.json.sigstore.json").read_bytes()
    plan = publishing.plan(ledger, f"{registry.host}/opencode/other-provenance")
    replaced = []
    for r in plan.referrers:
        if r.evidence == "provenance":
            subject = json.loads(r.manifest)["subject"]
            manifest = publishing.referrer_manifest(
                subject, bundle, "dsse-envelope", "", "provenance", ledger.source.epoch
            )
            r = publishing.Referrer(r.subject, "provenance", manifest, bundle)
        replaced.append(r)
    plan.referrers = replaced
    publishing.push(ledger, plan, oci.Registry(registry.host, "opencode/other-provenance"))
    code, rows = _verify(root, f"{registry.host}/opencode/other-provenance:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "provenance" and "not the one the signed statement" in failed["reason"]


def test_the_release_statement_may_come_from_the_release_instead_of_the_registry(
    ci_release: tuple[Path, Path, dict[str, Any]], registry: RegistryServer, tmp_path: Path
) -> None:
    product, root, _ = ci_release
    _push(product, registry, "opencode/given", keep=lambda r: r.evidence != "release-statement")
    reference = f"{registry.host}/opencode/given:1.4.0"
    code, rows = _verify(root, reference)
    assert code == 1 and _failed(rows)["check"] == "release-statement"
    shipped = release_root(product) / "release.intoto.json.sigstore.json"
    code, rows = _verify(root, reference, "--release-statement", str(shipped))
    assert code == 0 and len(rows) == 2, rows

    # a statement signed by the same identity that lists no image of this release is refused
    statement = json.loads((release_root(product) / "release.intoto.json").read_bytes())
    kept = [f for f in statement["predicate"]["files"] if not f["kind"].startswith("oci-image")]
    statement["predicate"]["files"] = kept
    statement["subject"] = [{"name": f["path"], "digest": {"sha256": f["sha256"]}} for f in kept]
    settings = config.load(product / "pyproject.toml")
    sign_as_statements(settings, {"release.intoto.json": json.dumps(statement).encode()}, tmp_path / "other")
    other = tmp_path / "other" / "release.intoto.json.sigstore.json"
    code, rows = _verify(root, reference, "--release-statement", str(other))
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "release-statement" and "lists no image" in failed["reason"]

    done = cli("verify-image", reference, "--release-statement", str(tmp_path / "absent.json"), "--json")
    assert done.returncode == 2 and "--release-statement" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_simulations_closing_verify_image_fails_the_run_on_a_failing_row(
    ci_release: tuple[Path, Path, dict[str, Any]], session_registry: RegistryServer
) -> None:
    # `ci --simulate` ends with verify-image of the pushed tag (release/ci_sim/simulate.py): a row that fails
    # must fail the run, one line naming the reference and the check
    product, _, _ = ci_release
    settings = config.load(product / "pyproject.toml")
    reference = f"{session_registry.host}/opencode/ci:9.9.9"  # a tag the publish phase never pushed
    with pytest.raises(CheckFailed) as caught:
        simulate.verify_pushed(settings, reference, "local", "stable")
    assert str(caught.value).startswith(f"ci --simulate: verify-image {reference}: ") and "\n" not in str(caught.value)
