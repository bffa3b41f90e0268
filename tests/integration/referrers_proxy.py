"""A stand-in for the OCI 1.1 referrers API in front of the real Distribution 2.8, for the one branch no
registry installable here has (Debian ships Distribution 2.8 only; PyPI and npm ship no registry with it).

Every request goes to the real registry unchanged. The proxy adds only what distribution-spec 1.1 says a
registry with the API does: a manifest pushed with a `subject` is answered with `OCI-Subject: <digest>`, and
`GET /v2/<repo>/referrers/<digest>` answers an image index of the descriptors of the manifests pushed with
that subject. It tests which branch the client takes, not a registry's implementation of the API."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import requests

from .channel_helpers import serving

INDEX = "application/vnd.oci.image.index.v1+json"
_REFERRERS = re.compile(r"/v2/(?P<repo>.+)/referrers/(?P<digest>sha256:[0-9a-f]{64})")
_MANIFEST = re.compile(r"/v2/(?P<repo>.+)/manifests/[^/]+")
_FORWARDED = ("Accept", "Content-Type", "Authorization")


@contextlib.contextmanager
def referrers_api(upstream: str) -> Iterator[str]:
    """HOST:PORT of a proxy to the registry at `upstream` (HOST:PORT) that has the referrers API."""
    seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
    lock = threading.Lock()

    class Proxy(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _forward(self) -> None:
            path = self.path.split("?")[0]
            listed = _REFERRERS.fullmatch(path)
            if self.command == "GET" and listed:
                with lock:
                    manifests = list(seen.get((listed["repo"], listed["digest"]), []))
                body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}).encode()
                self._answer(200, {"Content-Type": INDEX}, body)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: self.headers[k] for k in _FORWARDED if self.headers.get(k)}
            answer = requests.request(
                self.command,
                f"http://{upstream}{self.path}",
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=60,
            )
            kept = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")
            }
            pushed = _MANIFEST.fullmatch(path)
            if self.command == "PUT" and pushed and answer.status_code == 201:
                document = json.loads(body)
                subject = (document.get("subject") or {}).get("digest")
                if subject:
                    descriptor = {
                        "mediaType": document.get("mediaType"),
                        "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                        "size": len(body),
                        "artifactType": document.get("artifactType"),
                        "annotations": document.get("annotations") or {},
                    }
                    with lock:
                        entries = seen.setdefault((pushed["repo"], subject), [])
                        if descriptor not in entries:
                            entries.append(descriptor)
                    kept["OCI-Subject"] = subject
            self._answer(answer.status_code, kept, answer.content)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

    with serving(Proxy) as url:
        yield url.removeprefix("http://")
