"""The procurement packet's join: scope from the channels, verification, the changelog, the trust material.

Which releases a quarter covers is the lifecycle's answer over the stable
channel (every LTS line in support during the quarter, with its newest release
by the quarter's end, and the latest stable); each is verified here, in
process, exactly as `verify-release --json` does, and the records go to
procurement/packet.py, which writes the folder.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import json
import shutil
from pathlib import Path
from typing import Any

from ..channels.packet_publish import packet_target, publish_packet
from ..channels.repository import channel_storage, repository
from ..core.config import Settings
from ..core.errors import CheckFailed, ReleaseError, UsageError
from ..core.ledger import MANIFEST_NAME, ArtifactKind, Ledger
from ..core.names import BUNDLE_SUFFIX
from ..core.versions import Version
from ..lifecycle import calendar, changelog
from ..procurement import archive, osv_fetch, packet, reproducibility
from ..procurement.mapping import RULES
from ..procurement.statements import load as load_statements
from ..verify import identity_policy, verify_release
from ..verify.stages import local_trusted_root_path, release_trust
from . import reproduce
from .packet_signing import sign_packet
from .session import release_dir
from .stages import released_on


def packet_dir(settings: Settings, quarter: str) -> Path:
    return settings.path(settings.dist_dir) / "procurement" / quarter


def scope(settings: Settings, quarter: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The quarter's LTS lines in support and latest stable; version -> why it is in scope."""
    start, end = packet.quarter_dates(quarter)
    stables = {v: d for v, d in released_on(settings, "stable").items() if d <= end}
    policy = settings.lifecycle
    lines = [
        line
        for line in calendar.lts_lines(policy, policy.stable_anchor.year, end.year, stables)
        if line.line and line.start <= end and line.end >= start
    ]
    chosen: dict[str, list[str]] = {}
    for line in lines:
        in_line = {v: d for v, d in stables.items() if Version.parse(v).line == line.line}
        in_line.update({v: d for v, d in released_on(settings, f"lts/{line.line}").items() if d <= end})
        newest = max(in_line, key=Version.parse)
        chosen.setdefault(newest, []).append(f"{line.name} (in support {line.start} to {line.end})")
    real = [v for v in stables if not Version.parse(v).is_prerelease]
    if real:
        chosen.setdefault(max(real, key=Version.parse), []).append("latest stable")
    if not chosen:
        raise CheckFailed(
            f"procurement {quarter}: no release in scope: the stable channel lists none published by {end}; "
            "publish a release first"
        )
    document = {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "lts_lines": [line.to_json(end) for line in lines],
    }
    return document, chosen


def _verified(settings: Settings, ledger: Ledger, given: str) -> tuple[dict[str, Any], bool, str]:
    """`given`: the instance to verify against (`--instance`), else the one the ledger's bundles record,
    else signing.instance. CI's bundles record none (the attest action signs them), so CI names it."""
    bundles = ledger.by_kind(ArtifactKind.SIGSTORE_BUNDLE)
    recorded = str(bundles[0].facts.get("instance", "")) if bundles else ""
    instance = given or recorded or settings.signing.instance
    try:
        trust, policy = release_trust(settings, instance, settings.path(settings.state_dir), ledger.channel)
        report = verify_release(ledger.root, trust, policy)
    except ReleaseError as exc:
        return {"artifacts": [], "error": str(exc), "ok": False}, False, instance
    failure = report.first_failure()
    document = {
        "artifacts": [r.to_json() for r in report.rows],
        "ok": failure is None,
        "exit_code": 0 if failure is None else failure.exit_code,
        **({"error": str(failure)} if failure else {}),
        "trusted_root": trust.source,
    }
    return document, failure is None and bool(report.rows), instance


def _release(
    settings: Settings, version: str, why: list[str], instance: str
) -> tuple[packet.ReleaseEvidence, Ledger, str]:
    folder = release_dir(settings, version)
    if not (folder / MANIFEST_NAME).is_file():
        raise UsageError(
            f"release {version} is in scope but {folder / MANIFEST_NAME} does not exist; restore the release "
            "folder (or rebuild it with `opencode-release reproduce`) and run again"
        )
    ledger = Ledger.load(folder)
    files = tuple(sorted((a.path, a.kind) for a in ledger.artifacts if a.kind in packet.COPIED_KINDS))
    missing = [path for path, _ in files if not (folder / path).is_file()]
    if missing:
        raise UsageError(f"release {version}: {folder / missing[0]} is in its ledger but not on disk; restore it")
    document, ok, used = _verified(settings, ledger, instance)
    return packet.ReleaseEvidence(version, tuple(why), folder, files, document, ok), ledger, used


