"""An OSV export given by URL: fetched once per packet, with a length cap and a deadline.

`[procurement] osv-export` is a file path relative to the project or an
http(s) URL (OSV publishes `https://…/<ecosystem>/all.zip`). A URL is read
whole into memory before anything is written, at most `osv-max-bytes` bytes
and within `osv-deadline` seconds for the whole transfer (not per read), so a
server that trickles or never ends cannot hold the packet up. Redirects are
followed only to http(s) (urllib3, as the update client). Every failure is one line naming the setting and
the URL; the packet records the URL and the digest of what it read.
"""

from __future__ import annotations

import time
import urllib.parse

import urllib3

from ..core.errors import ReleaseError, UsageError

_CHUNK = 1 << 16
SCHEMES = ("http", "https")


def is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme in SCHEMES


def fetch(url: str, max_bytes: int, deadline: float, where: str) -> bytes:
    """The export's bytes; a refusal (status, size, time, connection) is one ReleaseError line."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise UsageError(f"{where}: {url[:100]!r} is not an http(s) URL; give a URL or a path to the export")
    fail = f"{where}: {url[:200]}"
    # urllib3 follows redirects only to http(s) URLs; no retries: a failure is reported, not hidden.
    retries = urllib3.Retry(total=5, connect=0, read=0, status=0, other=0, redirect=5)
    pool = urllib3.PoolManager(headers={"User-Agent": "opencode-release-procurement"}, retries=retries)
    until = time.monotonic() + deadline
    try:
        response = pool.request(
            "GET", url, preload_content=False, timeout=urllib3.Timeout(connect=deadline, read=deadline)
        )
        try:
            if response.status != 200:
                raise ReleaseError(f"{fail}: HTTP {response.status} {response.reason or ''}".rstrip())
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ReleaseError(f"{fail}: {int(declared):,} bytes announced, over osv-max-bytes ({max_bytes:,})")
            chunks: list[bytes] = []
            size = 0
            # read1: what has arrived, so a server that trickles meets the deadline between reads
            while chunk := response.read1(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ReleaseError(f"{fail}: more than osv-max-bytes ({max_bytes:,}); raise it or use a file")
                if time.monotonic() > until:
                    raise ReleaseError(f"{fail}: not read within osv-deadline ({deadline:g} s); try again or raise it")
                chunks.append(chunk)
        finally:
            response.release_conn()
    except urllib3.exceptions.MaxRetryError as exc:
        raise ReleaseError(_failure(fail, exc.reason or exc, deadline)) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ReleaseError(_failure(fail, exc, deadline)) from None
    return b"".join(chunks)


def _failure(fail: str, exc: BaseException, deadline: float) -> str:
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # (a ConnectTimeoutError subclass in urllib3)
        return f"{fail}: cannot fetch it: cannot connect ({' '.join(str(exc).split())[-120:]})"
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return f"{fail}: no answer within osv-deadline ({deadline:g} s)"
    text = " ".join(str(exc).split())[:200]  # one line, whatever the library put in it
    return f"{fail}: cannot fetch it: {text}"
