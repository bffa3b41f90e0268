"""Byte formats shared by the areas: canonical JSON, deterministic gzip, DSSE's PAE, YAML."""

from __future__ import annotations

import json
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no insignificant space: the bytes we hash and sign."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_GZIP_PIECE = 1 << 20  # fixed, so the bytes never depend on how many cores compressed them
_DEFLATE_WINDOW = 1 << 15


def gzip_bytes(data: bytes, level: int = 9) -> bytes:
    """gzip with no file name and a zero time, compressed in 1 MiB pieces on all cores.

    Each piece is primed with the 32 KiB before it and ends on a sync flush, as
    pigz does, so the result is one ordinary deflate stream (any gunzip reads
    it) within a fraction of a percent of a single-threaded one's size, and
    its bytes depend only on `data` and `level`. zlib drops the GIL while it
    compresses, so threads are enough.
    """
    view = memoryview(data)
    starts = range(0, len(data), _GZIP_PIECE) if data else range(1)

    def piece(start: int) -> bytes:
        end = min(start + _GZIP_PIECE, len(data))
        primer = bytes(view[max(0, start - _DEFLATE_WINDOW) : start])
        packer = (
            zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=primer)
            if primer
            else zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        )
        last = end >= len(data)
        return packer.compress(view[start:end]) + packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        body = b"".join(pool.map(piece, starts))
    # ID1 ID2, deflate, no flags, MTIME 0, XFL (2: slowest level, 4: fastest), OS 255 (unknown)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([2 if level == 9 else 4 if level == 1 else 0, 255])
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what a DSSE signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)
