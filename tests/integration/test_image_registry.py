"""publish-image against a real registry (Distribution 2.8: no referrers API, so the fallback tag), read back by skopeo."""

from __future__ import annotations

import json
from pathlib import Path

from opencode_release.core import oci
from opencode_release.core.ledger import ArtifactKind, Ledger

from .image_helpers import cli, publish, skopeo
from .registry_server import RegistryServer


def test_publish_pushes_the_image_its_tags_and_its_bundles_as_referrers(
    signed_image_product: Path, session_registry: RegistryServer
) -> None:
    repository = f"{session_registry.host}/opencode/pushed"
    ledger = Ledger.load(signed_image_product.parent / "dist" / "1.4.0")
    (index,) = ledger.by_kind(ArtifactKind.IMAGE_INDEX)
    (manifest,) = ledger.by_kind(ArtifactKind.IMAGE_MANIFEST)
    planned = publish(signed_image_product, repository, "--dry-run")
    assert planned["dry_run"] and all(r["via"] is None for r in planned["referrers"])
    registry = oci.Registry(session_registry.host, "opencode/pushed")
    assert registry.tags() == [], "a dry run pushes nothing"

    pushed = publish(signed_image_product, repository)
    assert pushed["tags"] == ["1.4.0", "1.4", "stable"]
    assert sorted(registry.tags()) == sorted(
        ["1.4.0", "1.4", "stable", oci.fallback_tag(index.facts["digest"]), oci.fallback_tag(manifest.facts["digest"])]
    )
    for tag in ("1.4.0", "1.4", "stable"):
        inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{repository}:{tag}"))
        assert inspected["Digest"] == index.facts["digest"]
        assert inspected["Labels"]["org.opencontainers.image.version"] == "1.4.0"
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{repository}:1.4.0"))
    assert raw["mediaType"] == oci.INDEX and raw["manifests"][0]["platform"] == {"architecture": "amd64", "os": "linux"}

    # the referrers tag schema: an index of referrer manifests, each one bundle whose subject is the image
    assert {r["via"] for r in pushed["referrers"]} == {"fallback-tag"}
    for subject in (index, manifest):
        found = registry.get_manifest(oci.fallback_tag(subject.facts["digest"]))
        assert found is not None
        entries = json.loads(found.data)["manifests"]
        evidence = {e["annotations"]["dev.opencode.release.evidence"] for e in entries}
        assert evidence == {"signature", "sbom", "provenance", "release-statement"}
        assert all(e["artifactType"] == oci.SIGSTORE_BUNDLE for e in entries)
        referrer = registry.get_manifest(entries[0]["digest"])
        assert referrer is not None
        document = json.loads(referrer.data)
        assert document["subject"]["digest"] == subject.facts["digest"]
        assert document["artifactType"] == oci.SIGSTORE_BUNDLE
        (layer,) = document["layers"]
        bundle = registry.get_blob(layer["digest"], layer["size"])
        assert json.loads(bundle)["mediaType"].startswith("application/vnd.dev.sigstore.bundle")

    again = publish(signed_image_product, repository)
    assert again["index"] == pushed["index"] and again["referrers"] == pushed["referrers"], (
        "a second push changes nothing"
    )
    found = registry.get_manifest(oci.fallback_tag(index.facts["digest"]))
    assert found is not None and len(json.loads(found.data)["manifests"]) == len(
        [r for r in pushed["referrers"] if r["subject"] == index.facts["digest"]]
    )


def test_skopeo_copies_the_pushed_image_into_a_layout(
    signed_image_product: Path, session_registry: RegistryServer, tmp_path: Path
) -> None:
    repository = f"{session_registry.host}/opencode/copied"
    publish(signed_image_product, repository)
    skopeo("copy", "--src-tls-verify=false", f"docker://{repository}:1.4.0", f"oci:{tmp_path / 'copy'}:1.4.0")
    index = json.loads((tmp_path / "copy" / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1.4.0"


def test_a_published_version_tag_is_never_moved(signed_image_product: Path, session_registry: RegistryServer) -> None:
    registry = oci.Registry(session_registry.host, "opencode/immutable")
    other = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    registry.put_manifest("1.4.0", other, oci.INDEX)
    done = cli(
        "publish-image",
        "--registry",
        f"{session_registry.host}/opencode/immutable",
        "--project",
        str(signed_image_product),
        "--version",
        "1.4.0",
    )
    assert done.returncode == 1
    assert "opencode/immutable:1.4.0: already names another image" in done.stderr
    assert registry.get_manifest("stable") is None, "nothing else was tagged"


def test_bad_registry_arguments_exit_2_in_one_line(signed_image_product: Path) -> None:
    for bad, message in (
        ("https://ghcr.io/x", "not a registry repository"),
        ("ghcr.io/o/x:1.0", "name the repository only"),
    ):
        done = cli("publish-image", "--registry", bad, "--project", str(signed_image_product), "--version", "1.4.0")
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_registry_is_one_line(signed_image_product: Path) -> None:
    done = cli(
        "publish-image",
        "--registry",
        "127.0.0.1:9/opencode/x",
        "--project",
        str(signed_image_product),
        "--version",
        "1.4.0",
    )
    assert done.returncode == 1 and "cannot reach the registry" in done.stderr and "Traceback" not in done.stderr


def test_the_release_pushes_the_image_when_a_registry_is_configured(
    signed_image_product: Path, session_registry: RegistryServer, tmp_path: Path
) -> None:
    from opencode_release.core import config
    from opencode_release.release import pipeline, session

    from .signed_release import copy_release

    product = copy_release(signed_image_product, tmp_path)
    registry = oci.Registry(session_registry.host, "opencode/released")
    _, report = session.run(
        config.load(product / "pyproject.toml"),
        pipeline.stages_named(("publish-image",)),
        session.Request(snapshot=True, quiet=True),
    )
    assert [r.status for r in report.results] == ["skipped"] and registry.tags() == []
    pyproject = product / "pyproject.toml"
    # the images table is the file's last (image_helpers.configure): the key joins it
    pyproject.write_text(pyproject.read_text() + f'registry = "{session_registry.host}/opencode/released"\n')
    _, report = session.run(
        config.load(pyproject), pipeline.stages_named(("publish-image",)), session.Request(snapshot=True, quiet=True)
    )
    assert [r.status for r in report.results] == ["ran"]
    assert {"1.4.0", "1.4", "stable"} <= set(registry.tags())
