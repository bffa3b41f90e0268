"""What a verifier trusts: a Sigstore trusted root, and a policy over who signed what.

Trust comes from `--instance production|staging|local` or `--trusted-root FILE`;
production and staging use the trusted roots sigstore-python ships inside its
package (no network, no TUF cache). The policy comes from the packaged
`identity-policy.toml` (or `--policy FILE`): per instance, and per channel
within it, the OIDC issuer, the signer identity and the Fulcio extensions a
GitHub-built release carries (Build Signer URI, source repository URI and
ref, runner environment), and what the provenance must say (builder, source).

The certificate rules are sigstore-python's own policies (`Identity`,
`OIDCIssuer`/`OIDCIssuerV2`, `OIDCBuildSignerURI`, ...) composed with `AllOf`
and run by its Verifier. Only a value with `*` (a release ref such as
`refs/tags/v*`) needs `Pattern` or `IdentityPattern`, policies of ours that
read the same extension through cryptography and match a pattern (`*`: any
characters but `/`). Each rule carries a check name, so a refused certificate
is reported under the rule that refused it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat import asn1
from sigstore._internal.trust import CTKeyring, KeyringPurpose, RekorKeyring
from sigstore.errors import Error as SigstoreError
from sigstore.errors import VerificationError as SigstoreVerificationError
from sigstore.models import ClientTrustConfig, TrustedRoot
from sigstore.verify import policy as sigstore_policy
from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootMessage

from ..core.errors import UsageError
from ._remembered import RememberingKeyring

INSTANCES = ("production", "staging", "local")
CHANNELS = ("stable", "lts", "nightly")
# sigstore-python ships each public instance's root in its package, under _store/<quoted TUF URL>/.
_SHIPPED_ROOTS = {
    "production": "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev",
    "staging": "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev",
}
POLICY_FILE = "identity-policy.toml"


# -- trusted roots ---------------------------------------------------------------------


@dataclass(frozen=True)
class Trust:
    """A parsed trusted root and where it came from (for messages)."""

    root: TrustedRoot
    source: str


def shipped_trusted_root_path(instance: str) -> Path:
    return Path(str(importlib.resources.files("sigstore") / "_store" / _SHIPPED_ROOTS[instance] / "trusted_root.json"))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class SharedKeyrings(TrustedRoot):
    """A trusted root that builds its log and CT keyrings for verification once.

    sigstore-python's Verifier asks the root for both keyrings on every bundle,
    and each time the root loads every key of the file again (about a tenth of a
    bundle's verification time). The keyrings hold the same keys either way, and
    every check made with them stays the library's. Only the verifying purpose is
    kept: a signing keyring depends on the time it is asked for. Each keyring
    remembers the signatures it accepted (see _remembered.py).
    """

    def __init__(self, inner: TrustedRootMessage) -> None:
        super().__init__(inner)
        self._rekor: RekorKeyring | None = None
        self._ct: CTKeyring | None = None

    def rekor_keyring(self, purpose: KeyringPurpose) -> RekorKeyring:
        if purpose is not KeyringPurpose.VERIFY:
            return super().rekor_keyring(purpose)
        if self._rekor is None:
            self._rekor = RekorKeyring(RememberingKeyring(super().rekor_keyring(purpose)))
        return self._rekor

    def ct_keyring(self, purpose: KeyringPurpose) -> CTKeyring:
        if purpose is not KeyringPurpose.VERIFY:
            return super().ct_keyring(purpose)
        if self._ct is None:
            self._ct = CTKeyring(RememberingKeyring(super().ct_keyring(purpose)))
        return self._ct


def parse_trusted_root(raw: bytes, source: str) -> Trust:
    """A trusted root, or the one inside a client trust config."""
    try:
        media_type = str(json.loads(raw).get("mediaType", ""))
        if "clienttrustconfig" in media_type:
            inner = ClientTrustConfig.from_json(raw.decode()).trusted_root._inner
            return Trust(SharedKeyrings(inner), source)
        # TrustedRoot.from_file reads a path; the message class parses the same bytes.
        return Trust(SharedKeyrings(TrustedRootMessage.from_json(raw)), source)
    except Exception as exc:  # JSON, pydantic, unicode, media type, recursion: all "not usable"
        raise UsageError(f"{source}: not a usable Sigstore trusted root: {_one_line(exc)}") from None


def _read_root(path: Path, source: str) -> Trust:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: unreadable trusted root: {exc.strerror}") from None
    return parse_trusted_root(raw, source)


def load_trusted_root(instance: str | None, trusted_root: str | None, local_root: Path | None) -> Trust:
    if trusted_root:
        path = Path(trusted_root)
        if not path.is_file():
            raise UsageError(f"{path}: no such trusted root file; pass --trusted-root FILE")
        return _read_root(path, str(path))
    if instance in _SHIPPED_ROOTS:
        return _read_root(shipped_trusted_root_path(instance), f"sigstore's {instance} trusted root")
    if instance == "local":
        if local_root is None or not local_root.is_file():
            raise UsageError(
                f"{local_root}: no local Sigstore trusted root; sign a snapshot first or pass --trusted-root FILE"
            )
        return _read_root(local_root, str(local_root))
    raise UsageError(f"--instance {instance!r}: expected one of {', '.join(INSTANCES)} (or --trusted-root FILE)")


# -- certificate rules --------------------------------------------------------------------


class PolicyRefusal(SigstoreVerificationError):
    """A rule refused the certificate; `check` names the rule."""

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check = check
        self.reason = reason


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("[^/]*".join(re.escape(part) for part in pattern.split("*")))


def matches(pattern: str, value: str) -> bool:
    """Exact, or a pattern whose `*` stands for any characters but `/` (so `refs/tags/v*` is one tag,
    not `refs/tags/v1/x@refs/heads/main`); a lone `*` matches anything."""
    if pattern == "*":
        return True
    return _pattern(pattern).fullmatch(value) is not None if "*" in pattern else value == pattern


ExactPolicy = type[sigstore_policy._SingleX509ExtPolicyV2]


class Pattern:
    """sigstore's single-extension policy `exact`, with a pattern in place of the value."""

    def __init__(self, exact: ExactPolicy, pattern: str) -> None:
        self.exact = exact
        self.pattern = pattern

    def verify(self, cert: x509.Certificate) -> None:
        try:
            extension = cert.extensions.get_extension_for_oid(self.exact.oid).value
        except x509.ExtensionNotFound:
            raise SigstoreVerificationError(f"certificate has no {self.exact.__name__} extension") from None
        try:
            if not isinstance(extension, x509.UnrecognizedExtension):
                raise ValueError("not a raw extension")
            value = asn1.decode_der(str, extension.value)
        except ValueError:
            raise SigstoreVerificationError(f"{self.exact.__name__} is not a DER UTF8String") from None
        if not matches(self.pattern, value):
            raise SigstoreVerificationError(f"{self.exact.__name__} is {value}, expected {self.pattern}")


class IdentityPattern:
    """The signer identity (a SAN) as a pattern; sigstore's Identity compares exactly."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def verify(self, cert: x509.Certificate) -> None:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [*san.get_values_for_type(x509.RFC822Name), *san.get_values_for_type(x509.UniformResourceIdentifier)]
        if not any(matches(self.pattern, name) for name in names):
            raise SigstoreVerificationError(f"signed by {', '.join(names) or 'no identity'}, expected {self.pattern}")


class Issuer:
    """The OIDC issuer: Fulcio's v2 extension (DER) when present, else the v1 one (raw), as sigstore reads them."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def verify(self, cert: x509.Certificate) -> None:
        try:
            cert.extensions.get_extension_for_oid(sigstore_policy.OIDCIssuerV2.oid)
        except x509.ExtensionNotFound:
            sigstore_policy.OIDCIssuer(self.issuer).verify(cert)
            return
        sigstore_policy.OIDCIssuerV2(self.issuer).verify(cert)


class Rule:
    """One named rule: its refusal becomes a PolicyRefusal under `check`."""

    def __init__(self, check: str, inner: sigstore_policy.VerificationPolicy) -> None:
        self.check = check
        self.inner = inner

    def verify(self, cert: x509.Certificate) -> None:
        try:
            self.inner.verify(cert)
        except SigstoreError as exc:
            raise PolicyRefusal(self.check, _one_line(exc)) from None


# The Fulcio extensions a policy may pin: policy key (= check name) -> sigstore's exact-match class.
CLAIMS: dict[str, ExactPolicy] = {
    "build-signer-uri": sigstore_policy.OIDCBuildSignerURI,
    "source-repository-uri": sigstore_policy.OIDCSourceRepositoryURI,
    "source-repository-ref": sigstore_policy.OIDCSourceRepositoryRef,
    "runner-environment": sigstore_policy.OIDCRunnerEnvironment,
}
REQUIRED = ("identity", "issuer", "source-repository", "source-ref", "builder-id")
KEYS = frozenset({*REQUIRED, *CLAIMS})


@dataclass(frozen=True)
class Policy:
    """Who must have signed (certificate rules) and what the provenance must say."""

    identity: str
    issuer: str
    source_repository: str  # in the provenance
    source_ref: str  # in the provenance
    builder_id: str  # in the provenance
    claims: Mapping[str, str] = field(default_factory=dict)  # CLAIMS keys the certificate must carry

    def certificate_policy(self) -> sigstore_policy.AllOf:
        identity: sigstore_policy.VerificationPolicy = (
            IdentityPattern(self.identity) if "*" in self.identity else sigstore_policy.Identity(identity=self.identity)
        )
        rules: list[sigstore_policy.VerificationPolicy] = [
            Rule("issuer", Issuer(self.issuer)),
            Rule("identity", identity),
        ]
        for key, value in sorted(self.claims.items()):
            exact = CLAIMS[key]
            rules.append(Rule(key, Pattern(exact, value) if "*" in value else exact(value)))
        return sigstore_policy.AllOf(rules)


def packaged_policy_text() -> str:
    return (importlib.resources.files("opencode_release.verify") / POLICY_FILE).read_text(encoding="utf-8")


def _values(where: str, name: str, table: Mapping[str, Any]) -> dict[str, str]:
    values = {k: v for k, v in table.items() if not isinstance(v, dict)}
    unknown = set(values) - KEYS
    if unknown:
        raise UsageError(f"{where}: [{name}]: unknown keys {sorted(unknown)}; expected {sorted(KEYS)}")
    return {k: str(v) for k, v in values.items()}


def load_policy(
    instance: str,
    policy_file: str | None,
    overrides: Mapping[str, str | None],
    channel: str | None = None,
    *,
    text: str | None = None,
) -> Policy:
    """The section `instance` (and its `channel` table) of the policy file, with flags taking precedence.

    `text`, when given, is the policy itself (a product's, generated), and `policy_file` names it in messages.

    An `identity` or `issuer` flag replaces the certificate rules of the file: the
    certificate must then carry exactly the identity and issuer given, and the
    Fulcio extensions only where a flag names them.
    """
    where = policy_file or f"opencode_release/verify/{POLICY_FILE}"
    try:
        if text is None:
            text = Path(policy_file).read_text(encoding="utf-8") if policy_file else packaged_policy_text()
        table = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{where}: not a readable policy file: {_one_line(exc)}") from None
    section = table.get(instance, {})
    if not isinstance(section, dict):
        raise UsageError(f"{where}: [{instance}] must be a table")
    values = _values(where, instance, section)
    chosen = section.get((channel or "").split("/")[0], {})
    if isinstance(chosen, dict):
        values.update(_values(where, f"{instance}.{channel}", chosen))
    given = {k.replace("_", "-"): v for k, v in overrides.items() if v}
    if {"identity", "issuer"} & set(given):
        values = {k: v for k, v in values.items() if k not in CLAIMS}
    values.update(given)
    missing = sorted(k for k in REQUIRED if not values.get(k))
    if missing:
        raise UsageError(f"{where}: [{instance}] sets no {', '.join(missing)}; add them or pass the flags")
    return Policy(
        identity=values["identity"],
        issuer=values["issuer"],
        source_repository=values["source-repository"],
        source_ref=values["source-ref"],
        builder_id=values["builder-id"],
        claims={k: values[k] for k in CLAIMS if values.get(k)},
    )
