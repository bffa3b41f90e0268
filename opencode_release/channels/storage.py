"""Where a channel repository lives: a folder (default) or an S3-compatible bucket.

Keys are POSIX paths relative to the repository root. Every write is atomic:
on a filesystem a temporary name, fsync and rename (`write_atomic`); on S3 one
PUT. `create` is a conditional write: it refuses to replace different bytes
(S3 `If-None-Match: *`), which is how two publishers cannot overwrite each
other's immutable files. The lock serialises publishers: `flock` on a file, or
an object created with `If-None-Match` on S3. A publisher may call `create`
and `write` from several threads at once (`artifacts.concurrently`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ..core.errors import ReleaseError
from ..core.fsio import check_relative, inside, write_atomic

LOCK_NAME = ".publish.lock"


class ChannelError(ReleaseError):
    """The channel repository refused a change (conflict, lock, missing keys)."""


class Storage(Protocol):
    description: str

    def read(self, key: str) -> bytes | None: ...

    def write(self, key: str, data: bytes) -> None: ...

    def create(self, key: str, data: bytes) -> bool:
        """Write `key` only if absent; True if written, False if the same bytes were there."""
        ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str) -> Iterator[str]: ...

    def lock(self, timeout: float) -> contextlib.AbstractContextManager[None]: ...


def _conflict(description: str, key: str) -> ChannelError:
    return ChannelError(
        f"{description}/{key}: already holds different bytes; published files are "
        "immutable: publish under a new version"
    )


def _failed(action: str, path: Path, exc: OSError) -> ChannelError:
    """A full disk, a permission, a read-only mount: one line naming the file."""
    code = errno.errorcode.get(exc.errno or 0, "")
    return ChannelError(f"{path}: cannot {action}: {exc.strerror or exc}" + (f" ({code})" if code else ""))


class FileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)
        # Folders already cleared of a killed writer's temp files in this locked session.
        self._swept: set[Path] | None = None
        self._sweeping = threading.Lock()  # a folder is swept before any thread writes to it

    def _path(self, key: str) -> Path:
        # Keys come from data too (release records, the journal, TUF target names): the path rule
        # keeps every read, write and delete (retention, yank) inside the repository.
        return inside(self.root, key, source=self.description)

    def read(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _failed("read", path, exc) from exc

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            if self._swept is not None:
                with self._sweeping:
                    if path.parent not in self._swept:
                        self._remove_stale_temporaries(path.parent)
                        self._swept.add(path.parent)
            write_atomic(path, data)
        except OSError as exc:
            raise _failed("write", path, exc) from exc

    def create(self, key: str, data: bytes) -> bool:
        existing = self.read(key)
        if existing is not None:
            if existing != data:
                raise _conflict(self.description, key)
            return False
        self.write(key, data)
        return True

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise _failed("delete", path, exc) from exc
        # folders emptied by retention go too (as they would on an object store)
        folder = path.parent
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent

    def keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.strip("/")  # a listing prefix is ours, not data
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                yield path.relative_to(self.root).as_posix()

    @staticmethod
    def _remove_stale_temporaries(folder: Path) -> None:
        """Temp files a killed publisher left in `folder` (only ever done under the lock).

        Per folder written to, not the whole tree: a publish costs what it changes.
        """
        if folder.is_dir():
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                        Path(entry.path).unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_NAME
        with path.open("a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "unknown"
                        raise ChannelError(
                            f"{path}: another publisher holds the lock ({holder}); waited {timeout:g}s "
                            "(channels.lock-timeout-seconds); try again when it has finished"
                        ) from None
                    time.sleep(0.05)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
            handle.flush()
            self._swept = set()  # only the lock holder may clear what a killed writer left
            try:
                yield
            finally:
                self._swept = None
                fcntl.flock(handle, fcntl.LOCK_UN)


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, moto) through boto3."""

    def __init__(self, bucket: str, prefix: str, endpoint: str = "", client: Any = None) -> None:
        if client is None:
            import boto3  # imported here: only S3 users pay for it

            client = boto3.client("s3", endpoint_url=endpoint or None)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix.rstrip('/')}".rstrip("/")

    def _key(self, key: str) -> str:
        return self.prefix + check_relative(key, source=self.description)

    def read(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def create(self, key: str, data: bytes) -> bool:
        if self._put_if_absent(key, data):
            return True
        if self.read(key) != data:
            raise _conflict(self.description, key)
        return False

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        # a listing prefix is ours (e.g. "metadata/"), not data: only keys get the path rule
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"])[len(self.prefix) :]

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        note = json.dumps({"pid": os.getpid(), "since": time.time()}).encode()
        deadline = time.monotonic() + timeout
        while not self._put_if_absent(LOCK_NAME, note):
            if time.monotonic() >= deadline:
                holder = (self.read(LOCK_NAME) or b"unknown").decode(errors="replace")
                raise ChannelError(
                    f"{self.description}/{LOCK_NAME}: another publisher holds the lock ({holder}); waited "
                    f"{timeout:g}s (channels.lock-timeout-seconds); if that publisher died, delete the object"
                )
            time.sleep(0.1)
        try:
            yield
        finally:
            self.delete(LOCK_NAME)


def open_storage(storage: str, root: Path, endpoint: str = "") -> Storage:
    """`filesystem` (the folder `root`) or `s3://bucket/prefix`."""
    if storage == "filesystem":
        return FileStorage(root)
    if storage.startswith("s3://"):
        bucket, _, prefix = storage[len("s3://") :].partition("/")
        if not bucket:
            raise ChannelError(f"channels.storage: {storage!r} names no bucket; expected s3://BUCKET/PREFIX")
        return S3Storage(bucket, prefix, endpoint)
    raise ChannelError(f"channels.storage: found {storage!r}; expected 'filesystem' or 's3://BUCKET/PREFIX'")
