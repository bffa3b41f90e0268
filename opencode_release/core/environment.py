"""What a subprocess inherits from the caller's environment: a short, documented allowlist.

The caller's environment holds secrets (the package index password, TWINE_PASSWORD,
TUF and in-toto keys as PEM text, cloud credentials, CI tokens). A tool that
receives them may write them to disk: Nuitka's SCons stores its whole
environment in `scons-debug.py` beside the build. So no subprocess gets the
caller's environment: each gets `minimal()`, the variables below when the
caller has them, plus what its call site sets explicitly (a tool's own
settings, or a secret that is the tool's job, such as twine's password).

| variable | why a tool needs it |
|---|---|
| PATH | finding the compiler, patchelf, gpg, git, dpkg |
| HOME | tools' caches and configuration (Nuitka's and ccache's caches, git's safe.directory) |
| GIT_CONFIG_GLOBAL | git's global configuration where it is not under HOME (a runner's, with safe.directory) |
| LANG, LC_ALL, LC_CTYPE | decoding file names and tool output |
| TZ | tools that print local times |
| TMPDIR | where tools put temporary files |
| XDG_CACHE_HOME | caches moved off HOME (Nuitka, pip) |
| SOURCE_DATE_EPOCH | reproducible times (usually set explicitly by the call site) |
| SSL_CERT_FILE, SSL_CERT_DIR, REQUESTS_CA_BUNDLE | a private index's certificate authority |
| HTTP_PROXY, HTTPS_PROXY, NO_PROXY (and lower case) | reaching a package index through a proxy |

Variables a single tool needs are named at its call site (`extra=`): Nuitka
`NUITKA_CACHE_DIR`, `CC`, `CCACHE_DIR`, `PYENV_ROOT`; gpg `GNUPGHOME`; pip `PIP_INDEX_URL`
for the isolated build fallback. The product's build environment (build/environment.py) gets
no PIP_* and no PYTHONPATH at all: what it installs is the product's lock, and an index comes
from pip's configuration files. Anything else (tokens, keys, passwords,
cloud credentials) never reaches a subprocess unless its call site passes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

ALLOWED = (
    "PATH",
    "HOME",
    "GIT_CONFIG_GLOBAL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "XDG_CACHE_HOME",
    "SOURCE_DATE_EPOCH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def minimal(
    *, extra: Iterable[str] = (), set_: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allowlisted variables (and `extra` names) the caller has, then `set_` on top."""
    source = os.environ if environ is None else environ
    env = {name: source[name] for name in (*ALLOWED, *extra) if name in source}
    env.update(set_ or {})
    return env
