"""RFC 6962 Merkle trees: hashes, inclusion and consistency proofs.

The embedded transparency logs build their trees and proofs with it; tests check
those proofs with the verifying half. Verifiers of releases never use it (the
library checks inclusion proofs), so it lives here, not in core/. A leaf hashes as
`sha256(00 | data)`, an inner node as `sha256(01 | left | right)`, and a tree
of n leaves splits at the largest power of two below n.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


class ProofError(ValueError):
    """A proof does not lead to the expected root."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class TreeHasher:
    """Subtree hashes over a growing list of leaf hashes.

    Perfect subtrees (power-of-two size at an aligned start) never change once
    their leaves exist, so they are cached; a root or proof over n leaves then
    costs O(log n) hashes after the first computation.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._leaves = leaves
        self._cache: dict[tuple[int, int], bytes] = {}

    def subtree(self, start: int, size: int) -> bytes:
        if size == 1:
            return self._leaves[start]
        perfect = size & (size - 1) == 0
        if perfect and (start, size) in self._cache:
            return self._cache[(start, size)]
        k = _split(size)
        value = node_hash(self.subtree(start, k), self.subtree(start + k, size - k))
        if perfect:
            self._cache[(start, size)] = value
        return value

    def root(self, size: int) -> bytes:
        if size == 0:
            return hashlib.sha256(b"").digest()
        return self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Audit path for leaf `index` in the tree of the first `size` leaves (RFC 6962 2.1.1)."""
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, size: int) -> list[bytes]:
        if size == 1:
            return []
        k = _split(size)
        if index < k:
            return [*self._path(index, start, k), self.subtree(start + k, size - k)]
        return [*self._path(index - k, start + k, size - k), self.subtree(start, k)]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """Proof that the tree of `old` leaves is a prefix of the tree of `new` (RFC 6962 2.1.2)."""
        if not 0 < old <= new:
            raise ProofError(f"no consistency proof from size {old} to {new}")
        return self._subproof(old, 0, new, True)

    def _subproof(self, m: int, start: int, n: int, complete: bool) -> list[bytes]:
        if m == n:
            return [] if complete else [self.subtree(start, n)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, k, complete), self.subtree(start + k, n - k)]
        return [*self._subproof(m - k, start + k, n - k, False), self.subtree(start, k)]


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 2.1.3.2); raises on a malformed proof."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return result


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check a consistency proof (RFC 9162 2.1.4.2); raises ProofError when it fails."""
    if not 0 < old <= new:
        raise ProofError(f"no consistency between sizes {old} and {new}")
    if old == new:
        if proof or old_root != new_root:
            raise ProofError("equal sizes need an empty proof and equal roots")
        return
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: its root starts the path
        path.insert(0, old_root)
    if not path:
        raise ProofError("empty consistency proof")
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")
