"""Names more than one area must agree on: file names and URIs that are interfaces."""

from __future__ import annotations

from urllib.parse import urlsplit

# A Sigstore bundle sits beside the file it signs: `<file>.sigstore.json`.
BUNDLE_SUFFIX = ".sigstore.json"
# The trusted root a release ships, for verifying it offline.
TRUST_ROOT_NAME = "sigstore-trusted-root.json"
# The in-toto predicate type of SLSA v1.0 provenance.
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
# The SLSA provenance of a release, local or from CI.
PROVENANCE_NAME = "provenance.intoto.json"
# The release statement: a DSSE-signed in-toto statement listing every file of a release (attest/release_statement.py).
RELEASE_STATEMENT_NAME = "release.intoto.json"
RELEASE_PREDICATE = "https://opencode.example.org/release-statement/v1"
# The procurement packet's list of its files (procurement/archive.py writes it, verify/packet.py checks it).
PACKET_MANIFEST_NAME = "packet-manifest.json"
PACKET_SCHEMA = "https://opencode.example.org/procurement-packet/v1"
# The in-toto statement CI's procurement-sign job signs over a packet's zip and manifest (build/ci_procurement.py).
PACKET_PREDICATE = "https://opencode.example.org/procurement-packet-statement/v1"


def github_owner_name(repository: str) -> tuple[str, str] | None:
    """OWNER and NAME of an `https://github.com/OWNER/NAME[.git]` repository URL, else None."""
    url = urlsplit(repository)
    parts = url.path.strip("/").removesuffix(".git").split("/")
    if url.netloc != "github.com" or len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def local_builder_id(repository: str, product: str) -> str:
    """The provenance's builder of a release made outside CI (a maintainer's machine, a snapshot).

    Named after the product's source repository, so two products' local builds never share one
    builder id, and the product's identity policy (written by `init`) can pin it.
    """
    base = repository.rstrip("/") if repository else f"urn:opencode-release:{product}"
    return f"{base}/opencode-release/local-snapshot@v1"


def apt_suite(channel: str) -> str | None:
    """The apt suite of a channel (`stable`, `nightly`, `snapshot`, `lts/1.4` -> `lts-1.4`), or None.

    The manifests area names the suite a release's Release file is for; the channels area
    publishes that suite under `<channel>/apt/` and re-signs it: both read the name here.
    """
    if channel in ("stable", "nightly", "snapshot"):
        return channel
    line = channel.removeprefix("lts/")
    if line != channel and line.count(".") == 1 and all(part.isdigit() for part in line.split(".")):
        return f"lts-{line}"
    return None


# Set in every job of `ci --simulate` (release/ci_sim): a stage that would reach a real service there says so
# and leaves it alone (build/stages.py, images/stages.py).
SIMULATED_RUNNER = "OPENCODE_RELEASE_SIMULATED_RUNNER"
