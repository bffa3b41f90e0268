"""`verify` and `verify-release`: what a distributor runs, offline, from the installed package.

The verification itself lives in `verify/`; this module only turns flags into its calls.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from ..core.errors import ReleaseError, UsageError, VerificationError
from ..core.names import BUNDLE_SUFFIX
from ..verify import bundles, identity_policy, policy_template
from ..verify import image as images
from ..verify import release as verification
from ..verify.artifact import MAX_STATEMENT_BYTES, Report, read_bounded, verify_files
from ..verify.stages import local_trusted_root_path
from .command import Command, Outcome, Output, project_option


def _trust_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance",
        choices=identity_policy.INSTANCES,
        default=None,
        help="trust: production (default; sigstore's shipped root, offline), staging or local",
    )
    parser.add_argument(
        "--trusted-root", metavar="FILE", help="trust: a Sigstore trusted root (or client trust config) JSON file"
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="identity policy TOML (default: with --project, the product's identity-policy.toml, else the "
        "packaged one); its [instance] section applies",
    )
    parser.add_argument(
        "--identity",
        metavar="I",
        help="expected signer identity (exact, or a pattern with *); replaces the policy's certificate rules",
    )
    parser.add_argument(
        "--issuer", metavar="U", help="expected OIDC issuer of the identity; replaces the policy's certificate rules"
    )
    parser.add_argument("--source-repository", metavar="URL", help="expected source repository in the provenance")
    parser.add_argument(
        "--source-ref", metavar="REF", help="expected source ref (exact, or a pattern such as refs/tags/v*)"
    )
    parser.add_argument("--builder-id", metavar="ID", help="expected builder id in the provenance")
    project_option(parser)


def _local_root(project: str | None) -> Path:
    # Imported here: the project's configuration is read only for --instance local, and
    # `_common` brings the pipeline in, which a distributor's verification never needs.
    from ._common import project_file, settings

    try:
        if project or project_file(None).is_file():
            cfg = settings(argparse.Namespace(project=project))
            return local_trusted_root_path(cfg.path(cfg.state_dir))
    except ReleaseError:
        pass
    return local_trusted_root_path(Path(".opencode-release"))


PolicyFor = Callable[[str | None], identity_policy.Policy]


def _trust(args: argparse.Namespace) -> tuple[identity_policy.Trust, PolicyFor]:
    """The trusted root, and the policy for a channel (verify-release reads each release's channel)."""
    name = args.instance or "production"
    trust = identity_policy.load_trusted_root(
        name, args.trusted_root, _local_root(args.project) if name == "local" and not args.trusted_root else None
    )
    overrides = {k: getattr(args, k) for k in ("identity", "issuer", "source_repository", "source_ref", "builder_id")}
    where, text = args.policy, None
    if not args.policy and args.project:
        # --project: the product's own trust (the policy `init` wrote, or would write), not the sample's.
        from ._common import settings  # only here: see _local_root

        where, text = policy_template.product_policy(settings(args))
    identity_policy.load_policy(name, where, overrides, text=text)  # a bad policy is a usage error before any check

    def policy_for(channel: str | None) -> identity_policy.Policy:
        return identity_policy.load_policy(name, where, overrides, channel, text=text)

    return trust, policy_for


def _outcome(report: Report, out: Output) -> Outcome:
    if not out.json:
        table = Table(title="verification")
        for column in ("artifact", "kind", "result", "checks / reason"):
            table.add_column(column)
        for row in report.rows:
            if row.ok:
                table.add_row(row.artifact, row.kind, "[green]ok[/green]", f"{len(row.passed)} checks")
            else:
                table.add_row(row.artifact, row.kind, f"[red]FAILED {row.check}[/red]", row.reason or "")
        out.console.print(table)
    data = {"artifacts": [r.to_json() for r in report.rows]}
    failure = report.first_failure()
    if failure is None:
        return Outcome(data)
    return Outcome(data, failure.exit_code, str(failure))


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", metavar="ARTIFACT", help="the file to verify")
    parser.add_argument("--bundle", metavar="B", help=f"its Sigstore bundle (default: ARTIFACT{BUNDLE_SUFFIX})")
    parser.add_argument(
        "--key", metavar="K", help="a PEM public key: verify a bundle signed with this managed key, not a certificate"
    )
    parser.add_argument(
        "--channel",
        metavar="C",
        help="the channel whose policy applies (stable, lts, nightly; procurement for a quarterly packet; "
        "default: the instance's own rules)",
    )
    _trust_arguments(parser)


def _verify(args: argparse.Namespace, out: Output) -> Outcome:
    trust, policy_for = _trust(args)
    key = None
    if args.key is not None:
        try:
            pem = Path(args.key).read_bytes()
        except OSError as exc:
            raise UsageError(f"{args.key}: unreadable public key: {exc.strerror}") from None
        key = bundles.load_public_key(args.key, pem)
    path = Path(args.artifact)
    bundle = Path(args.bundle) if args.bundle else path.with_name(path.name + BUNDLE_SUFFIX)
    return _outcome(verify_files([(path, bundle)], trust, policy_for(args.channel), key), out)


def _release_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a release folder, its release-manifest.json, or a channel folder")
    parser.add_argument(
        "--channel",
        metavar="C",
        help="the channel every release must be of, whose policy applies (stable, lts, nightly; default: each "
        "release's own, as its signed statement names it)",
    )
    _trust_arguments(parser)


def _verify_release(args: argparse.Namespace, out: Output) -> Outcome:
    trust, policy_for = _trust(args)
    return _outcome(verification.verify_release(Path(args.path), trust, policy_for, channel=args.channel), out)


def _image_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reference", metavar="REF", help="HOST[:PORT]/REPO:TAG or HOST[:PORT]/REPO@sha256:DIGEST")
    parser.add_argument(
        "--binary",
        action="store_true",
        help="also pull the layers and check the entrypoint binary against the release's signed statement",
    )
    parser.add_argument(
        "--channel",
        metavar="C",
        help="the channel whose policy applies (default: the one the attached release statement names)",
    )
    parser.add_argument(
        "--release-statement",
        metavar="BUNDLE",
        help="the release statement's Sigstore bundle as the release ships it (release.intoto.json.sigstore.json), "
        "used instead of one attached to the image",
    )
    _trust_arguments(parser)


def _verify_image(args: argparse.Namespace, out: Output) -> Outcome:
    trust, policy_for = _trust(args)
    statement = None
    if args.release_statement:
        try:
            statement = read_bounded("--release-statement", args.release_statement, MAX_STATEMENT_BYTES, "bundle")
        except VerificationError as exc:
            raise UsageError(f"--release-statement {args.release_statement}: {exc.reason}") from None
    rows = images.verify_image(
        args.reference, trust, policy_for, channel=args.channel, binary=args.binary, statement=statement
    )
    return _outcome(Report(rows), out)


COMMANDS = (
    Command(
        "verify",
        "verify one artifact against its Sigstore bundle (and SHA256SUMS beside it); --key for a managed key",
        _verify_arguments,
        _verify,
    ),
    Command(
        "verify-release",
        "verify a release from its signed release statement: every file, bundle, provenance, SBOM statement",
        _release_arguments,
        _verify_release,
    ),
    Command(
        "verify-image",
        "verify an OCI image in a registry: digest, attached Sigstore bundle, SBOM statement, release statement, "
        "tag; --binary: the entrypoint binary",
        _image_arguments,
        _verify_image,
    ),
)

__all__ = ["COMMANDS", "UsageError"]
