"""Facts only the build host can tell: licenses, Debian packages, compiler version.

The compilation report decides WHAT is in a binary; this module only adds
details about those things, and only for targets built on this machine (the
caller checks): on another machine the installed distributions and Debian
packages are not the ones that were compiled in. A distribution whose
installed version differs from the report's gets no details at all.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from packaging.utils import canonicalize_name

from ..core.environment import minimal

# Hash names in pip's direct_url.json -> CycloneDX algorithm names.
_HASH_NAMES = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512", "sha1": "SHA-1", "md5": "MD5"}
_LICENSE_CLASSIFIER = "License :: OSI Approved :: "


@dataclass(frozen=True, slots=True)
class DistributionDetails:
    license: str | None
    hashes: tuple[tuple[str, str], ...]  # (CycloneDX algorithm, hex)
    homepage: str | None


@dataclass(frozen=True, slots=True)
class DebianPackage:
    name: str
    version: str
    architecture: str
    source: str


def distribution_details(name: str, version: str) -> DistributionDetails | None:
    """License, archive hashes and home page from the metadata installed here, if it is that version
    (a binary compiled in this interpreter: `build.isolated = false`)."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != version:
        return None
    meta = dist.metadata
    fields = {f: [str(v) for v in meta.get_all(f) or []] for f in ("License-Expression", "License", "Classifier")}
    fields |= {f: [str(v) for v in meta.get_all(f) or []] for f in ("Home-page", "Project-URL")}
    return declared_details(fields, dist.read_text("direct_url.json") or "")


def build_environment_details(facts: Mapping[str, Any], name: str, version: str) -> DistributionDetails | None:
    """What distribution `name` at `version` declared about itself in the product's build environment
    (the build recorded it with the binary), never the pipeline's own copy of it."""
    for package in facts.get("packages") or []:
        if not isinstance(package, dict) or canonicalize_name(str(package.get("name", ""))) != canonicalize_name(name):
            continue
        metadata = package.get("metadata")
        if str(package.get("version")) != version or not isinstance(metadata, dict):
            return None
        fields = {str(k): [str(v) for v in values] for k, values in metadata.items() if isinstance(values, list)}
        return declared_details(fields, str(package.get("direct_url") or ""))
    return None


def declared_details(meta: Mapping[str, Sequence[str]], direct: str) -> DistributionDetails:
    """From a distribution's metadata fields (name -> values) and its direct_url.json text."""
    license_text = _field(meta, "License-Expression") or _short(_field(meta, "License"))
    if not license_text:
        classifiers = [
            c[len(_LICENSE_CLASSIFIER) :] for c in meta.get("Classifier") or [] if c.startswith(_LICENSE_CLASSIFIER)
        ]
        license_text = classifiers[0] if len(classifiers) == 1 else None
    hashes: list[tuple[str, str]] = []
    # pip records the archive's hash only for installs from a file or URL.
    if direct:
        try:
            info = json.loads(direct).get("archive_info", {})
        except json.JSONDecodeError:
            info = {}
        for algorithm, value in sorted(dict(info.get("hashes", {})).items()):
            if algorithm in _HASH_NAMES:
                hashes.append((_HASH_NAMES[algorithm], str(value)))
    homepage = _field(meta, "Home-page")
    for url in meta.get("Project-URL") or []:
        label, _, link = url.partition(",")
        if label.strip().lower() in ("homepage", "home", "source") and not homepage:
            homepage = link.strip()
    return DistributionDetails(license_text, tuple(hashes), homepage or None)


def _field(meta: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = meta.get(name) or []
    return str(values[0]) if values else None


def _short(text: str | None) -> str | None:
    # Some distributions paste the whole license text into `License`.
    if not text or "\n" in text.strip() or len(text) > 80:
        return None
    return text.strip()


def _candidates(path: str) -> list[str]:
    # Debian's merged /usr: a library may be registered under /lib or /usr/lib.
    posix = PurePosixPath(path)
    paths = [str(posix)]
    if posix.parts[1:2] in (("lib",), ("lib64",)):
        paths.append(str(PurePosixPath("/usr", *posix.parts[1:])))
    elif posix.parts[1:3] in (("usr", "lib"), ("usr", "lib64")):
        paths.append(str(PurePosixPath("/", *posix.parts[2:])))
    return paths


def debian_packages(paths: list[str]) -> dict[str, DebianPackage]:
    """The Debian package (and installed version) each library file came from, where dpkg knows."""
    if not paths or shutil.which("dpkg") is None:
        return {}
    wanted = {c: p for p in paths for c in _candidates(p)}
    proc = subprocess.run(["dpkg", "-S", *wanted], capture_output=True, text=True, check=False, env=minimal())
    owners: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        package, sep, file = line.partition(": ")
        if sep and file in wanted and "," not in package:
            owners.setdefault(wanted[file], package)
    if not owners:
        return {}
    query = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f=${binary:Package}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\n",
            *sorted(set(owners.values())),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=minimal(),
    )
    packages: dict[str, DebianPackage] = {}
    for line in query.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) == 5:
            packages[fields[0]] = DebianPackage(fields[1], fields[2], fields[3], fields[4] or fields[1])
            packages.setdefault(fields[1], packages[fields[0]])
    return {path: packages[owner] for path, owner in owners.items() if owner in packages}


def compiler_version(compiler: str) -> str | None:
    """`gcc -dumpfullversion` (clang answers -dumpversion), or None when it is not here."""
    if not compiler or shutil.which(compiler) is None:
        return None
    for flag in ("-dumpfullversion", "-dumpversion"):
        proc = subprocess.run([compiler, flag], capture_output=True, text=True, check=False, env=minimal())
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    return None