def _trust(settings: Settings, ledgers: list[Ledger], instance: str) -> list[packet.TrustFile]:
    if instance in ("production", "staging"):
        root: Path | bytes | None = identity_policy.shipped_trusted_root_path(instance)
    elif instance == "local":
        root = local_trusted_root_path(settings.path(settings.state_dir))
    else:
        root = _trusted_root_of(settings.path(instance))
    policy = Path(str(importlib.resources.files("opencode_release.verify") / identity_policy.POLICY_FILE))
    tuf = released_root(settings)
    items = [
        packet.TrustFile("sigstore-trusted-root.json", f"Sigstore trusted root ({instance})", root, "sigstore-root"),
        packet.TrustFile("identity-policy.toml", "identity policy per instance and channel", policy),
        packet.TrustFile("tuf-root.json", "TUF root of the channel repository", tuf, "tuf-root"),
    ]
    apt = [
        a for ledger in ledgers for a in ledger.by_kind(ArtifactKind.APT_INDEX) if a.facts.get("role") == "public-key"
    ]
    if apt:
        key = apt[0]
        source = next(ledger.file(key) for ledger in ledgers if key in ledger.artifacts)
        fingerprint = f"openpgp:{key.facts.get('fingerprint', '')}"
        items.append(packet.TrustFile(f"apt-{key.name}", "apt repository signing key", source, "", fingerprint))
    else:
        items.append(packet.TrustFile("apt-archive-keyring.asc", "apt repository signing key", None))
    # The layout and, recorded with the same kind, its owner's public key (the key that verifies it).
    layouts = [(ledger, a) for ledger in ledgers for a in ledger.by_kind(ArtifactKind.INTOTO_LAYOUT)]
    signed = [(ledger, a) for ledger, a in layouts if a.related("layout_of")]
    owners = [(ledger, a) for ledger, a in layouts if a.facts.get("role") == "layout-owner-public-key"]
    what = "in-toto layout (its functionary keys)"
    if signed:
        ledger, layout = signed[0]
        items.append(packet.TrustFile("intoto-layout.json", what, ledger.file(layout), "intoto-layout"))
    else:
        items.append(packet.TrustFile("intoto-layout.json", what, None))
    if owners:
        ledger, owner = owners[0]
        keyid = f"keyid:{owner.facts.get('keyid', '')}"
        items.append(
            packet.TrustFile(
                "intoto-layout-owner.pub", "in-toto layout owner's public key", ledger.file(owner), "", keyid
            )
        )
    return items


def _trusted_root_of(path: Path) -> Path | bytes:
    """The trusted root a private instance's client trust config holds (the file itself if it is a root):
    the packet ships the root, which is what `verify --trusted-root` and the key listing read."""
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:  # hostile or changed since release_trust read it
        raise UsageError(f"{path}: unreadable trust config: {exc}") from None
    inner = document.get("trustedRoot") if isinstance(document, dict) else None
    if isinstance(inner, dict):
        return (json.dumps(inner, indent=2, sort_keys=True) + "\n").encode()
    return path


def released_root(settings: Settings) -> bytes | None:
    return channel_storage(settings).read("metadata/root.json")


def _lifecycle(settings: Settings, start: dt.date, end: dt.date, lts_lines: list[str]) -> dict[str, Any]:
    path = settings.path(settings.lifecycle.changelog)
    entries = changelog.load(path)
    quarter = [
        {"version": e.version, "date": e.date.isoformat()}
        for e in entries.values()
        if e.date is not None and start <= e.date <= end
    ]
    return {
        "changelog": settings.lifecycle.changelog,
        "releases_of_the_quarter": sorted(quarter, key=lambda r: r["date"]),
        "deprecations_in_force": [f.to_json() for f in changelog.in_force(entries, lts_lines)],
        "incidents_of_the_quarter": [i.to_json() for i in changelog.incidents(entries) if start <= i.date <= end],
        "incidents": [i.to_json() for i in changelog.incidents(entries)],
    }


