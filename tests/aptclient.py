"""The real apt-get against a local repository, never touching the machine's apt state.

Every directory apt reads or writes points into a private folder (APT_CONFIG),
and so does its configuration folder: APT_CONFIG replaces only /etc/apt/apt.conf,
apt still reads /etc/apt/apt.conf.d/ after it, and a machine's drop-in there (this
one's sets Acquire::Check-Valid-Until "false") would decide what the tests check.
The dpkg status there lists only libc6 (the host's version) so dependency
resolution has what a Debian system has. `file:` sources: apt still checks
signatures and every hash, as it does over http.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class AptClient:
    def __init__(self, folder: Path, repo: Path | str, suite: str, keyring: Path | None, arch: str = "amd64") -> None:
        """`repo`: a folder (a `file:` source) or an http:// URL."""
        self.folder = folder
        for sub in (
            "state/lists/partial",
            "cache/archives/partial",
            "etc/sources.list.d",
            "etc/trusted.gpg.d",
            "etc/preferences.d",
            "etc/apt.conf.d",
            "log",
            "download",
        ):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        libc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "libc6"], capture_output=True, text=True, check=True
        ).stdout
        (folder / "state/status").write_text(
            f"Package: libc6\nStatus: install ok installed\nVersion: {libc}\nArchitecture: {arch}\n"
            "Maintainer: stub <stub@example.org>\nDescription: the host's C library\n\n"
        )
        (folder / "etc/preferences").write_text("")
        options = f"[signed-by={keyring}] " if keyring else ""
        source = repo if isinstance(repo, str) else f"file:{repo}"
        (folder / "etc/sources.list").write_text(f"deb {options}{source} {suite} main\n")
        conf = {
            "Dir::State": "state",
            "Dir::State::status": "state/status",
            "Dir::Cache": "cache",
            "Dir::Etc::SourceList": "etc/sources.list",
            "Dir::Etc::SourceParts": "etc/sources.list.d",
            "Dir::Etc::Trusted": "etc/trusted.gpg",
            "Dir::Etc::TrustedParts": "etc/trusted.gpg.d",
            "Dir::Etc::Preferences": "etc/preferences",
            "Dir::Etc::PreferencesParts": "etc/preferences.d",
            "Dir::Etc::Parts": "etc/apt.conf.d",
            "Dir::Log": "log",
        }
        lines = [f'{key} "{folder / value}";' for key, value in conf.items()]
        lines += [
            'APT::Sandbox::User "root";',
            'Acquire::Languages "none";',
            f'APT::Architecture "{arch}";',
            f'APT::Architectures {{ "{arch}"; }};',
        ]
        self.conf = folder / "apt.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ["PATH"], "APT_CONFIG": str(self.conf), "LC_ALL": "C"}
        return subprocess.run(
            ["apt-get", "-q", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd or self.folder / "download",
            check=False,
        )

    def update(self) -> subprocess.CompletedProcess[str]:
        # Error-Mode=any: a bad signature or hash fails the whole update (exit 100), not a warning.
        return self.run("update", "-o", "APT::Update::Error-Mode=any")

    def download(self, package: str) -> subprocess.CompletedProcess[str]:
        return self.run("download", package)

    def install_download_only(self, package: str) -> subprocess.CompletedProcess[str]:
        return self.run("install", "-y", "--download-only", package)
