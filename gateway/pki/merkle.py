"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs (§2.1).

Hashes: MTH({}) = SHA-256(""), leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || left || right).
The 0x00/0x01 prefixes keep a leaf from passing as an interior node (second preimage).

Proof generation works on a *node source*: a function that returns the hash of a complete,
aligned subtree (``size`` a power of two, ``start`` a multiple of it). A store that keeps those
hashes answers any proof with O(log² n) lookups; :class:`MemoryTree` keeps them in lists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeSource = Callable[[int, int], bytes]  # (start, size) of an aligned complete subtree -> hash


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(source: NodeSource, start: int, size: int) -> bytes:
    """MTH of leaves [start, start+size), built from complete aligned subtrees."""
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        return source(start, size)
    k = _split(size)
    return node_hash(subtree_hash(source, start, k), subtree_hash(source, start + k, size - k))


def root(source: NodeSource, size: int) -> bytes:
    return subtree_hash(source, 0, size)


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return _path(source, index, 0, size)


def _path(source: NodeSource, m: int, start: int, n: int) -> list[bytes]:
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(source, m, start, k), subtree_hash(source, start + k, n - k)]
    return [*_path(source, m - k, start + k, n - k), subtree_hash(source, start, k)]


def consistency_proof(source: NodeSource, first: int, second: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n])."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first == second:
        return []
    return _subproof(source, first, 0, second, True)


def _subproof(source: NodeSource, m: int, start: int, n: int, complete: bool) -> list[bytes]:
    if m == n:
        return [] if complete else [subtree_hash(source, start, n)]
    k = _split(n)
    if m <= k:
        return [*_subproof(source, m, start, k, complete), subtree_hash(source, start + k, n - k)]
    return [*_subproof(source, m - k, start + k, n - k, False), subtree_hash(source, start, k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, given the leaf *hash*."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # first is a power of two: its root starts the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class MemoryTree:
    """An append-only tree keeping every complete aligned subtree hash (for tests and tools)."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]  # levels[h][i] = hash of leaves [i*2^h, (i+1)*2^h)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append_hash(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        height, index = 0, self.size - 1
        while index & 1:
            if len(self.levels) == height + 1:
                self.levels.append([])
            level = self.levels[height]
            self.levels[height + 1].append(node_hash(level[index - 1], level[index]))
            height, index = height + 1, index >> 1

    def append(self, data: bytes) -> None:
        self.append_hash(leaf_hash(data))

    def node(self, start: int, size: int) -> bytes:
        height = size.bit_length() - 1
        return self.levels[height][start >> height]

    def root(self, size: int | None = None) -> bytes:
        return root(self.node, self.size if size is None else size)


# --- the right edge of an append-only tree ("compact range") -------------------------------------


def extend_frontier(frontier: list[bytes], size: int, leaf: bytes) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append a leaf hash to a tree of ``size`` leaves given by its frontier: the complete subtrees
    whose sizes are the set bits of ``size``, largest (leftmost) first. Returns the new frontier and
    the complete subtrees the append completed, as (level, index, hash) with level >= 1."""
    frontier = list(frontier)
    completed: list[tuple[int, int, bytes]] = []
    carry, level = leaf, 0
    while size >> level & 1:
        carry = node_hash(frontier.pop(), carry)
        level += 1
        completed.append((level, size >> level, carry))
    frontier.append(carry)
    return frontier, completed


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    result = frontier[-1]
    for subtree in reversed(frontier[:-1]):
        result = node_hash(subtree, result)
    return result


def pack_frontier(frontier: Sequence[bytes]) -> bytes:
    return b"".join(frontier)


def unpack_frontier(data: bytes) -> list[bytes]:
    return [bytes(data[i : i + 32]) for i in range(0, len(data), 32)]
