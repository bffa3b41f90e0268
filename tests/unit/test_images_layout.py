"""The image layout: one deterministic layer with the binary, a non-root user and /tmp; labels; the index."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from opencode_release.core import config, oci
from opencode_release.core.errors import UsageError
from opencode_release.images import layout

LABELS = layout.labels(
    name="tool",
    version="1.4.0",
    revision="a" * 40,
    source="https://github.com/o/tool",
    licenses="MIT",
    epoch=1767225600,
)


def _image(binary: bytes = b"\x7fELF binary", arch: str = "amd64") -> layout.Image:
    return layout.build_image(
        [layout.RootFile("/usr/local/bin/tool", binary, 0o755)],
        platform=("linux", arch),
        entrypoint="/usr/local/bin/tool",
        labels=LABELS,
        epoch=1767225600,
    )


def test_the_same_inputs_give_the_same_digests() -> None:
    first, second = _image(), _image()
    assert first.manifest == second.manifest and first.digest == second.digest
    assert layout.build_index([first], LABELS) == layout.build_index([second], LABELS)
    assert _image(b"other").digest != first.digest


def test_the_layer_holds_the_binary_a_non_root_user_and_tmp() -> None:
    image = _image()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(image.layer))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        passwd = tar.extractfile("etc/passwd").read().decode()  # type: ignore[union-attr]
    binary = members["usr/local/bin/tool"]
    assert binary.mode == 0o755 and binary.uid == 0 and binary.mtime == 1767225600
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert members["home/nonroot"].uid == layout.USER_ID
    assert f"nonroot:x:{layout.USER_ID}:{layout.USER_ID}:" in passwd
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    assert list(members) == sorted(members), "entries are sorted, so the bytes depend only on the files"
    assert oci.sha256_digest(gzip.decompress(image.layer)) == image.diff_id


def test_config_manifest_and_index_say_what_the_spec_asks() -> None:
    image = _image()
    cfg = json.loads(image.config)
    assert cfg["config"]["User"] == "65532:65532" and cfg["config"]["Entrypoint"] == ["/usr/local/bin/tool"]
    assert cfg["config"]["Labels"]["org.opencontainers.image.created"] == "2026-01-01T00:00:00Z"
    assert {"version", "revision", "source", "licenses", "created"} <= {
        k.rsplit(".", 1)[1] for k in cfg["config"]["Labels"]
    }
    assert cfg["rootfs"]["diff_ids"] == [image.diff_id]
    manifest = json.loads(image.manifest)
    assert manifest["mediaType"] == oci.MANIFEST
    assert manifest["config"] == oci.descriptor(oci.CONFIG, image.config)
    assert manifest["layers"] == [oci.descriptor(oci.LAYER, image.layer)]
    index = json.loads(layout.build_index([_image(arch="arm64"), image], LABELS))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    entry = json.loads(layout.layout_index(layout.build_index([image], LABELS), "1.4.0"))["manifests"][0]
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "1.4.0"}


def _settings(tmp_path: Path, table: str) -> config.Settings:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[project]\nname = "tool"\nversion = "1.4.0"\nlicense = "MIT"\n[tool.opencode-release]\ntargets = ["linux-x86_64-musl"]\n'
        f"[tool.opencode-release.images]\n{table}\n",
        encoding="utf-8",
    )
    return config.load(path)


def test_the_default_images_are_the_static_musl_ones(tmp_path: Path) -> None:
    images = _settings(tmp_path, "").images
    assert images.targets == ("linux-x86_64-musl", "linux-aarch64-musl") and images.libc_package == ""


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('targets = ["windows-x86_64"]', "images.targets: 'windows-x86_64' is not a Linux target"),
        ('targets = ["linux-x86_64-gnu", "linux-x86_64-musl"]', "both linux/amd64"),
        ('binary-path = "usr/bin/x"', "images.binary-path: found 'usr/bin/x'"),
        ('binary-path = "/usr/../x"', "images.binary-path"),
        ('libc-package = "libc6 && rm"', "images.libc-package"),
        ('registry = "https://ghcr.io/x"', "images.registry: found 'https://ghcr.io/x'"),
    ],
)
def test_bad_image_settings_are_one_line_each(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(".", r"\.")):
        _settings(tmp_path, table)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:5000/opencode/tool:1.4.0", ("127.0.0.1:5000", "opencode/tool", "1.4.0", None)),
        ("ghcr.io/o/t@sha256:" + "a" * 64, ("ghcr.io", "o/t", None, "sha256:" + "a" * 64)),
        ("localhost/t", ("localhost", "t", None, None)),
    ],
)
def test_references_parse(text: str, parsed: tuple[str, str, str | None, str | None]) -> None:
    ref = oci.Reference.parse(text)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == parsed
    assert str(ref) == text


@pytest.mark.parametrize("text", ["opencode/tool:1", "ghcr.io/UPPER/x", "ghcr.io/x@sha256:abc", "ghcr.io/x:-bad", ""])
def test_bad_references_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="not an image reference"):
        oci.Reference.parse(text)


def test_tags_are_the_version_its_line_and_the_channel() -> None:
    from opencode_release.images.publish import tags_of

    assert tags_of("1.4.0", "stable") == ["1.4.0", "1.4", "stable"]
    assert tags_of("1.4.0", "lts/1.4") == ["1.4.0", "1.4", "lts-1.4"]
    # a pre-release never moves the X.Y tag; `+` is not allowed in a tag
    assert tags_of("1.4.0-snapshot.20261202.1+gabcdef0", "snapshot") == [
        "1.4.0-snapshot.20261202.1_gabcdef0",
        "snapshot",
    ]


def test_a_referrer_is_one_bundle_about_its_subject() -> None:
    from opencode_release.images.publish import referrer_manifest

    subject = oci.descriptor(oci.INDEX, b"{}")
    document = json.loads(
        referrer_manifest(subject, b"bundle", "dsse-envelope", "https://cyclonedx.org/bom", "sbom", 0)
    )
    assert document["artifactType"] == oci.SIGSTORE_BUNDLE and document["subject"] == subject
    assert document["config"] == oci.descriptor(oci.EMPTY, b"{}")
    assert document["layers"] == [oci.descriptor(oci.SIGSTORE_BUNDLE, b"bundle")]
    assert document["annotations"]["dev.sigstore.bundle.predicateType"] == "https://cyclonedx.org/bom"
    assert oci.fallback_tag("sha256:" + "ab" * 32) == "sha256-" + "ab" * 32


def test_the_carried_libcs_purl_names_the_distribution_it_came_from(tmp_path: Path) -> None:
    from opencode_release.images import _libc

    release = tmp_path / "os-release"
    release.write_text('PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\n', encoding="utf-8")
    assert _libc.vendor(release) == "ubuntu"
    release.write_text('NAME="Debian GNU/Linux"\nID="debian"\n', encoding="utf-8")
    assert _libc.vendor(release) == "debian"
    assert _libc.vendor(tmp_path / "absent") == "debian"
    carried = _libc.Libc("musl", "1.2.4-2", "amd64", (), "ubuntu")
    assert carried.facts()["purl"] == "pkg:deb/ubuntu/musl@1.2.4-2?arch=amd64"
    from opencode_release.attest import _image_sboms

    component = _image_sboms._libc(carried.facts())
    assert component.purl is not None and component.purl.to_string() == "pkg:deb/ubuntu/musl@1.2.4-2?arch=amd64"