def _reproduction(settings: Settings, ledger: Ledger, refused: str = "") -> reproducibility.Reproduction:
    document = None if refused else reproduce.load_report(settings, ledger.version)
    folder = reproduce.report_dir(settings, ledger.version)
    return reproducibility.Reproduction(ledger.version, ledger.source.commit, document, folder, refused)


def reproduce_in_scope(settings: Settings, quarter: str, *, quiet: bool = True) -> dict[str, str]:
    """`reproduce` for each release in scope; version -> why it could not be (bad input), for the packet."""
    _, chosen = scope(settings, quarter)
    refused: dict[str, str] = {}
    for version in sorted(chosen, key=Version.parse):
        try:
            reproduce.reproduce(settings, version, quiet=quiet)
        except UsageError as exc:
            refused[version] = f"not reproduced: {exc}"
    return refused


def _osv_export(settings: Settings) -> Path | bytes | None:
    """The configured OSV export: a file of the project, or the bytes fetched from its URL (read before
    anything is written, so a failed fetch leaves no packet)."""
    given = settings.procurement
    where = f"{settings.source_file}: procurement.osv-export"
    if not given.osv_export:
        return None
    if osv_fetch.is_url(given.osv_export):
        return osv_fetch.fetch(given.osv_export, given.osv_max_bytes, given.osv_deadline, where)
    path = settings.path(given.osv_export)
    if not path.is_file():
        raise UsageError(
            f"{where} = {given.osv_export!r}: no such file; download OSV's <ecosystem>/all.zip there, give its "
            "http(s) URL, or leave it empty"
        )
    return path


def request(
    settings: Settings, quarter: str, today: dt.date, refused: dict[str, str] | None = None, instance: str = ""
) -> packet.PacketRequest:
    """Everything the packet needs, read and checked; nothing written. `instance`: what the releases are
    verified against (empty: what each ledger records, else signing.instance)."""
    start, end = packet.quarter_dates(quarter)
    if instance:  # an unusable --instance is the caller's input, not a release that fails to verify
        release_trust(settings, instance, settings.path(settings.state_dir))
    document, chosen = scope(settings, quarter)
    statements_source = settings.procurement.statements
    statements_file = settings.path(statements_source)
    organisational = [task for task, rule in RULES.items() if rule.kind == "organisational"]
    statements = load_statements(statements_file, statements_source, organisational)
    osv_export = _osv_export(settings)
    ordered = sorted(chosen.items(), key=lambda kv: Version.parse(kv[0]))
    found = [_release(settings, version, why, instance) for version, why in ordered]
    ledgers = [ledger for _, ledger, _ in found]
    lines = [line["line"] for line in document["lts_lines"]]
    stables = released_on(settings, "stable")
    return packet.PacketRequest(
        quarter=quarter,
        product=settings.name,
        made_on=today,
        scope=document,
        releases=[release for release, _, _ in found],
        trust=_trust(settings, ledgers, found[-1][2]),
        lifecycle=_lifecycle(settings, start, end, calendar.shipped_lines(settings.lifecycle, stables) or lines),
        statements_file=statements_file,
        statements_source=statements_source,
        statements=statements,
        osv_export=osv_export,
        osv_source=settings.procurement.osv_export,
        triage_file=settings.path(settings.procurement.vex_triage),
        triage_source=settings.procurement.vex_triage,
        reproductions=[_reproduction(settings, ledger, (refused or {}).get(ledger.version, "")) for ledger in ledgers],
    )


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def previous_quarter(today: dt.date) -> str:
    """The quarter before the one `today` is in (on the first day of a quarter: the one that just ended)."""
    first = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    return quarter_of(first - dt.timedelta(days=1))


def list_scope(settings: Settings, quarter: str) -> dict[str, Any]:
    """The releases a quarter covers and why, from the channel alone (their folders are not read)."""
    document, chosen = scope(settings, quarter)
    ordered = sorted(chosen, key=Version.parse)
    return {"quarter": quarter, **document, "releases": {v: chosen[v] for v in ordered}}


