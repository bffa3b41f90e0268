"""`ci --simulate`: the generated release or nightly workflow, run by act on this machine.

The host target's build job compiles for real (through the `docker run` stand-in); the other
targets' build jobs are handed prebuilt binaries (OPENCODE_RELEASE_PREBUILT, build/stages.py). The
embedded Sigstore plays public-good Sigstore: the attest action's stand-in signs with it, using
the OIDC token the simulated runner grants to the attest job alone, with GitHub's claims.

What outlives a run on GitHub lives in the `kept` folder, which later runs share: the environments'
secrets, the Actions cache, the channel bucket (channel-store/, see object_store.py), the GitHub
Releases (github-releases/, which the quarterly packet's job downloads release folders from) and the
signing instance playing public-good Sigstore. Everything else (the repository copy, artifacts, the
log, the delivered release) is the run's own, in its folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import shutil
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from ...build import ci_images, ci_procurement, ci_workflow, targets
from ...build import stages as build_stages
from ...core.config import Settings
from ...core.errors import CheckFailed, UsageError
from ...core.ledger import Ledger
from ...core.names import BUNDLE_SUFFIX, PACKET_MANIFEST_NAME, github_owner_name
from ...devsigstore import LocalSigstore
from ...images.publish import tags_of
from ...verify import stages as verify_stages
from ...verify.artifact import verify_files
from ...verify.image import verify_image
from ...verify.release import verify_release
from .. import merge, procurement
from . import act_runner, object_store, registry, runner, secrets, token_endpoint

# refresh: the nightly workflow as its second schedule starts it (only the refresh job runs);
# quarterly: the nightly workflow started by hand for a quarter's packet (its dispatch input), for the
# current quarter, as the releases the simulation makes are dated today
CALLERS = {
    "release": ".github/workflows/release.yml",
    "nightly": ".github/workflows/nightly.yml",
    "refresh": ".github/workflows/nightly.yml",
    "quarterly": ".github/workflows/nightly.yml",
}
BUILDS_NOTHING = ("refresh", "quarterly")
CHANNEL_STORE = "channel-store"  # under kept: the channel bucket's objects between runs
RELEASES = "github-releases"  # under kept: the GitHub Releases, TAG/ASSET, between runs
REGISTRY = "registry"  # under kept: the simulated container registry's storage between runs
STALLED_LOG = "act.stalled.log"  # the log of an attempt act hung in (act_runner.ActStalled), beside act.log
_JOB_END = re.compile(r"^\[(?P<job>[^\]]+?)\s*\]\s+🏁\s+Job (?P<result>succeeded|failed)")


@dataclass(frozen=True)
class Outcome:
    jobs: dict[str, str]  # act's job name -> succeeded | failed
    log: Path
    delivered: Path  # the release folder the run produced
    verified: int = 0  # files verify-release checked at the end (0: the run stopped before publish)
    image: str = ""  # the pushed image verify-image checked at the end (HOST/REPO:VERSION; "" for none)


def verify_delivered(settings: Settings, release: Path, trust_file: str, channel: str) -> int:
    """verify-release of what the run delivered, with production's policy for the channel and the
    simulated Sigstore's trusted root (it plays public-good Sigstore); returns the files checked."""
    trust, policy = verify_stages.release_trust(settings, trust_file, settings.path(settings.state_dir), channel)
    report = verify_release(release, trust, policy)
    failure = report.first_failure()
    if failure is not None:
        raise CheckFailed(f"ci --simulate: verify-release {release}: {failure}")
    return len(report.rows)


def verify_pushed(settings: Settings, reference: str, trust_file: str, channel: str) -> None:
    """verify-image --binary of what the publish job pushed, under the channel's production policy."""
    trust, policy = verify_stages.release_trust(settings, trust_file, settings.path(settings.state_dir), channel)
    for row in verify_image(reference, trust, lambda _channel: policy, channel=channel, binary=True):
        if not row.ok:
            raise CheckFailed(f"ci --simulate: verify-image {reference}: {row.artifact}: {row.check}: {row.reason}")


def github_repository(settings: Settings) -> str:
    parts = github_owner_name(settings.repository)
    if parts is None:
        raise UsageError(
            f"{settings.source_file}: repository {settings.repository!r} is not https://github.com/OWNER/NAME; "
            "the simulation plays GitHub for that repository"
        )
    return "/".join(parts)


