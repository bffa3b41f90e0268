"""CI's quarterly packet (build/ci_procurement.py): built unsigned by the procurement job, signed by
procurement-sign as `actions/attest` signs (one DSSE in-toto statement over the zip and the manifest, a
certificate with GitHub's claims for nightly.yml on main), then verified and published by
procurement-publish's `procurement --publish-built`. The embedded instance plays public-good Sigstore
under GitHub's issuer; its client trust config is what `--instance production` names in CI.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sigstore import dsse
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from opencode_release.build.ci_procurement import PACKET_TUF_ROLES
from opencode_release.channels import keys
from opencode_release.cli import program
from opencode_release.core import config
from opencode_release.core.formats import canonical_json
from opencode_release.core.names import PACKET_PREDICATE, github_owner_name
from opencode_release.devsigstore import ActionsClaims, LocalSigstore, Session, oidc
from opencode_release.release import procurement
from opencode_release.release.ci_sim.token_endpoint import GITHUB_ISSUER
from tests.integration.signed_release import STATEMENT_TYPE
from tests.integration.test_procurement_packet import QUARTER, TODAY, published_release, working_copy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    instance = LocalSigstore(tmp_path_factory.mktemp("sigstore"), GITHUB_ISSUER, "", actions_issuer=GITHUB_ISSUER)
    with instance.running() as session:
        yield session


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return published_release(tmp_path_factory.mktemp("procurement-ci"))


@pytest.fixture
def product(release: Path, tmp_path: Path) -> Path:
    return working_copy(release, tmp_path)


def _nightly(product: Path) -> ActionsClaims:
    """The claims of nightly.yml's procurement-sign job on the default branch of the product's repository."""
    parts = github_owner_name(config.load(product / "pyproject.toml").repository)
    assert parts is not None
    repository = "/".join(parts)
    return ActionsClaims(
        repository=repository,
        ref="refs/heads/main",
        sha="0123456789abcdef0123456789abcdef01234567",
        workflow_ref=f"{repository}/.github/workflows/nightly.yml@refs/heads/main",
        event_name="schedule",
    )


def _sign_like_ci(session: Session, product: Path, claims: ActionsClaims) -> list[Path]:
    """The procurement job's unsigned packet, then procurement-sign's bundle beside the zip and the manifest."""
    settings = config.load(product / "pyproject.toml")
    built = procurement.build(settings, QUARTER, TODAY, unsigned=True)
    files = [Path(built["zip"]), Path(built["manifest"])]
    root = files[0].parent
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": p.relative_to(root).as_posix(), "digest": {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()}}
            for p in files
        ],
        "predicateType": PACKET_PREDICATE,
        "predicate": {"quarter": QUARTER, "repository": claims.repository},
    }
    token = oidc.mint_actions(session.services.keys.oidc, claims, issuer=GITHUB_ISSUER)
    trust = ClientTrustConfig.from_json(session.trust_config_json)
    with SigningContext.from_trust_config(trust).signer(IdentityToken(token)) as signer:
        bundle = signer.sign_dsse(dsse.Statement(canonical_json(statement))).to_json()
    bundles = [p.with_name(p.name + ".sigstore.json") for p in files]
    for path in bundles:
        path.write_text(bundle, encoding="utf-8")
    return bundles


def _publish_built(
    session: Session, product: Path, capsys: pytest.CaptureFixture[str], *extra: str, snapshot: bool = True
) -> Any:
    argv = ["procurement", "--quarter", QUARTER, "--project", str(product), "--publish-built"]
    # --snapshot: the state folder's TUF keys stand in for the environment's secrets
    argv += ["--instance", str(session.trust_config_path), *(["--snapshot"] if snapshot else []), "--json", *extra]
    code = program.main(argv)
    return code, json.loads(capsys.readouterr().out)


def _published_anywhere(product: Path) -> bool:
    """Whether any TUF metadata of the channel repository names this quarter's packet."""
    metadata = product.parent / "public" / "metadata"
    return any(f"procurement/{QUARTER}/" in p.read_text() for p in metadata.glob("*.json"))


