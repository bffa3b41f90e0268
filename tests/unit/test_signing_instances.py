"""Choosing the signing instance: without an ambient OIDC credential, public Sigstore refuses early."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencode_release.attest.stages import SignStage
from opencode_release.core import config
from opencode_release.core.errors import StageError
from opencode_release.core.ledger import ArtifactKind
from opencode_release.release import session
from opencode_release.release.runner import ConsoleReporter, RunReport
from tests.conftest import write_project

CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SIGSTORE_ID_TOKEN",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "GOOGLE_SERVICE_ACCOUNT_NAME",
)


@pytest.mark.parametrize("instance", ["production", "staging"])
def test_public_instances_need_an_ambient_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance: str
) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    pyproject = write_project(tmp_path, f'name = "opencode"\npackage = "src/x"\n[signing]\ninstance = "{instance}"\n')
    settings = config.load(pyproject)
    ctx = session.make_context(settings, session.Request(quiet=True), ConsoleReporter(RunReport(), quiet=True))
    archive = ctx.dist_dir / "opencode-1.4.0-linux-x86_64-gnu.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"archive")
    ctx.ledger.record(archive, ArtifactKind.ARCHIVE)
    with pytest.raises(StageError, match=f"signing with {instance}: no ambient OIDC credential"):
        SignStage().run(ctx)
    assert sorted(p.name for p in ctx.dist_dir.iterdir()) == [archive.name]
