"""actions/cache v5.0.5, as documented, through act's cache server.

act serves the legacy cache API (ACTIONS_CACHE_URL + _apis/artifactcache/...), which @actions/cache
uses when ACTIONS_CACHE_SERVICE_V2 is unset. `key` then each `restore-keys` prefix is looked up;
cache-hit is "true" only for an exact key match; the post step saves under `key` unless that key was
hit. The entry's version binds it to the paths (a different `path` list never restores it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from _common import fail, get_input, lines, save_state, set_output

ACCEPT = "application/json;api-version=6.0-preview.1"


def version() -> str:
    return hashlib.sha256("|".join([*lines("path"), "gzip", "1.0"]).encode()).hexdigest()


def api(method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    url = os.environ["ACTIONS_CACHE_URL"] + "_apis/artifactcache/" + path
    request = urllib.request.Request(url, body, {"Accept": ACCEPT, **headers}, method=method)
    with urllib.request.urlopen(request) as answer:
        return int(answer.status), bytes(answer.read())


def restore() -> None:
    key = get_input("key")
    keys = [key, *lines("restore-keys")]
    status, body = api("GET", "cache?" + urllib.parse.urlencode({"keys": ",".join(keys), "version": version()}))
    matched = ""
    if status == 200:
        entry = json.loads(body)
        matched = str(entry["cacheKey"])
        with urllib.request.urlopen(entry["archiveLocation"]) as answer:
            data = answer.read()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(os.environ["GITHUB_WORKSPACE"], filter="tar")
        print(f"Cache restored from key: {matched}")
    else:
        if get_input("fail-on-cache-miss", "false") == "true":
            fail(f"Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: {key}")
        print(f"Cache not found for input keys: {', '.join(keys)}")
    set_output(cache_hit="true" if matched == key else "false")
    save_state(CACHE_KEY=key, CACHE_RESULT=matched)


def save() -> None:
    key = os.environ.get("STATE_CACHE_KEY", "")
    if os.environ.get("STATE_CACHE_RESULT") == key:
        print(f"Cache hit occurred on the primary key {key}, not saving cache.")
        return
    workspace = Path(os.environ["GITHUB_WORKSPACE"])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        for path in lines("path"):
            if (workspace / path).exists():
                archive.add(workspace / path, arcname=path)
    data = buffer.getvalue()
    try:
        _, body = api(
            "POST",
            "caches",
            json.dumps({"key": key, "version": version(), "cacheSize": len(data)}).encode(),
            **{"Content-Type": "application/json"},
        )
    except urllib.error.HTTPError as exc:  # another job reserved the key first: as the action, warn only
        print(f"::warning::Failed to save: {exc}")
        return
    cache_id = json.loads(body)["cacheId"]
    api(
        "PATCH",
        f"caches/{cache_id}",
        data,
        **{"Content-Type": "application/octet-stream", "Content-Range": f"bytes 0-{len(data) - 1}/*"},
    )
    api("POST", f"caches/{cache_id}", json.dumps({"size": len(data)}).encode(), **{"Content-Type": "application/json"})
    print(f"Cache saved with key: {key}")


if __name__ == "__main__":
    {"main": restore, "post": save}[sys.argv[1]]()
