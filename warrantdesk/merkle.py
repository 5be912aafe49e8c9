"""The RFC 6962 Merkle tree over the audit entries, kept as its perfect subtrees (``MerkleNode``).

Leaf i is the canonical bytes of audit entry ``seq`` = i + 1 (``audit.canonical_bytes``). Every
perfect subtree (level k, index i: leaves [i * 2**k, (i + 1) * 2**k)) is stored once, when its last
leaf is appended by ``tree_extend`` (about two rows per entry). The root of any size n and every
inclusion or consistency proof are then a few dozen of these rows read in one query, whatever the
length of the log. Proofs are checked with the one verifier shipped to outsiders
(``warrantdesk.verify_checkpoint``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q

from . import audit
from .exceptions import DomainError
from .models import AuditChainHead, AuditEntry, MerkleNode
from .verify_checkpoint import leaf_hash, node_hash

BATCH = 5000
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index)


class TreeError(DomainError):
    """The tree cannot be extended or asked for a proof (the message says why; shown to the user)."""

    code = "tree"


def tree_size() -> int:
    """How many leaves the stored tree holds."""
    last = MerkleNode.objects.filter(level=0).aggregate(last=Max("index"))["last"]
    return 0 if last is None else last + 1


def _cover(start: int, end: int) -> list[Node]:
    """The perfect subtrees that make up leaves [start, end), left to right, as the RFC 6962
    recursion splits them (``start`` is aligned to the largest power of two not above end - start)."""
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


class _Hashes:
    """Subtree hashes of [start, end) from the stored perfect subtrees (collected first, then read)."""

    def __init__(self) -> None:
        self.wanted: set[Node] = set()
        self.known: dict[Node, bytes] = {}

    def want(self, start: int, end: int) -> tuple[int, int]:
        self.wanted.update(_cover(start, end))
        return (start, end)

    def load(self) -> None:
        missing = self.wanted - self.known.keys()
        if not missing:
            return
        query = Q()
        by_level: dict[int, list[int]] = {}
        for level, index in missing:
            by_level.setdefault(level, []).append(index)
        for level, indexes in by_level.items():
            query |= Q(level=level, index__in=indexes)
        for level, index, digest in MerkleNode.objects.filter(query).values_list("level", "index", "hash"):
            self.known[(level, index)] = bytes(digest)
        if missing - self.known.keys():
            raise TreeError("the stored Merkle tree is incomplete (run manage.py verify_audit_log)")

    def hash(self, span: tuple[int, int]) -> bytes:
        nodes = _cover(*span)
        result = self.known[nodes[-1]]
        for node in reversed(nodes[:-1]):
            result = node_hash(self.known[node], result)
        return result


def _largest_power_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(size: int) -> None:
    stored = tree_size()
    if size < 1 or size > stored:
        raise TreeError(f"the tree holds {stored} entries; size {size} is out of range")


def root(size: int) -> bytes:
    """The RFC 6962 root of the first ``size`` entries."""
    if size == 0:
        return EMPTY_ROOT
    _check_size(size)
    hashes = _Hashes()
    span = hashes.want(0, size)
    hashes.load()
    return hashes.hash(span)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    """The audit path of leaf ``index`` (0-based) in the tree of ``size`` (RFC 6962 PATH)."""
    _check_size(size)
    if not 0 <= index < size:
        raise TreeError(f"entry #{index + 1} is not in the tree of size {size}")
    hashes = _Hashes()
    spans = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_below(end - start)
        if index < start + k:
            spans.append(hashes.want(start + k, end))
            end = start + k
        else:
            spans.append(hashes.want(start, start + k))
            start += k
    hashes.load()
    return [hashes.hash(span) for span in reversed(spans)]


def consistency_proof(size1: int, size2: int) -> list[bytes]:
    """The proof that the tree of ``size1`` is a prefix of the tree of ``size2`` (RFC 6962 PROOF)."""
    _check_size(size2)
    if not 1 <= size1 <= size2:
        raise TreeError(f"a consistency proof needs 1 <= from ({size1}) <= to ({size2})")
    hashes = _Hashes()
    spans: list[tuple[int, int]] = []
    m, start, end, complete = size1, 0, size2, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                spans.append(hashes.want(start, end))
            break
        k = _largest_power_below(n)
        if m <= k:
            spans.append(hashes.want(start + k, end))
            end = start + k
        else:
            spans.append(hashes.want(start, start + k))
            m -= k
            start += k
            complete = False
    hashes.load()
    return [hashes.hash(span) for span in reversed(spans)]


# --- building -------------------------------------------------------------------------------------


class Frontier:
    """The perfect subtrees on the right edge of a growing tree: append a leaf, get the new nodes."""

    def __init__(self, size: int = 0, stack: Iterable[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self.stack: list[tuple[int, bytes]] = list(stack)  # (level, hash), highest level first

    def append(self, leaf_digest: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; returns the nodes completed by it as (level, index, hash)."""
        index = self.size
        created = [(0, index, leaf_digest)]
        level, digest = 0, leaf_digest
        while self.stack and self.stack[-1][0] == level:
            _left_level, left = self.stack.pop()
            digest = node_hash(left, digest)
            level += 1
            created.append((level, index >> level, digest))
        self.stack.append((level, digest))
        self.size += 1
        return created

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        result = self.stack[-1][1]
        for _level, digest in reversed(self.stack[:-1]):
            result = node_hash(digest, result)
        return result


