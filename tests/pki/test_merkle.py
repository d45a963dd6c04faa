"""RFC 9162 Merkle tree: published vectors, random trees, and corrupted proofs that must fail."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pki import merkle

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "rfc6962.json").read_text())
# The roots' first and last hex digits, written down apart from the vector file: a check of it.
DOCUMENTED = {
    1: ("6e340b9c", "afa01d"),
    2: ("fac54203", "e3c125"),
    3: ("aeb6bcfe", "e06e77"),
    4: ("d37ee418", "9614b7"),
    5: ("4e3bbb1f", "6264d4"),
    6: ("76e67dad", "2087ef"),
    7: ("ddb89be4", "a74c8c"),
}


def _tree(leaves: list[bytes]) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for data in leaves:
        tree.append(data)
    return tree


def naive_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def test_hash_vectors():
    assert merkle.EMPTY_ROOT.hex() == VECTORS["empty_root"]
    assert merkle.leaf_hash(b"").hex() == VECTORS["leaf_empty"]
    assert merkle.leaf_hash(b"L123456").hex() == VECTORS["leaf_L123456"]
    assert merkle.node_hash(b"N123", b"N456").hex() == VECTORS["node_N123_N456"]


def test_leaf_and_node_cannot_collide():
    h1, h2 = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.leaf_hash(h1 + h2) != merkle.node_hash(h1, h2)
    assert merkle.node_hash(h1, h2) != merkle.node_hash(h2, h1)


def test_tree_vectors():
    tree = _tree([bytes.fromhex(h) for h in VECTORS["leaves"]])
    for size, expected in enumerate(VECTORS["roots"], start=1):
        assert tree.root(size).hex() == expected
        if size in DOCUMENTED:
            prefix, suffix = DOCUMENTED[size]
            assert expected.startswith(prefix)
            assert expected.endswith(suffix)
    assert tree.root(8).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    for case in VECTORS["inclusion"]:
        assert [p.hex() for p in merkle.inclusion_proof(tree.node, case["index"], case["size"])] == case["proof"]
    for case in VECTORS["consistency"]:
        assert [p.hex() for p in merkle.consistency_proof(tree.node, case["first"], case["second"])] == case["proof"]


def test_every_proof_of_the_eight_leaf_tree_verifies():
    leaves = [bytes.fromhex(h) for h in VECTORS["leaves"]]
    tree = _tree(leaves)
    for size in range(1, 9):
        for index in range(size):
            proof = merkle.inclusion_proof(tree.node, index, size)
            assert merkle.verify_inclusion(merkle.leaf_hash(leaves[index]), index, size, proof, tree.root(size))
        for first in range(1, size + 1):
            proof = merkle.consistency_proof(tree.node, first, size)
            assert merkle.verify_consistency(first, size, proof, tree.root(first), tree.root(size))


def _inclusion_corruptions(leaf, index, size, proof, root):
    """transparency-dev/merkle's probes: each must fail."""
    yield "index+1", (leaf, index + 1, size, proof, root)
    if index > 0:
        yield "index-1", (leaf, index - 1, size, proof, root)
    yield "index^2", (leaf, index ^ 2, size, proof, root)
    yield "size*2", (leaf, index, size * 2, proof, root)
    if size > 1:
        yield "size/2", (leaf, index, size // 2, proof, root)
    yield "wrong leaf", (merkle.leaf_hash(b"not this"), index, size, proof, root)
    yield "empty root", (leaf, index, size, proof, b"")
    yield "random root", (leaf, index, size, proof, hashlib.sha256(b"random").digest())
    yield "trailing garbage", (leaf, index, size, [*proof, b"\x00" * 32], root)
    yield "leading garbage", (leaf, index, size, [b"\x00" * 32, *proof], root)
    if proof:
        yield "truncated", (leaf, index, size, proof[:-1], root)
    for i, element in enumerate(proof):
        for bit in (0, 7, 255):
            flipped = bytearray(element)
            flipped[bit // 8] ^= 1 << (bit % 8)
            yield f"bit {bit} of element {i}", (leaf, index, size, [*proof[:i], bytes(flipped), *proof[i + 1 :]], root)


@settings(max_examples=60, deadline=None)
# unique leaves: with equal leaves some probes (index+1, say) legitimately verify
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=300, unique=True), st.data())
def test_random_trees(leaves, data):
    tree = _tree(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="size")
    assert tree.root(size) == naive_root(leaves[:size])
    frontier: list[bytes] = []
    for i, item in enumerate(leaves[:size]):
        frontier, _ = merkle.extend_frontier(frontier, i, merkle.leaf_hash(item))
    assert merkle.frontier_root(frontier) == tree.root(size)

    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, root, proof = merkle.leaf_hash(leaves[index]), tree.root(size), merkle.inclusion_proof(tree.node, index, size)
    assert merkle.verify_inclusion(leaf, index, size, proof, root)
    for label, arguments in _inclusion_corruptions(leaf, index, size, proof, root):
        if label == "index^2" and (index ^ 2) == index:
            continue
        assert not merkle.verify_inclusion(*arguments), label

    first = data.draw(st.integers(1, size), label="first")
    consistency = merkle.consistency_proof(tree.node, first, size)
    assert merkle.verify_consistency(first, size, consistency, tree.root(first), root)
    if first < size:
        assert not merkle.verify_consistency(first, size, consistency, tree.root(first), merkle.leaf_hash(b"x"))
        assert not merkle.verify_consistency(first, size, consistency[:-1], tree.root(first), root)
        for i in range(len(consistency)):
            flipped = bytearray(consistency[i])
            flipped[0] ^= 1
            corrupted = [*consistency[:i], bytes(flipped), *consistency[i + 1 :]]
            assert not merkle.verify_consistency(first, size, corrupted, tree.root(first), root)


def test_out_of_range_requests_are_refused():
    tree = _tree([b"a", b"b"])
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proof(tree.node, 2, 2)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(tree.node, 0, 2)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"a"), 5, 2, [], tree.root())
    assert not merkle.verify_consistency(3, 2, [b"x"], tree.root(), tree.root())