def build(
    settings: Settings,
    quarter: str,
    today: dt.date,
    *,
    dry_run: bool = False,
    reproduce_first: bool = False,
    unsigned: bool = False,
    instance: str = "",
) -> dict[str, Any]:
    """The packet of `quarter`; with `reproduce_first`, each release in scope is rebuilt and compared first;
    `unsigned` (CI's quarterly job, which holds no signing identity) writes the manifest and zip unsigned;
    `instance` as in request()."""
    refused = reproduce_in_scope(settings, quarter) if reproduce_first and not dry_run else {}
    wanted = request(settings, quarter, today, refused, instance)
    out = packet_dir(settings, quarter)
    if dry_run:
        return {
            "quarter": quarter,
            "would_write": str(out),
            "releases": {r.version: list(r.why) for r in wanted.releases},
            "verified": all(r.verified for r in wanted.releases),
            "reproduced": {r.version: r.document is not None for r in wanted.reproductions},
            **({"would_reproduce_first": True} if reproduce_first else {}),
        }
    summary = packet.build(out, wanted)
    bundle_zip = out.parent / f"{quarter}.zip"
    try:
        manifest = archive.write_manifest(out, quarter, settings.name)
        archive.write_zip(out, bundle_zip)
        signed = [] if unsigned else sign_packet(settings, out.parent, [manifest, bundle_zip])
    except BaseException:  # an unsigned packet is not left looking like a finished one
        shutil.rmtree(out, ignore_errors=True)
        bundle_zip.unlink(missing_ok=True)
        raise
    return {
        **summary,
        "manifest": str(manifest),
        "zip": str(bundle_zip),
        "bundles": [str(p) for p in signed],
        "signed": not unsigned,
        # version -> why it did not verify (the packet records it as evidence; the command stops on it)
        "unverified": {
            r.version: str(r.verification.get("error", "no file verified")) for r in wanted.releases if not r.verified
        },
    }


def publish(settings: Settings, quarter: str, *, snapshot: bool, dry_run: bool = False) -> dict[str, Any]:
    """The signed zip of a built packet into the channel repository, under each LTS line it covers."""
    out = packet_dir(settings, quarter)
    zipped = out.parent / f"{quarter}.zip"
    bundle = zipped.with_name(zipped.name + BUNDLE_SUFFIX)
    if not (out / "scope.json").is_file() or not zipped.is_file() or not bundle.is_file():
        raise UsageError(
            f"{zipped}: no signed packet for {quarter}; run `opencode-release procurement --quarter {quarter}`"
        )
    scope_json = json.loads((out / "scope.json").read_text(encoding="utf-8"))
    channels = [f"lts/{line['line']}" for line in scope_json.get("lts_lines", []) if line.get("line")]
    if not channels:
        raise CheckFailed(f"procurement {quarter}: the packet covers no LTS line; nothing to publish it under")
    files = {zipped.name: zipped.read_bytes(), bundle.name: bundle.read_bytes()}
    if dry_run:
        targets = [packet_target(c, quarter, name) for c in channels for name in sorted(files)]
        return {"would_publish": targets}
    result = publish_packet(repository(settings, snapshot=snapshot), quarter, files, channels)
    return {
        "published": result.to_json(),
        "targets": [packet_target(c, quarter, n) for c in channels for n in sorted(files)],
    }


def publish_built(
    settings: Settings, quarter: str, instance: str, *, snapshot: bool = False, dry_run: bool = False
) -> dict[str, Any]:
    """CI's procurement-publish job: the packet built and signed by earlier jobs (ci_procurement.py), verified
    against `instance` and the policy's `procurement` channel (zip and manifest, and the folder against the
    manifest) and only then published (`dry_run`: verified, and what would be published listed). Nothing is
    published when any check fails."""
    from ..verify.artifact import verify_files

    out = packet_dir(settings, quarter)
    manifest = out / "packet-manifest.json"
    zipped = out.parent / f"{quarter}.zip"
    pairs = [(path, path.with_name(path.name + BUNDLE_SUFFIX)) for path in (zipped, manifest)]
    for path in (p for pair in pairs for p in pair):
        if not path.is_file():
            raise UsageError(
                f"{path}: missing; --publish-built takes the packet and bundles CI's procurement and "
                "procurement-sign jobs made (or build and sign one: drop --publish-built)"
            )
    trust, policy = release_trust(settings, instance, settings.path(settings.state_dir), "procurement")
    report = verify_files(pairs, trust, policy)
    failure = report.first_failure()
    if failure is not None:
        raise CheckFailed(f"procurement {quarter}: not published: {failure}")
    published = publish(settings, quarter, snapshot=snapshot, dry_run=dry_run)
    return {"quarter": quarter, "verified": [row.artifact for row in report.rows], **published}