def test_a_packet_signed_as_ci_signs_it_is_verified_then_published_under_its_lts_line(
    sigstore: Session, product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign_like_ci(sigstore, product, _nightly(product))
    code, planned = _publish_built(sigstore, product, capsys, "--dry-run")
    assert code == 0 and "would_publish" in planned, planned
    assert planned["verified"] == [f"{QUARTER}.zip", "packet-manifest.json"]
    assert planned["would_publish"] == [
        f"lts/1.4/procurement/{QUARTER}/{QUARTER}.zip",
        f"lts/1.4/procurement/{QUARTER}/{QUARTER}.zip.sigstore.json",
    ]
    assert not _published_anywhere(product)  # a dry run changes nothing
    code, done = _publish_built(sigstore, product, capsys)
    assert code == 0, done
    assert done["published"]["status"] == "published" and done["published"]["channels"] == ["lts/1.4"]
    assert _published_anywhere(product)
    # a distributor checks it the same way: with the packet's channel, not a release's
    zipped = product.parent / "dist" / "procurement" / f"{QUARTER}.zip"
    verify = ["verify", str(zipped), "--trusted-root", str(sigstore.trust_config_path), "--project", str(product)]
    assert program.main([*verify, "--channel", "procurement", "--json"]) == 0
    capsys.readouterr()
    assert program.main([*verify, "--channel", "stable", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["artifacts"][0]["failed"]["check"] == "identity"


@pytest.mark.parametrize(
    "workflow",
    [
        # the nightly release's reusable build: a release's identity, not the packet's
        "build.yml@refs/heads/main",
        # nightly.yml, but from another branch than the default
        "nightly.yml@refs/heads/feature",
    ],
)
def test_a_packet_signed_by_another_workflow_or_ref_is_not_published(
    sigstore: Session, product: Path, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    claims = _nightly(product)
    ref = workflow.split("@")[1]
    changed = dataclasses.replace(claims, ref=ref, job_workflow_ref=f"{claims.repository}/.github/workflows/{workflow}")
    _sign_like_ci(sigstore, product, changed)
    code, document = _publish_built(sigstore, product, capsys)
    assert code == 1 and document["error"].startswith(f"procurement {QUARTER}: not published: {QUARTER}.zip: ")
    assert "identity" in document["error"] or "source-repository-ref" in document["error"]
    assert not _published_anywhere(product)


def test_a_packet_changed_after_signing_is_not_published(
    sigstore: Session, product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign_like_ci(sigstore, product, _nightly(product))
    scope = product.parent / "dist" / "procurement" / QUARTER / "scope.json"
    scope.write_text(scope.read_text().replace("1.4.0", "1.4.9"))
    code, document = _publish_built(sigstore, product, capsys)
    assert code == 1 and "packet-manifest.json" in document["error"]
    assert "scope.json has sha256 " in document["error"]
    assert not _published_anywhere(product)


def test_without_the_signing_jobs_bundle_nothing_is_published_and_the_file_is_named(
    sigstore: Session, product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundles = _sign_like_ci(sigstore, product, _nightly(product))
    bundles[1].unlink()
    code, document = _publish_built(sigstore, product, capsys)
    assert code == 2 and document["error"].startswith(f"{bundles[1]}: missing; --publish-built takes the packet")
    assert not _published_anywhere(product)
    code, document = _publish_built(sigstore, product, capsys, "--unsigned")
    assert code == 2 and "--publish-built publishes what CI built and signed" in document["error"]


def test_the_publish_job_signs_with_the_environment_s_keys_alone_and_never_needs_root(
    sigstore: Session, product: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As procurement-publish runs: no --snapshot, no key folder, the roles' keys only from the secrets the
    # generated job maps into its environment (PACKET_TUF_ROLES), the root key not among them.
    settings = config.load(product / "pyproject.toml")
    folder = settings.path(settings.state_dir) / "tuf-keys"
    given = {role: (folder / f"{role}.pem").read_text() for role in PACKET_TUF_ROLES}
    folder.rename(folder.with_name("tuf-keys.elsewhere"))
    assert "root" not in PACKET_TUF_ROLES
    _sign_like_ci(sigstore, product, _nightly(product))
    for role in PACKET_TUF_ROLES[:-1]:
        monkeypatch.setenv(keys.env_name(role), given[role])
    code, document = _publish_built(sigstore, product, capsys, snapshot=False)
    missing = keys.env_name(PACKET_TUF_ROLES[-1])
    assert code == 1 and f"nor in ${missing}; real releases read keys" in document["error"], document
    assert not _published_anywhere(product)  # one key short: nothing published
    monkeypatch.setenv(missing, given[PACKET_TUF_ROLES[-1]])
    code, done = _publish_built(sigstore, product, capsys, snapshot=False)
    assert code == 0, done
    assert done["published"]["channels"] == ["lts/1.4"] and _published_anywhere(product)
    assert not folder.exists()  # a real publish never creates keys


def test_the_packet_verifies_the_releases_against_the_instance_it_is_given(
    sigstore: Session, product: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # CI's bundles record no instance (the attest action signs them): the procurement job names it.
    # The releases here were signed by the state folder's instance, so another one refuses them.
    argv = ["procurement", "--quarter", QUARTER, "--project", str(product), "--unsigned", "--json"]
    assert program.main([*argv, "--instance", str(sigstore.trust_config_path)]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["verified"] is False and list(summary["unverified"]) == ["1.4.0"]
    packet = Path(summary["packet"])
    # the packet is written as evidence, and the command fails naming the release
    assert summary["error"].startswith(f"procurement {QUARTER}: release 1.4.0 does not verify (")
    assert summary["error"].endswith(
        f"{packet} records it and nothing was published: fix the release or its --instance, or pass --allow-unverified"
    )
    result = json.loads((packet / "releases" / "1.4.0" / "verify-release.json").read_text())
    assert result["ok"] is False and result["trusted_root"] == str(sigstore.trust_config_path)
    # the packet ships the trusted root inside that client trust config, not the config itself
    shipped = json.loads((packet / "trust" / "sigstore-trusted-root.json").read_text())
    assert shipped == json.loads(sigstore.trust_config_json)["trustedRoot"]
    allowed = [*argv, "--instance", str(sigstore.trust_config_path), "--allow-unverified"]
    assert program.main(allowed) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is False
    assert program.main([*argv, "--instance", "local"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["verified"] is True and summary["unverified"] == {}
    packet = Path(summary["packet"])
    assert "clienttrustconfig" not in (packet / "trust" / "sigstore-trusted-root.json").read_text().lower()


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"trustedRoot": 1e400}', "\udcff"])
def test_a_hostile_trust_config_is_one_line_and_no_packet(
    product: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str
) -> None:
    config_file = tmp_path / "trust.json"
    config_file.write_bytes(text.encode("utf-8", "surrogateescape"))
    argv = ["procurement", "--quarter", QUARTER, "--project", str(product), "--unsigned", "--json"]
    code = program.main([*argv, "--instance", str(config_file)])
    document = json.loads(capsys.readouterr().out)
    assert code == 2 and document["error"].startswith(f"{config_file}: "), document
    assert "\n" not in document["error"]
    assert not (product.parent / "dist" / "procurement").exists()
