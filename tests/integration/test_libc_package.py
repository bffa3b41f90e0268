"""Which C library an image takes from dpkg (images/_libc.py host_libc): the one of the image's architecture.

C libraries are Multi-Arch: same, so a machine may hold musl for amd64 and arm64 at once (setup.sh installs
both: in `ci --simulate` this machine's dpkg plays each image target's runner). Asking dpkg for the bare name
then lists both; the image must get the files of its own architecture, or a line saying there are none.
"""

from __future__ import annotations

import pytest

from opencode_release.core.errors import StageError
from opencode_release.images import _libc

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("architecture", "loader", "other"),
    [("arm64", "/lib/ld-musl-aarch64.so.1", "x86_64"), ("amd64", "/lib/ld-musl-x86_64.so.1", "aarch64")],
)
def test_musl_of_the_images_architecture_on_a_machine_holding_both(architecture: str, loader: str, other: str) -> None:
    libc = _libc.host_libc("musl", architecture, loader, ["libc.so"])
    assert (libc.package, libc.architecture) == ("musl", architecture)
    paths = [f.path for f in libc.files]
    assert loader in paths and not [p for p in paths if other in p], paths
    assert f"?arch={architecture}" in libc.facts()["purl"]


def test_a_package_not_installed_for_the_images_architecture_is_one_line() -> None:
    with pytest.raises(StageError, match=r"libc6: not installed for arm64 .*apt-get install libc6:arm64"):
        _libc.host_libc("libc6", "arm64", "/lib/ld-linux-aarch64.so.1", [])
