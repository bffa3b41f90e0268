"""actions/cache v5.0.5, as documented, through act's cache server.

act serves the legacy cache API (ACTIONS_CACHE_URL + _apis/artifactcache/...), which @actions/cache
uses when ACTIONS_CACHE_SERVICE_V2 is unset. `key` then each `restore-keys` prefix is looked up;
cache-hit is "true" only for an exact key match; the post step saves under `key` unless that key was
hit. The entry's version binds it to the paths (a different `path` list never restores it).

GitHub's cache service scopes entries by ref, which act's server does not: a run restores entries saved
by runs of its own ref, then of the default branch, never those of a tag or another branch (so a
nightly on main cannot restore what a tag's release saved, and a release restores main's). The
stand-in keeps that rule on act's server by saving under `<ref>#<key>` and looking up its own ref's
entries before the default branch's (from the event payload, as the runner reads it).
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


def scopes() -> list[str]:
    """The refs whose entries this run may restore: its own, then the default branch's."""
    ref = os.environ["GITHUB_REF"]
    with open(os.environ["GITHUB_EVENT_PATH"], encoding="utf-8") as handle:
        default = json.load(handle).get("repository", {}).get("default_branch", "")
    branch = f"refs/heads/{default}" if default else ""
    return [ref, branch] if branch and branch != ref else [ref]


def lookup(keys: list[str]) -> tuple[str, str] | None:
    """(the entry's key without its scope, its archive URL) of the first scope holding a match."""
    for scope in scopes():
        scoped = ",".join(f"{scope}#{k}" for k in keys)
        status, body = api("GET", "cache?" + urllib.parse.urlencode({"keys": scoped, "version": version()}))
        if status == 200:
            entry = json.loads(body)
            return str(entry["cacheKey"]).removeprefix(f"{scope}#"), str(entry["archiveLocation"])
    return None


def restore() -> None:
    key = get_input("key")
    keys = [key, *lines("restore-keys")]
    found = lookup(keys)
    matched = ""
    if found is not None:
        matched, location = found
        with urllib.request.urlopen(location) as answer:
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
    scoped = f"{os.environ['GITHUB_REF']}#{key}"  # the entry belongs to this run's ref (see scopes)
    try:
        _, body = api(
            "POST",
            "caches",
            json.dumps({"key": scoped, "version": version(), "cacheSize": len(data)}).encode(),
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
