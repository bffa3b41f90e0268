"""OCI media types, image references, and a small client of the OCI distribution spec.

`images/` pushes with it and `verify/` reads with it, so it sits on the ground.
The maintained Python client (oras-py 0.2) re-serialises manifests (a
manifest's digest is over its exact bytes), knows neither image indexes nor
referrers, and sleeps for minutes on an unreachable host; this client speaks
the few calls of the distribution spec 1.1 we need, with exact bytes, bounded
reads and one-line errors. A loopback registry (127.0.0.1, localhost, ::1) is
spoken to over plain HTTP, every other over HTTPS. Credentials come from
OPENCODE_REGISTRY_USERNAME / OPENCODE_REGISTRY_PASSWORD (never from a file),
for the Bearer token or Basic challenge a registry answers with; they are sent
only over HTTPS or to loopback, and never printed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import requests

from .errors import ReleaseError, UsageError

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"  # an in-toto statement that a signed statement binds by digest
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join((INDEX, MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
MAX_MANIFEST_BYTES = 4 << 20  # the spec's recommended limit for a manifest
USERNAME_ENV = "OPENCODE_REGISTRY_USERNAME"
PASSWORD_ENV = "OPENCODE_REGISTRY_PASSWORD"  # noqa: S105 (the name of a variable, not its value)
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_TIMEOUT = 60
_HOST = r"(?P<host>[a-z0-9.-]+(:[0-9]{1,5})?|\[::1\](:[0-9]{1,5})?)"
_REPO = r"(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
_REFERENCE = re.compile(
    _HOST + "/" + _REPO + r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(@(?P<digest>sha256:[0-9a-f]{64}))?"
)


class RegistryError(ReleaseError):
    """The registry refused, failed, or answered what the spec does not allow."""


class CredentialsMissing(UsageError):
    """The registry asks for credentials and the environment has none: the caller's to give (exit 2)."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


def fallback_tag(digest: str) -> str:
    """The referrers tag schema: `sha256-<hex>` names the index of a subject's referrers."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}-{encoded}"


@dataclass(frozen=True, slots=True)
class Reference:
    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str, *, what: str = "an image reference") -> Reference:
        found = _REFERENCE.fullmatch(text)
        if found is None or ("." not in found["host"] and ":" not in found["host"] and found["host"] != "localhost"):
            raise UsageError(
                f"{text!r}: not {what}; expected HOST[:PORT]/REPO[:TAG|@sha256:DIGEST] "
                "(lower-case repository, host first)"
            )
        return cls(found["host"], found["repo"], found["tag"], found["digest"])

    @property
    def repo(self) -> str:
        return f"{self.host}/{self.repository}"

    @property
    def reference(self) -> str:
        """What the manifests endpoint is asked for: the digest when there is one."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return self.repo + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    media_type: str
    digest: str  # of the bytes received, computed here; never the registry's word
    served_digest: str | None = None  # the registry's Docker-Content-Digest, to compare with