def run_for(
    settings: Settings,
    workflow: str,
    env: Mapping[str, str],
    job: str | None,
    trust_config: str = "",
    secrets: Mapping[str, str] | None = None,
    image_registry: tuple[str, str] = ("", ""),
) -> runner.Run:
    if workflow not in CALLERS:
        raise UsageError(f"ci --simulate --workflow {workflow!r}: expected {', '.join(CALLERS)}")
    release = workflow == "release"
    inputs = {ci_procurement.QUARTER_INPUT: current_quarter()} if workflow == "quarterly" else {}
    labels = sorted({ci_workflow.HOST_RUNNER} | {targets.get(t).runner for t in settings.targets})
    return runner.Run(
        repository=github_repository(settings),
        ref=f"refs/tags/v{settings.version}" if release else "refs/heads/main",
        caller=CALLERS[workflow],
        event="push" if release else "schedule" if workflow == "refresh" else "workflow_dispatch",
        labels=labels,
        env=env,
        job="refresh" if workflow == "refresh" else job,
        schedule=ci_workflow.REFRESH_CRON if workflow == "refresh" else "",
        inputs=inputs,
        trust_config=trust_config,
        secrets=dict(secrets or {}),
        image_registry=image_registry,
    )


def current_quarter() -> str:
    return procurement.quarter_of(dt.datetime.now(dt.UTC).date())


def verify_packet(settings: Settings, folder: Path, trust_file: str) -> tuple[Path, int]:
    """What the quarterly run's procurement jobs made, checked as procurement-publish checks it: the zip
    and the manifest (and the folder it lists) against their bundles under production's `procurement`
    policy. Returns the packet folder and the files checked."""
    dest = folder / "packet"
    shutil.rmtree(dest, ignore_errors=True)
    for name in ("procurement-packet", "procurement-signed"):
        found = _artifact(folder, name)
        if found is None:
            raise CheckFailed(f"ci --simulate: the quarterly run uploaded no {name} artifact; see {folder}/act.log")
        found.extractall(dest)
    quarter = current_quarter()
    files = [dest / f"{quarter}.zip", dest / quarter / PACKET_MANIFEST_NAME]
    pairs = [(path, path.with_name(path.name + BUNDLE_SUFFIX)) for path in files]
    trust, policy = verify_stages.release_trust(settings, trust_file, settings.path(settings.state_dir), "procurement")
    failure = verify_files(pairs, trust, policy).first_failure()
    if failure is not None:
        raise CheckFailed(f"ci --simulate: the quarterly packet does not verify: {failure}")
    return dest / quarter, len(pairs)


