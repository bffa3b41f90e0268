"""Release versions: semantic versions for stable and LTS, dated nightlies.

A nightly is ``X.Y.Z-nightly.YYYYMMDD+g<shortsha>``: SemVer pre-release, so it
sorts *before* ``X.Y.Z`` and after ``X.Y.(Z-1)``; the build metadata (the
commit) does not take part in ordering, as SemVer says. The ground floor holds
this because every area (channels, manifests, release) orders versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from .errors import VersionError

_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$",
    re.ASCII,  # \d is 0-9 only, never another script's digits
)
_NIGHTLY_PRE = re.compile(r"^nightly\.(\d{8})$")
_NIGHTLY_BUILD = re.compile(r"^g([0-9a-f]{7,40})$")
_SNAPSHOT_PRE = re.compile(r"^snapshot\.(\d{8})\.([1-9]\d*)$")


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        # Exactly the text: versions name folders and TUF targets, so " 1.4.0" or "1.4.0\n" is not 1.4.0.
        match = _SEMVER.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise VersionError(
                f"version {text!r} is not a semantic version; expected X.Y.Z "
                "(e.g. 1.4.0), X.Y.Z-nightly.YYYYMMDD+g<sha> or X.Y.Z-snapshot.YYYYMMDD.N+g<sha>"
            )
        pre = tuple(match["pre"].split(".")) if match["pre"] else ()
        build = tuple(match["build"].split(".")) if match["build"] else ()
        version = cls(int(match["major"]), int(match["minor"]), int(match["patch"]), pre, build)
        if pre and pre[0] == "nightly":
            version._check_nightly(text)
        if pre and pre[0] == "snapshot":
            version._check_snapshot(text)
        return version

    @classmethod
    def snapshot(cls, base: Version, day: str, number: int, commit: str) -> Version:
        """The `number`th snapshot of `base` built on `day` (YYYYMMDD) from `commit`: sorts before `base`."""
        return cls.parse(f"{base.major}.{base.minor}.{base.patch}-snapshot.{day}.{number}+g{commit[:7]}")

    def _check_snapshot(self, text: str) -> None:
        if not _SNAPSHOT_PRE.match(".".join(self.pre)):
            raise VersionError(f"snapshot version {text!r}: pre-release must be snapshot.YYYYMMDD.N")
        if len(self.build) != 1 or not _NIGHTLY_BUILD.match(self.build[0]):
            raise VersionError(f"snapshot version {text!r}: build metadata must be g<shortsha>")

    @property
    def is_snapshot(self) -> bool:
        return bool(self.pre) and self.pre[0] == "snapshot"

    @classmethod
    def nightly(cls, base: Version, day: str, commit: str) -> Version:
        """The nightly of `base`'s next patch built on `day` (YYYYMMDD) from `commit`."""
        return cls.parse(f"{base.major}.{base.minor}.{base.patch + 1}-nightly.{day}+g{commit[:7]}")

    def _check_nightly(self, text: str) -> None:
        if not _NIGHTLY_PRE.match(".".join(self.pre)):
            raise VersionError(f"nightly version {text!r}: pre-release must be nightly.YYYYMMDD")
        if len(self.build) != 1 or not _NIGHTLY_BUILD.match(self.build[0]):
            raise VersionError(f"nightly version {text!r}: build metadata must be g<shortsha>")

    @property
    def is_nightly(self) -> bool:
        return bool(self.pre) and self.pre[0] == "nightly"

    @property
    def is_prerelease(self) -> bool:
        return bool(self.pre)

    @property
    def line(self) -> str:
        """The release line `major.minor` (an LTS line is named by it)."""
        return f"{self.major}.{self.minor}"

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @property
    def nightly_date(self) -> str | None:
        return self.pre[1] if self.is_nightly else None

    @property
    def commit(self) -> str | None:
        return self.build[0][1:] if self.is_nightly or self.is_snapshot else None

    def debian(self) -> str:
        """Debian ordering: `~` sorts before anything, so a nightly precedes its release."""
        text = "{}.{}.{}".format(*self.core)
        if self.pre:
            text += "~" + ".".join(self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def _key(self) -> tuple[object, ...]:
        # SemVer 2.0 precedence: no pre-release beats any pre-release; numeric
        # identifiers compare numerically and below alphanumeric ones.
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.core, not self.pre, pre_key)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        text = "{}.{}.{}".format(*self.core)
        if self.pre:
            text += "-" + ".".join(self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text
