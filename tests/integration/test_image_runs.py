"""The pushed image runs: skopeo copies it into an OCI layout, the test unpacks the layout itself and runs the
entrypoint from the unpacked root as the image's user, with only the image's environment (chroot, as root, with
/proc bound in as a container runtime would mount it)."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opencode_release.core import oci
from opencode_release.core.ledger import Ledger

from .image_helpers import publish, skopeo
from .registry_server import RegistryServer


def _blob(layout: Path, digest: str) -> bytes:
    data = (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()
    assert oci.sha256_digest(data) == digest
    return data


def _platform_image(layout: Path, tag: str) -> dict[str, Any]:
    entries = json.loads((layout / "index.json").read_bytes())["manifests"]
    (entry,) = [e for e in entries if e.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    document = json.loads(_blob(layout, entry["digest"]))
    if document["mediaType"] == oci.INDEX:
        (chosen,) = [m for m in document["manifests"] if m["platform"] == {"architecture": "amd64", "os": "linux"}]
        document = json.loads(_blob(layout, chosen["digest"]))
    result: dict[str, Any] = document
    return result


def _unpack(layout: Path, manifest: dict[str, Any], root: Path) -> dict[str, Any]:
    root.mkdir()
    for layer in manifest["layers"]:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(_blob(layout, layer["digest"])))) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                assert not Path(member.name).is_absolute() and ".." not in parts, member.name
                assert not (member.issym() or member.islnk()), "the image has no links to follow"
                # every name was checked above: the image's own modes (the sticky, world-writable /tmp) are kept
                tar.extract(member, root, filter="fully_trusted")
    config: dict[str, Any] = json.loads(_blob(layout, manifest["config"]["digest"]))["config"]
    return config


@contextlib.contextmanager
def _proc_in(root: Path) -> Iterator[None]:
    target = root / "proc"
    target.mkdir(exist_ok=True)
    subprocess.run(["mount", "--bind", "/proc", str(target)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_the_pulled_image_runs_its_entrypoint(
    signed_image_product: Path, session_registry: RegistryServer, tmp_path: Path
) -> None:
    version = Ledger.load(signed_image_product.parent / "dist" / "1.4.0").version
    repository = f"{session_registry.host}/opencode/runs"
    publish(signed_image_product, repository)
    layout = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", f"docker://{repository}:{version}", f"oci:{layout}:{version}")
    root = tmp_path / "root"
    config = _unpack(layout, _platform_image(layout, version), root)
    assert config["User"] == "65532:65532"
    assert (root / "tmp").stat().st_mode & 0o1777 == 0o1777
    environment = dict(entry.split("=", 1) for entry in config["Env"])
    with _proc_in(root):
        done = subprocess.run(
            ["/usr/sbin/chroot", f"--userspec={config['User']}", str(root), *config["Entrypoint"], "--version"],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["opencode", version]