def _stored_frontier(size: int) -> Frontier:
    nodes = _cover(0, size)
    hashes = _Hashes()
    hashes.wanted.update(nodes)
    hashes.load()
    return Frontier(size, [(level, hashes.known[(level, index)]) for level, index in nodes])


@dataclass(frozen=True)
class Extension:
    before: int
    after: int


def tree_extend() -> Extension:
    """Append every audit entry not yet in the tree (the catch-up step before a checkpoint).

    Holds the audit head's row lock, so no entry is written meanwhile and two catch-ups never
    interleave; each new entry is checked against its own hash and its predecessor's first, so
    the tree never takes in a broken chain. Raises TreeError naming the first bad entry."""
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        before = tree_size()
        if head is None or head.seq == before:
            return Extension(before, before)
        frontier = _stored_frontier(before)
        expected_prev = (
            AuditEntry.objects.filter(seq=before).values_list("hash", flat=True).first()
            if before
            else audit.GENESIS_HASH
        )
        batch: list[MerkleNode] = []
        for row in audit.entry_rows(after_seq=before):
            if row[0] > head.seq:
                break
            if row[0] != frontier.size + 1:
                raise TreeError(f"audit entry #{frontier.size + 1} is missing: the chain is broken")
            canonical = audit.canonical_row(row)
            if hashlib.sha256(canonical).hexdigest() != row[11] or row[10] != expected_prev:
                raise TreeError(f"audit entry #{row[0]} does not match the chain (run manage.py verify_audit_log)")
            expected_prev = row[11]
            batch.extend(
                MerkleNode(level=level, index=index, hash=digest)
                for level, index, digest in frontier.append(leaf_hash(canonical))
            )
            if len(batch) >= BATCH:
                MerkleNode.objects.bulk_create(batch)
                batch = []
        MerkleNode.objects.bulk_create(batch)
        if frontier.size != head.seq:
            raise TreeError(f"the log should hold {head.seq} entries but {frontier.size} were found")
        return Extension(before, frontier.size)


# --- verification ---------------------------------------------------------------------------------


