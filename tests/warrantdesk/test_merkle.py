"""The RFC 6962 proof verifier against the transparency-dev vectors, and the stored tree's proofs."""

import base64
import json
from pathlib import Path

import pytest

from warrantdesk import merkle
from warrantdesk.verify_checkpoint import (
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "merkle"


def _vectors(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _hashes(values) -> list[bytes]:
    return [_b64(value) for value in values or []]


def test_the_vectors_are_there():
    assert len(_vectors("inclusion")) > 50
    assert len(_vectors("consistency")) > 50


@pytest.mark.parametrize("path", _vectors("inclusion"), ids=lambda p: str(p.relative_to(VECTORS)))
def test_inclusion_vector(path):
    vector = json.loads(path.read_text())

    def check():
        verify_inclusion(
            index=vector["leafIdx"],
            size=vector["treeSize"],
            leaf=_b64(vector["leafHash"]),
            proof=_hashes(vector["proof"]),
            root=_b64(vector["root"]),
        )

    if vector["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("path", _vectors("consistency"), ids=lambda p: str(p.relative_to(VECTORS)))
def test_consistency_vector(path):
    vector = json.loads(path.read_text())

    def check():
        verify_consistency(
            size1=vector["size1"],
            size2=vector["size2"],
            proof=_hashes(vector["proof"]),
            root1=_b64(vector["root1"]),
            root2=_b64(vector["root2"]),
        )

    if vector["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH, straight from its definition."""
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_the_frontier_gives_the_rfc_root_at_every_size():
    frontier = merkle.Frontier()
    leaves = []
    for number in range(40):
        leaves.append(f"leaf {number}".encode())

        frontier.append(leaf_hash(leaves[-1]))

        assert frontier.root() == reference_root(leaves)


@pytest.fixture
def stored_tree(db) -> list[bytes]:
    """A 23-leaf tree stored as perfect subtrees, as tree_extend stores it."""
    from warrantdesk.models import MerkleNode

    frontier = merkle.Frontier()
    leaves = [f"entry {number}".encode() for number in range(23)]
    nodes = []
    for leaf in leaves:
        nodes.extend(
            MerkleNode(level=level, index=index, hash=digest)
            for level, index, digest in frontier.append(leaf_hash(leaf))
        )
    MerkleNode.objects.bulk_create(nodes)
    return leaves


def test_every_stored_root_and_proof_verifies(stored_tree):
    leaves = stored_tree

    for size in range(1, len(leaves) + 1):
        root = merkle.root(size)
        assert root == reference_root(leaves[:size])
        for index in range(size):
            verify_inclusion(
                index=index,
                size=size,
                leaf=leaf_hash(leaves[index]),
                proof=merkle.inclusion_proof(index, size),
                root=root,
            )
        for older in range(1, size):
            verify_consistency(
                size1=older,
                size2=size,
                proof=merkle.consistency_proof(older, size),
                root1=merkle.root(older),
                root2=root,
            )


def test_a_proof_for_another_leaf_is_rejected(stored_tree):
    proof = merkle.inclusion_proof(3, 23)

    with pytest.raises(ProofError):
        verify_inclusion(index=3, size=23, leaf=leaf_hash(stored_tree[4]), proof=proof, root=merkle.root(23))


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0), (0, 24)])
def test_out_of_range_inclusion_requests_are_refused(stored_tree, index, size):
    with pytest.raises(merkle.TreeError):
        merkle.inclusion_proof(index, size)


@pytest.mark.parametrize(("size1", "size2"), [(0, 5), (6, 5), (1, 24)])
def test_out_of_range_consistency_requests_are_refused(stored_tree, size1, size2):
    with pytest.raises(merkle.TreeError):
        merkle.consistency_proof(size1, size2)
