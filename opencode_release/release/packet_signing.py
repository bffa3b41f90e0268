"""Sign the procurement packet's manifest and zip with the release's own sign stage.

The packet is not a release, so it gets a ledger of its own, kept in memory,
rooted at `dist/procurement/`: its two files are recorded as
`procurement-packet` artifacts (an uploadable kind) and attest's SignStage
signs and verifies them exactly as it does a release's files, with the
configured instance (the embedded one by default).
"""

from __future__ import annotations

import functools
from pathlib import Path

from .. import devsigstore
from ..attest.stages import SignStage
from ..core.config import Settings
from ..core.ledger import ArtifactKind, Ledger, Source
from ..core.names import BUNDLE_SUFFIX
from ..core.stage import CollectingReporter, Context


def sign_packet(settings: Settings, root: Path, files: list[Path]) -> list[Path]:
    """Bundles (`<file>.sigstore.json`) for `files`, all under `root`; returns their paths."""
    ledger = Ledger(
        root,
        product=settings.name,
        version=settings.version,
        channel="procurement",
        source=Source(settings.repository, "", "", 0),
    )
    for path in files:
        ledger.record(path, ArtifactKind.PROCUREMENT_PACKET)
    ctx = Context(
        settings=settings,
        ledger=ledger,
        reporter=CollectingReporter(),
        build_targets=(),
        local_sigstore=functools.partial(devsigstore.signing_session, rekor_version=settings.signing.rekor_version),
    )
    SignStage().run(ctx)
    return [path.with_name(path.name + BUNDLE_SUFFIX) for path in files]