class TreeCheck:
    """Rebuilds the tree from the leaf hashes handed to it (``leaves``, in order) level by level, and
    compares every stored node with the rebuilt one and every root at the ``sizes`` asked for.

    ``verify_chain(leaves=tree.leaves)`` fills the leaves while it walks the chain; ``finish`` then
    hashes each level from the one below (one list comprehension per level, no per-node bookkeeping)
    and compares it with the stored level read as one column, in order."""

    def __init__(self, sizes: Iterable[int] = ()) -> None:
        self.sizes = sorted(set(sizes))
        self.leaves: list[bytes] = []
        self.roots: dict[int, bytes] = {}
        self.stored = tree_size()
        self.mismatch: tuple[int, int] | None = None  # the first stored node that differs

    def add(self, canonical: bytes) -> None:
        """One more leaf, given as the entry's canonical bytes."""
        self.leaves.append(leaf_hash(canonical))

    def finish(self) -> None:
        count = len(self.leaves)
        sizes = [size for size in self.sizes if size <= count]
        wanted: dict[Node, bytes] = {}  # the perfect subtrees the roots at ``sizes`` are made of
        for size in sizes:
            wanted.update(dict.fromkeys(_cover(0, size), b""))
        counts = stored_level_counts()
        level, nodes = 0, self.leaves
        while nodes:
            for key in [key for key in wanted if key[0] == level]:
                wanted[key] = nodes[key[1]]
            expected = self.stored >> level
            if self.mismatch is None:
                self._compare(level, nodes, expected, counts.get(level))
            if len(nodes) < 2:
                break
            nodes = level_above(nodes)
            level += 1
        if self.mismatch is None:
            for extra in sorted(level for level in counts if level > 0 and (self.stored >> level) == 0):
                self.mismatch = (extra, 0)  # a stored node above the top of the stored tree
                break
        for size in sizes:
            cover = _cover(0, size)
            result = wanted[cover[-1]]
            for node in reversed(cover[:-1]):
                result = node_hash(wanted[node], result)
            self.roots[size] = result
        self.leaves = []

    def _compare(self, level: int, nodes: list[bytes], expected: int, stored: tuple[int, int, int] | None) -> None:
        """The stored nodes of ``level`` must be exactly indexes 0..expected-1 with the rebuilt hashes."""
        if expected == 0:
            if stored is not None:
                self.mismatch = (level, stored[1])
            return
        count, lowest, highest = stored or (0, -1, -1)
        if (count, lowest, highest) != (expected, 0, expected - 1):
            self.mismatch = (level, _first_missing(level, expected, lowest) if count else 0)
            return
        compared = min(expected, len(nodes))  # a stored tree longer than the log is reported apart
        stored_hashes = stored_level(level, 0, compared)
        if stored_hashes != b"".join(nodes[:compared]):
            index = next((i for i in range(compared) if stored_hashes[32 * i : 32 * i + 32] != nodes[i]), compared - 1)
            self.mismatch = (level, index)

    def close(self) -> None:
        self.leaves = []


def level_above(nodes: list[bytes]) -> list[bytes]:
    """The perfect subtrees one level up: each pair of ``nodes`` hashed (RFC 6962 ``node_hash``, inlined:
    a million calls); an odd last node waits for the next size."""
    sha256 = hashlib.sha256
    return [sha256(b"\x01" + left + right).digest() for left, right in zip(nodes[0::2], nodes[1::2], strict=False)]


def stored_level(level: int, start: int, stop: int) -> bytes:
    """The stored hashes of ``level``, indexes [start, stop), concatenated in order (one column read
    with a plain cursor: 32 bytes a node, no model instances)."""
    table = MerkleNode._meta.db_table
    parts = []
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f'SELECT hash FROM {table} WHERE level = %s AND "index" >= %s AND "index" < %s '  # noqa: S608
            'ORDER BY "index"',
            [level, start, stop],
        )
        while batch := cursor.fetchmany(50_000):
            parts.append(b"".join(map(_first, batch)))
    return b"".join(parts)


def _first(row: tuple):
    return row[0]


def stored_level_counts() -> dict[int, tuple[int, int, int]]:
    """Per stored level: how many nodes, the lowest and the highest index."""
    rows = MerkleNode.objects.values("level").annotate(n=Count("*"), low=Min("index"), high=Max("index")).order_by()
    return {row["level"]: (row["n"], row["low"], row["high"]) for row in rows}


def _first_missing(level: int, expected: int, lowest: int) -> int:
    """The first index of ``level`` that is missing below ``expected`` (or 0 when it starts late)."""
    if lowest != 0:
        return 0
    indexes = (
        MerkleNode.objects.filter(level=level, index__lt=expected).order_by("index").values_list("index", flat=True)
    )
    for position, index in enumerate(indexes.iterator(chunk_size=BATCH)):
        if index != position:
            return position
    return min(expected - 1, indexes.count())