class Registry:
    """One repository of one registry."""

    def __init__(self, host: str, repository: str) -> None:
        self.host, self.repository = host, repository
        plain = host.split(":")[0] in LOOPBACK or host.startswith("[::1]")
        self.base = f"{'http' if plain else 'https'}://{host}/v2/{repository}"
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "opencode-release"
        self._auth: dict[str, str] = {}

    @classmethod
    def of(cls, reference: Reference) -> Registry:
        return cls(reference.host, reference.repository)

    # -- transport ------------------------------------------------------------------
    def _credentials(self) -> tuple[str, str] | None:
        user, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
        return (user, password) if user and password else None

    def _authenticate(self, challenge: str) -> None:
        """Answer a 401's challenge: Basic with the environment's credentials, or Bearer with a token that the
        challenge's realm grants for them (anonymously when the environment has none: a public image)."""
        scheme, params = [*challenge.split(None, 1), "", ""][:2]
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        credentials = self._credentials()
        if scheme.lower() == "basic":
            if credentials is None:
                raise CredentialsMissing(
                    f"{self.host}: the registry asks for credentials; set {USERNAME_ENV} and {PASSWORD_ENV}"
                )
            self._auth = {"Authorization": "Basic " + base64.b64encode(":".join(credentials).encode()).decode()}
        elif scheme.lower() == "bearer" and "realm" in fields:
            self._auth = {"Authorization": f"Bearer {self._token(fields, credentials)}"}
        else:
            raise RegistryError(f"{self.host}: a challenge this client does not answer: {scheme[:40]!r}")

    def _token(self, fields: dict[str, str], credentials: tuple[str, str] | None) -> str:
        realm = fields["realm"]
        where = urllib.parse.urlsplit(realm)
        if where.scheme != "https" and not (where.scheme == "http" and where.hostname in _LOOPBACK_NAMES):
            raise RegistryError(f"{self.host}: refused token realm {realm[:100]!r}: credentials go over HTTPS only")
        query = {k: v for k, v in fields.items() if k in ("service", "scope")}
        try:
            answer = requests.get(realm, params=query, auth=credentials, timeout=_TIMEOUT, allow_redirects=False)
            token = answer.json().get("token") or answer.json().get("access_token") if answer.ok else None
        except (requests.RequestException, ValueError, AttributeError) as exc:
            raise RegistryError(f"{self.host}: token request failed: {type(exc).__name__}") from None
        if answer.status_code == 401 and credentials is None:
            raise CredentialsMissing(
                f"{self.host}: the registry's token service asks for credentials; set {USERNAME_ENV} and {PASSWORD_ENV}"
            )
        if not isinstance(token, str) or not token:
            raise RegistryError(
                f"{self.host}: the token service refused the credentials of {USERNAME_ENV} ({answer.status_code})"
            )
        return token

    def _request(self, method: str, url: str, *, ok: tuple[int, ...], **kwargs: Any) -> requests.Response:
        headers = {**kwargs.pop("headers", {})}
        for attempt in range(2):
            try:
                response = self.session.request(
                    method, url, headers={**headers, **self._auth}, timeout=_TIMEOUT, allow_redirects=True, **kwargs
                )
            except requests.RequestException as exc:
                raise RegistryError(f"{self.host}: cannot reach the registry: {type(exc).__name__}") from None
            if response.status_code == 401 and attempt == 0 and "WWW-Authenticate" in response.headers:
                self._authenticate(response.headers["WWW-Authenticate"])
                continue
            break
        if response.status_code == 401 and self._auth:
            raise RegistryError(
                f"{self.host}/{self.repository}: the registry refused the credentials of {USERNAME_ENV} "
                f"({method} {url.split('/v2/', 1)[-1].split('?')[0]}: 401)"
            )
        if response.status_code not in ok:
            raise RegistryError(
                f"{self.host}/{self.repository}: {method} {url.split('/v2/', 1)[-1]}: "
                f"{response.status_code} {_errors(response)}"
            )
        return response

    # -- manifests ------------------------------------------------------------------
    def get_manifest(self, reference: str) -> Fetched | None:
        response = self._request(
            "GET", f"{self.base}/manifests/{reference}", ok=(200, 404), headers={"Accept": ACCEPT}, stream=True
        )
        if response.status_code == 404:
            return None
        data = _bounded(response, MAX_MANIFEST_BYTES, f"manifest {reference}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Fetched(data, media_type, sha256_digest(data), response.headers.get("Docker-Content-Digest"))

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str | None:
        """Push a manifest; returns the registry's `OCI-Subject` header (it has the referrers API) or None."""
        response = self._request(
            "PUT", f"{self.base}/manifests/{reference}", ok=(201,), data=data, headers={"Content-Type": media_type}
        )
        return response.headers.get("OCI-Subject")

    def tags(self) -> list[str]:
        response = self._request("GET", f"{self.base}/tags/list", ok=(200, 404))
        if response.status_code == 404:
            return []
        found = response.json().get("tags") or []
        return [str(t) for t in found]

    def referrers(self, digest: str) -> list[dict[str, Any]] | None:
        """The subject's referrers through the referrers API; None when the registry has no such API."""
        response = self._request(
            "GET", f"{self.base}/referrers/{digest}", ok=(200, 404, 400, 405), headers={"Accept": INDEX}
        )
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith(INDEX):
            return None
        manifests = response.json().get("manifests", [])
        return [m for m in manifests if isinstance(m, dict)]

    # -- blobs ----------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        return self._request("HEAD", f"{self.base}/blobs/{digest}", ok=(200, 404)).status_code == 200

    def push_blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        if self.has_blob(digest):
            return digest
        started = self._request("POST", f"{self.base}/blobs/uploads/", ok=(202,))
        location = started.headers.get("Location", "")
        if not location:
            raise RegistryError(f"{self.host}/{self.repository}: blob upload started without a Location")
        if location.startswith("/"):
            location = self.base.split("/v2/", 1)[0] + location
        joiner = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{joiner}digest={digest}",
            ok=(201,),
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return digest

    def get_blob(self, digest: str, size: int) -> bytes:
        """A blob of the size its descriptor gives; bytes that do not hash to `digest` are refused."""
        response = self._request("GET", f"{self.base}/blobs/{digest}", ok=(200,), stream=True)
        data = _bounded(response, size, f"blob {digest}")
        if sha256_digest(data) != digest or len(data) != size:
            raise RegistryError(
                f"{self.host}/{self.repository}: blob {digest}: the bytes served do not match their digest and size"
            )
        return data


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object from the registry, or one line saying it is not one."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise RegistryError(f"{what}: not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise RegistryError(f"{what}: not a JSON object")
    return document


def _bounded(response: requests.Response, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(1 << 16):
        total += len(chunk)
        if total > limit:
            response.close()
            raise RegistryError(f"{response.url}: {what} is larger than {limit} bytes; refused")
        chunks.append(chunk)
    return b"".join(chunks)


def _errors(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        text = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        text = ""
    return " ".join((text or response.reason or "").split())[:300]
