"""Byte formats shared by the areas: canonical JSON, deterministic gzip, DSSE's PAE, YAML."""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import yaml


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


class _BlockDumper(yaml.SafeDumper):
    """Block style, keys in the order given, multi-line strings as literal blocks."""


class _QuotedDumper(_BlockDumper):
    """The same, with every one-line string double-quoted (winget: versions must stay strings)."""


def _plain_or_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


def _quoted_or_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else '"')


def _plain_keys(dumper: yaml.SafeDumper, mapping: Mapping[Any, Any]) -> yaml.MappingNode:
    pairs = [
        (dumper.represent_scalar("tag:yaml.org,2002:str", str(k)), dumper.represent_data(v)) for k, v in mapping.items()
    ]
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs, flow_style=False)


_BlockDumper.add_representer(str, _plain_or_block)
_QuotedDumper.add_representer(str, _quoted_or_block)
_QuotedDumper.add_representer(dict, _plain_keys)


def dump_yaml(document: Mapping[str, Any], header: Sequence[str] = (), *, quote_strings: bool = False) -> str:
    """YAML through PyYAML with one fixed style, so generated files are byte-stable: block
    mappings in insertion order, literal blocks for multi-line text, `# ` header lines first."""
    body = yaml.dump(
        document,
        Dumper=_QuotedDumper if quote_strings else _BlockDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,  # never fold a line: a folded `run:` script is another script
        indent=2,
    )
    return "".join(f"# {line}\n" if line else "\n" for line in header) + body
