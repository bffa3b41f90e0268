"""The channel repository on S3-compatible storage: moto_server on 127.0.0.1, boto3, conditional writes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opencode_release.channels import update_client as client
from opencode_release.channels.storage import ChannelError, S3Storage
from tests.integration.channel_helpers import TARGET, make_ledger, repository

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3(moto_url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    for key, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(key, value)
    s3_client = boto3.client("s3", endpoint_url=moto_url)
    bucket = request.node.name.replace("_", "-")[:60].lower()
    s3_client.create_bucket(Bucket=bucket)
    return s3_client, bucket


def test_publish_to_s3_and_update_from_it(s3: Any, moto_url: str, tmp_path: Path) -> None:
    s3_client, bucket = s3
    storage = S3Storage(bucket, "public", client=s3_client)
    repo = repository(tmp_path / "unused", tmp_path / "keys", storage=storage)
    ledger = make_ledger(tmp_path / "dist", "1.4.0", b"archive bytes")
    assert repo.publish(ledger, ["stable"]).status == "published"
    keys = set(storage.keys("metadata/"))
    assert {"metadata/root.json", "metadata/1.root.json", "metadata/timestamp.json", "metadata/1.snapshot.json"} <= keys
    assert not list(storage.keys(".publish.lock"))  # released
    assert repo.publish(ledger, ["stable"]).status == "unchanged"
    assert set(storage.keys("")) == keys | set(storage.keys("targets/")) | set(storage.keys("stable/"))
    # clients read the bucket anonymously, as from a public bucket or its CDN
    s3_client.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
    )
    update = client.check(
        f"{moto_url}/{bucket}/public",
        "stable",
        tmp_path / "cache",
        target=TARGET,
        trusted_root=None,
        trust_on_first_use=True,
    )
    assert update is not None and update.path.read_bytes() == b"archive bytes"


def test_conditional_write_refuses_to_replace_different_bytes(s3: Any) -> None:
    s3_client, bucket = s3
    storage = S3Storage(bucket, "public", client=s3_client)
    assert storage.create("targets/stable/x", b"one") is True
    assert storage.create("targets/stable/x", b"one") is False
    with pytest.raises(ChannelError) as err:
        storage.create("targets/stable/x", b"two")
    assert str(err.value) == (
        f"s3://{bucket}/public/targets/stable/x: already holds different bytes; published "
        "files are immutable: publish under a new version"
    )
    assert storage.read("targets/stable/x") == b"one"


def test_second_publisher_on_s3_fails_cleanly_while_the_lock_object_exists(s3: Any, tmp_path: Path) -> None:
    s3_client, bucket = s3
    storage = S3Storage(bucket, "public", client=s3_client)
    with storage.lock(1.0):
        repo = repository(
            tmp_path / "unused",
            tmp_path / "keys",
            storage=S3Storage(bucket, "public", client=s3_client),
            lock_timeout=0.3,
        )
        with pytest.raises(ChannelError) as err:
            repo.publish(make_ledger(tmp_path / "dist", "1.4.0", b"x"), ["stable"])
    message = str(err.value)
    assert message.startswith(
        f's3://{bucket}/public/.publish.lock: another publisher holds the lock ({{"pid": {os.getpid()}'
    )
    assert message.endswith("waited 0.3s (channels.lock-timeout-seconds); if that publisher died, delete the object")
    assert not list(storage.keys("metadata/"))