def job_results(log: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _JOB_END.match(line)
        if match:
            found[match.group("job")] = match.group("result")
    return found


def _artifact(folder: Path, name: str) -> zipfile.ZipFile | None:
    found = sorted(folder.glob(f"artifacts/*/{name}/{name}.zip"))
    return zipfile.ZipFile(io.BytesIO(found[-1].read_bytes())) if found else None


def delivered(folder: Path) -> Path:
    """The release folder as the publish job had it: the merged release, with the attest job's
    statements and bundles recorded in its ledger as `collect --phase publish` records them."""
    dest = folder / "delivered"
    shutil.rmtree(dest, ignore_errors=True)
    release = _artifact(folder, "release")
    if release is None:
        return dest
    release.extractall(dest)
    versions = [p for p in dest.iterdir() if p.is_dir()]
    attested = _artifact(folder, "attested")
    if attested is not None and len(versions) == 1:
        incoming = folder / "attested"
        shutil.rmtree(incoming, ignore_errors=True)
        attested.extractall(incoming)
        merge.import_signatures(Ledger.load(versions[0]), incoming)
    return versions[0] if len(versions) == 1 else dest


def simulate(
    settings: Settings,
    repo_root: Path,
    workflow: str,
    folder: Path,
    prebuilt: Path | None,
    job: str | None = None,
    echo: bool = True,
    store: str | None = None,
    kept: Path | None = None,
) -> Outcome:
    """`kept`: the folder of what outlives the run (default: `folder`). `store`: the endpoint of an S3
    server holding the channel bucket (else a moto_server started for the run keeps it in kept/channel-store)."""
    host = targets.host().name
    missing = [
        t
        for t in settings.targets
        if targets.get(t).built_natively and t != host and (prebuilt is None or not (prebuilt / t).is_dir())
    ]
    if workflow in BUILDS_NOTHING:
        missing = []
    if missing:
        raise UsageError(
            f"ci --simulate: this machine builds only {host}; pass --prebuilt DIR with <target>/ folders "
            f"(binary and nuitka-report.xml) for {', '.join(missing)}"
        )
    folder = folder.resolve()
    kept = (kept or folder).resolve()
    # GitHub's issuer URL, read as an Actions issuer: certificates carry the GitHub extensions
    # (Build Signer URI, source repository and ref, runner environment) that the policy pins.
    issuer = token_endpoint.GITHUB_ISSUER
    instance = LocalSigstore(kept, issuer, "", actions_issuer=issuer)
    with contextlib.ExitStack() as running:
        sigstore = running.enter_context(instance.running())
        endpoint = store or running.enter_context(object_store.serving(kept / CHANNEL_STORE))
        object_store.ensure_bucket(endpoint, settings.ci_channel_store())
        pushes_to = ci_images.registry(settings)  # ghcr.io/<owner>/<name>: GitHub's, so the simulation plays it
        images = ("", "")
        if pushes_to and workflow not in BUILDS_NOTHING:
            host = running.enter_context(registry.serving(kept / REGISTRY))
            images = (pushes_to, f"{host}/{pushes_to.split('/', 1)[1]}")
        key = sigstore.services.keys.oidc

        def mint(claims: Mapping[str, Any]) -> str:
            return jwt.encode(dict(claims), key, algorithm="ES256")

        trust = str(sigstore.trust_config_path)
        env = {
            "OPENCODE_SIM_SIGSTORE_TRUST_CONFIG": trust,
            "OPENCODE_SIM_RELEASES": str(kept / RELEASES),
            build_stages.SIMULATED_RUNNER: "1",
            object_store.ENDPOINT_ENV: endpoint,
            **({build_stages.PREBUILT: str(prebuilt.resolve())} if prebuilt else {}),
        }
        channel = "stable" if workflow == "release" else "nightly"
        publishing = secrets.publishing_secrets(kept, settings.name) if job != "build" else {}
        planned = run_for(settings, workflow, env, job, trust_config=trust, secrets=publishing, image_registry=images)

        def run_once() -> tuple[int, Path]:
            if workflow == "release":  # a run again of the same tag replaces its GitHub Release
                shutil.rmtree(kept / RELEASES / f"v{settings.version}", ignore_errors=True)
            return runner.run_workflow(repo_root, folder, planned, mint, echo=echo, caches=kept / "caches")

        try:
            code, log = run_once()
        except act_runner.ActStalled as exc:
            # act's own hang (act_runner.STALL_SECONDS), not a step's: the workflow once more, as one re-runs
            # it on GitHub (it sees what the first attempt left: caches, the bucket); its log is kept.
            stalled = (folder / "act.log").replace(folder / STALLED_LOG)
            sys.stderr.write(f"ci --simulate: {exc} (see {stalled}); running {planned.caller} again\n")
            code, log = run_once()
        jobs = job_results(log)
        failed = sorted(name for name, result in jobs.items() if result == "failed")
        if code != 0 or failed:
            raise CheckFailed(
                f"ci --simulate: the {workflow} workflow failed under act (exit {code}; failed jobs: "
                f"{', '.join(failed) or 'none reported'}); see {log}"
            )
        if workflow == "refresh":
            return Outcome(jobs, log, folder)
        if workflow == "quarterly":
            packet, checked = verify_packet(settings, folder, trust)
            return Outcome(jobs, log, packet, checked)
        release = delivered(folder)
        if job == "build":
            return Outcome(jobs, log, release)
        verified = verify_delivered(settings, release, trust, channel)
        pushed = Ledger.load(release)
        image = f"{images[1]}:{tags_of(pushed.version, pushed.channel)[0]}" if images[1] else ""
        if image:
            verify_pushed(settings, image, trust, channel)
    return Outcome(jobs, log, release, verified, image)
