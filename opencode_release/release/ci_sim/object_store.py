"""The simulated object store: moto's S3 server (moto_server, a dev dependency) on 127.0.0.1.

GitHub's publish and refresh jobs publish to the bucket channels.ci-storage names; here that bucket
lives in a moto_server started for the run (or by the caller, to keep one store across several runs,
as a real bucket outlives every run). Jobs reach it through $AWS_ENDPOINT_URL, which boto3 reads when
channels.s3-endpoint is empty: the generated workflows are not changed for it.
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

from ...core.errors import ToolMissingError
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


@contextlib.contextmanager
def serving() -> Iterator[str]:
    """A moto_server on 127.0.0.1 until the block ends; yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [_moto_server(), "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
        yield url
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
