"""`[procurement] osv-export` as a URL: fetched from a loopback HTTP server (started and stopped here) within
its length cap and deadline; each refusal is one line naming the setting and the URL."""

from __future__ import annotations

import http.server
import time
from pathlib import Path

import pytest

from opencode_release.core.errors import ReleaseError, UsageError
from opencode_release.procurement import osv, osv_fetch
from tests.integration.channel_helpers import serving

pytestmark = pytest.mark.integration
WHERE = "pyproject.toml: procurement.osv-export"
EXPORT = b"PK\x05\x06" + b"\0" * 18  # an empty zip: its bytes are all that is compared here


def _handler(routes: dict[str, bytes]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/slow":  # a byte a tenth of a second, forever: only the deadline stops it
                self.send_response(200)
                self.end_headers()
                try:
                    for _ in range(600):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass
                return
            if self.path == "/endless":  # no length announced, more than the cap sent
                self.send_response(200)
                self.end_headers()
                try:
                    for _ in range(64):
                        self.wfile.write(b"y" * 65536)
                except OSError:
                    pass
                return
            if self.path == "/to-a-file":
                self.send_response(302)
                self.send_header("Location", "file:///etc/passwd")
                self.end_headers()
                return
            if self.path == "/moved":
                self.send_response(301)
                self.send_header("Location", "/all.zip")
                self.end_headers()
                return
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def test_an_export_is_fetched_whole_and_a_redirect_within_http_is_followed() -> None:
    with serving(_handler({"/all.zip": EXPORT})) as url:
        assert osv_fetch.fetch(f"{url}/all.zip", 1 << 20, 30, WHERE) == EXPORT
        assert osv_fetch.fetch(f"{url}/moved", 1 << 20, 30, WHERE) == EXPORT
    assert osv.read_export(EXPORT, WHERE) == []


@pytest.mark.parametrize(
    ("path", "cap", "deadline", "said"),
    [
        ("/nowhere.zip", 1 << 20, 30, "HTTP 404"),
        ("/big.zip", 100, 30, "announced, over osv-max-bytes (100)"),
        ("/endless", 1 << 20, 30, "more than osv-max-bytes (1,048,576)"),
        ("/slow", 1 << 20, 1.5, "within osv-deadline (1.5 s)"),
        ("/to-a-file", 1 << 20, 30, "cannot fetch it"),
    ],
)
def test_each_refusal_is_one_line_naming_the_setting_and_the_url(
    path: str, cap: int, deadline: float, said: str
) -> None:
    with serving(_handler({"/big.zip": b"z" * 1000})) as url:
        started = time.monotonic()
        with pytest.raises(ReleaseError) as caught:
            osv_fetch.fetch(f"{url}{path}", cap, deadline, WHERE)
        assert time.monotonic() - started < deadline + 10
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: {url}{path}: ") and said in message, message
    assert "\n" not in message


def test_a_url_that_is_not_http_is_bad_input() -> None:
    assert not osv_fetch.is_url("vulns/all.zip") and not osv_fetch.is_url("file:///etc/passwd")
    with pytest.raises(UsageError, match="is not an http"):
        osv_fetch.fetch("ftp://example.org/all.zip", 100, 1, WHERE)


def test_a_refused_connection_is_one_line(tmp_path: Path) -> None:
    with serving(_handler({})) as url:
        pass  # stopped: nothing listens on its port now
    with pytest.raises(ReleaseError, match="cannot fetch it") as caught:
        osv_fetch.fetch(f"{url}/all.zip", 100, 5, WHERE)
    assert "\n" not in str(caught.value)
