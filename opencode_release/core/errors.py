"""One exception tree. Each error says what failed, where, and what to do next.

The exit code lives on the class so the command layer never has to guess:
usage and configuration mistakes exit 2, failed checks and verifications 1.
"""

from __future__ import annotations


class ReleaseError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


class UsageError(ReleaseError):
    """The caller asked for something malformed (flags, paths, arguments)."""

    exit_code = 2


class ConfigError(UsageError):
    """The `[tool.opencode-release]` table is wrong; the message names file and key."""


class UnsafePathError(UsageError):
    """A path that came from data (a ledger, a build job, a CI artifact, the configuration, a
    channel repository) breaks the path rule of core/fsio.py; refused before any file is touched."""

    def __init__(self, source: str, path: object, problem: str) -> None:
        shown = repr(path)
        shown = shown if len(shown) <= 200 else shown[:200] + "…"
        super().__init__(
            f"{source}: refused path {shown}: {problem}; a path from data must be relative, normalised "
            "and stay inside its folder"
        )
        self.source = source
        self.path = path
        self.problem = problem


class VersionError(UsageError):
    """A version string does not parse or is not allowed where it was given."""


class LedgerError(ReleaseError):
    """The release manifest is missing, malformed, or disagrees with the files."""


class MergeError(LedgerError):
    """Partial ledgers that cannot be combined (version, commit or bytes differ)."""


class StageError(ReleaseError):
    """A stage failed; the runner prefixes the stage name."""


class ToolMissingError(ReleaseError):
    """An external tool (nuitka, gpg, ruby, ...) is not installed."""


class TargetError(UsageError):
    """A target is unknown, or cannot be built on this machine."""


class CheckFailed(ReleaseError):
    """A check over an artifact failed (binary facts, preflight rules, ...)."""


class VerificationError(CheckFailed):
    """Verification of an artifact failed; `check` names the step that failed."""

    def __init__(self, artifact: str, check: str, reason: str) -> None:
        super().__init__(f"{artifact}: {check}: {reason}")
        self.artifact = artifact
        self.check = check
        self.reason = reason
