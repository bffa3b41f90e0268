"""verify-image against a real registry: it passes on the pushed image, and each check fails on its own tamper."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from opencode_release.core import oci
from opencode_release.core.ledger import ArtifactKind, Ledger
from opencode_release.images import publish as publishing
from opencode_release.verify.image import check_binary

from .image_helpers import cli, publish
from .registry_server import RegistryServer


def _verify(product: Path, reference: str, *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    root = product.parent / "dist" / "1.4.0"
    done = cli(
        "verify-image",
        reference,
        "--instance",
        "local",
        "--trusted-root",
        str(root / "sigstore-trusted-root.json"),
        "--json",
        *extra,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)["artifacts"], done.stderr


def _ledger(product: Path) -> Ledger:
    return Ledger.load(product.parent / "dist" / "1.4.0")


def _push(product: Path, server: RegistryServer, repo: str, keep: Any = None, tags: list[str] | None = None) -> None:
    """Push with only the referrers `keep` accepts (all by default)."""
    ledger = _ledger(product)
    plan = publishing.plan(ledger, f"{server.host}/{repo}")
    plan.referrers = [r for r in plan.referrers if keep is None or keep(r)]
    if tags is not None:
        plan.tags = tags
    publishing.push(ledger, plan, oci.Registry(server.host, repo))


def _failed(rows: list[dict[str, Any]]) -> dict[str, Any]:
    failures: list[dict[str, Any]] = [r["failed"] for r in rows if not r["ok"]]
    assert failures, rows
    return failures[0]


def test_the_pushed_image_verifies_with_its_binary(
    signed_image_product: Path, session_registry: RegistryServer
) -> None:
    repository = f"{session_registry.host}/opencode/verified"
    publish(signed_image_product, repository)
    code, rows, stderr = _verify(signed_image_product, f"{repository}:1.4.0", "--binary")
    assert code == 0, stderr
    (index, manifest) = rows
    assert index["kind"] == oci.INDEX and manifest["kind"] == oci.MANIFEST
    for check in ("digest", "bundle", "sigstore", "identity", "sbom-statement", "release-statement"):
        assert check in index["passed"] and check in manifest["passed"]
    assert "release" in index["passed"] and {"layer", "binary"} <= set(manifest["passed"])
    digest = _ledger(signed_image_product).by_kind(ArtifactKind.IMAGE_MANIFEST)[0].facts["digest"]
    code, rows, _ = _verify(signed_image_product, f"{repository}@{digest}")
    assert code == 0 and len(rows) == 1
    for tag in ("1.4", "stable"):
        assert _verify(signed_image_product, f"{repository}:{tag}")[0] == 0


def test_an_image_of_another_channel_than_asked_is_refused(
    signed_image_product: Path, session_registry: RegistryServer
) -> None:
    repository = f"{session_registry.host}/opencode/channel"
    publish(signed_image_product, repository)
    code, rows, _ = _verify(signed_image_product, f"{repository}:1.4.0", "--channel", "nightly")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "channel"
    assert "of channel 'stable'; --channel asked for 'nightly'" in failed["reason"]
    code, rows, _ = _verify(signed_image_product, f"{repository}:1.4.0", "--channel", "stable")
    assert code == 0 and all("channel" in row["passed"] for row in rows)


def test_a_retagged_image_of_another_release_is_refused(signed_image_product: Path, registry: RegistryServer) -> None:
    _push(signed_image_product, registry, "opencode/retagged", tags=["1.5.0"])
    code, rows, _ = _verify(signed_image_product, f"{registry.host}/opencode/retagged:1.5.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "release"
    assert "tag 1.5.0 names an image of opencode 1.4.0" in failed["reason"]


def test_a_swapped_layer_is_refused(signed_image_product: Path, registry: RegistryServer) -> None:
    _push(signed_image_product, registry, "opencode/swapped")
    (manifest,) = _ledger(signed_image_product).by_kind(ArtifactKind.IMAGE_MANIFEST)
    stored = registry.blob_data(str(manifest.facts["layer"]))
    stored.write_bytes(stored.read_bytes()[:-64] + b"\0" * 64)
    code, rows, _ = _verify(signed_image_product, f"{registry.host}/opencode/swapped:1.4.0", "--binary")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "layer" and "do not match their digest" in failed["reason"]


def test_a_missing_bundle_is_refused(signed_image_product: Path, registry: RegistryServer) -> None:
    _push(signed_image_product, registry, "opencode/unsigned", keep=lambda r: r.evidence != "signature")
    code, rows, _ = _verify(signed_image_product, f"{registry.host}/opencode/unsigned:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "bundle" and "no Sigstore bundle signs" in failed["reason"]


def test_a_foreign_bundle_is_refused(signed_image_product: Path, registry: RegistryServer) -> None:
    ledger = _ledger(signed_image_product)
    plan = publishing.plan(ledger, f"{registry.host}/opencode/foreign")
    (index,) = ledger.by_kind(ArtifactKind.IMAGE_INDEX)
    mine = next(r for r in plan.referrers if r.evidence == "signature" and r.subject == index.facts["digest"])
    theirs = next(r for r in plan.referrers if r.evidence == "signature" and r.subject != index.facts["digest"])
    # the manifest's bundle, attached to the index as if it signed it
    subject = json.loads(mine.manifest)["subject"]
    forged = publishing.referrer_manifest(
        subject, theirs.bundle, "message-signature", publishing.SIGN_PREDICATE, "signature", ledger.source.epoch
    )
    plan.referrers = [dataclasses.replace(mine, manifest=forged, bundle=theirs.bundle)] + [
        r for r in plan.referrers if r is not mine
    ]
    publishing.push(ledger, plan, oci.Registry(registry.host, "opencode/foreign"))
    code, rows, _ = _verify(signed_image_product, f"{registry.host}/opencode/foreign:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "sigstore"


def test_a_manifest_edited_after_signing_is_refused(signed_image_product: Path, registry: RegistryServer) -> None:
    _push(signed_image_product, registry, "opencode/edited")
    (index,) = _ledger(signed_image_product).by_kind(ArtifactKind.IMAGE_INDEX)
    stored = registry.blob_data(str(index.facts["digest"]))
    stored.write_bytes(stored.read_bytes().replace(b'"1.4.0"', b'"1.4.9"'))
    code, rows, _ = _verify(signed_image_product, f"{registry.host}/opencode/edited:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == "digest" and "altered after it was pushed" in failed["reason"]


@pytest.mark.parametrize(
    ("evidence", "check"), [("sbom", "sbom-statement"), ("release-statement", "release-statement")]
)
def test_missing_statements_are_refused(
    signed_image_product: Path, registry: RegistryServer, evidence: str, check: str
) -> None:
    repo = f"opencode/no-{evidence}"
    _push(signed_image_product, registry, repo, keep=lambda r: r.evidence != evidence)
    code, rows, _ = _verify(signed_image_product, f"{registry.host}/{repo}:1.4.0")
    failed = _failed(rows)
    assert code == 1 and failed["check"] == check


def test_an_image_not_in_the_registry_is_a_resolve_failure(
    signed_image_product: Path, registry: RegistryServer
) -> None:
    code, rows, _ = _verify(signed_image_product, f"{registry.host}/opencode/absent:1.4.0")
    assert code == 1 and _failed(rows)["check"] == "resolve"


def test_a_binary_other_than_the_listed_one_is_refused() -> None:
    from opencode_release.core.errors import VerificationError

    with pytest.raises(VerificationError, match="binary: /usr/local/bin/opencode has sha256 aa"):
        check_binary("img", "/usr/local/bin/opencode", "aa", "bb", "linux-x86_64-gnu/opencode")
    with pytest.raises(VerificationError, match="binary: the layers hold no file"):
        check_binary("img", "/usr/local/bin/opencode", None, "bb", "linux-x86_64-gnu/opencode")
