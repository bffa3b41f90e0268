"""The referrers API branch of publish-image and verify-image, against the referrers stand-in (referrers_proxy.py)
in front of the real Distribution 2.8: no registry with the API is installable here, so this tests the client's
choice of branch, not a registry's API."""

from __future__ import annotations

import json
from pathlib import Path

from opencode_release.core import oci

from .image_helpers import cli, publish
from .referrers_proxy import referrers_api
from .registry_server import RegistryServer


def _verify(product: Path, reference: str) -> tuple[int, list[dict[str, object]]]:
    root = product.parent / "dist" / "1.4.0"
    trusted = str(root / "sigstore-trusted-root.json")
    done = cli("verify-image", reference, "--instance", "local", "--trusted-root", trusted, "--json")
    assert "Traceback" not in done.stderr, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)["artifacts"]
    return done.returncode, rows


def test_a_registry_with_the_referrers_api_gets_referrers_and_no_fallback_tags(
    signed_image_product: Path, registry: RegistryServer
) -> None:
    with referrers_api(registry.host) as host:
        pushed = publish(signed_image_product, f"{host}/opencode/api")
        assert pushed["referrers"] and {r["via"] for r in pushed["referrers"]} == {"referrers-api"}
        assert sorted(oci.Registry(registry.host, "opencode/api").tags()) == ["1.4", "1.4.0", "stable"], (
            "no sha256-<hex> fallback tag where the registry has the API"
        )
        code, rows = _verify(signed_image_product, f"{host}/opencode/api:1.4.0")
        assert code == 0 and len(rows) == 2, rows

    # the same image without the API: its evidence is not there (no fallback tag was written), and verify-image
    # says where it looked
    code, rows = _verify(signed_image_product, f"{registry.host}/opencode/api:1.4.0")
    failed = rows[0]["failed"]
    assert code == 1 and isinstance(failed, dict) and failed["check"] == "release-statement"
    assert "the referrers API (none) or tag sha256-" in str(failed["reason"])
