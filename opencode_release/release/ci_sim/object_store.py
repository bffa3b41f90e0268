"""The simulated object store: moto's S3 server (moto_server, a dev dependency) on 127.0.0.1.

GitHub's publish and refresh jobs publish to the bucket channels.ci-storage names; here that bucket
lives in a moto_server started for the run (or by the caller). A real bucket outlives every run, and
moto keeps objects in memory only: so `serving(kept=DIR)` loads DIR/<bucket>/<key> into the server
when it starts and writes every object back there when it stops, and the next run (another process,
a later `ci --simulate`) finds the repository the last one left. Jobs reach the server through
$AWS_ENDPOINT_URL, which boto3 reads when channels.s3-endpoint is empty: the generated workflows are
not changed for it.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...core.environment import minimal
from ...core.errors import ToolMissingError, UnsafePathError
from ...core.fsio import check_relative, inside
from .act_runner import free_port

ENDPOINT_ENV = "AWS_ENDPOINT_URL"
# moto takes any credentials; the publish job's come from the environment's (simulated) secrets
CREDENTIALS = {"aws_access_key_id": "simulated", "aws_secret_access_key": "simulated", "region_name": "us-east-1"}


def _moto_server() -> str:
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.is_file() else shutil.which("moto_server")
    if not found:
        raise ToolMissingError("ci --simulate needs moto_server: pip install 'moto[server]' (./setup.sh installs it)")
    return found


def load(endpoint: str, kept: Path) -> int:
    """Every file kept/<bucket>/<key> as an object of that bucket (made if absent); returns how many."""
    s3 = client(endpoint)
    count = 0
    for bucket in sorted(p for p in kept.iterdir() if p.is_dir()) if kept.is_dir() else []:
        s3.create_bucket(Bucket=bucket.name)
        for path in sorted(bucket.rglob("*")):
            if path.is_symlink():
                raise UnsafePathError(str(kept), str(path.relative_to(kept)), "is a symlink, expected a file")
            if path.is_file():
                s3.put_object(Bucket=bucket.name, Key=path.relative_to(bucket).as_posix(), Body=path.read_bytes())
                count += 1
    return count


def _objects(endpoint: str) -> dict[str, dict[str, bytes]]:
    s3 = client(endpoint)
    found: dict[str, dict[str, bytes]] = {}
    for listed in s3.list_buckets().get("Buckets", []):
        name = check_relative(listed["Name"], source=f"{endpoint}: bucket")
        objects = found.setdefault(name, {})
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                # keys come from the jobs: one that would leave the folder is refused before anything is written
                key = check_relative(item["Key"], source=f"{endpoint}/{name}")
                objects[key] = s3.get_object(Bucket=name, Key=key)["Body"].read()
    return found


def dump(endpoint: str, kept: Path) -> int:
    """Every object of the server into kept/<bucket>/<key>, replacing what kept held; returns how many.

    All objects are read and their keys checked first, then written to a new folder that takes kept's
    place: a refused key or a failed read leaves kept as it was."""
    found = _objects(endpoint)
    fresh = kept.with_name(kept.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    for bucket, objects in found.items():
        (fresh / bucket).mkdir()
        for key, data in objects.items():
            path = inside(fresh / bucket, key, source=f"{endpoint}/{bucket}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    old = kept.with_name(kept.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if kept.exists():
        kept.replace(old)
    fresh.replace(kept)
    shutil.rmtree(old, ignore_errors=True)
    return sum(len(objects) for objects in found.values())


@contextlib.contextmanager
def serving(kept: Path | None = None) -> Iterator[str]:
    """A moto_server on 127.0.0.1 until the block ends; yields its endpoint URL. With `kept`, the
    server starts with the objects kept there and they are written back when the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [_moto_server(), "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=minimal(),  # the caller's cloud credentials are not the stand-in's business
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ToolMissingError(f"moto_server did not start on {url}") from None
                time.sleep(0.1)
        if kept is None:
            yield url
            return
        load(url, kept)
        try:
            yield url
        finally:
            dump(url, kept)  # also after a failed run: a real bucket keeps what its jobs wrote
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)


def ensure_bucket(endpoint: str, store: str) -> str:
    """The bucket of `store` (s3://BUCKET/PREFIX) exists, as an operator creates it once; returns its name."""
    bucket = store.removeprefix("s3://").partition("/")[0]
    s3 = client(endpoint)
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    return bucket
