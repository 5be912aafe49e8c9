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
from django.db.models import Max, Q

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
        for row in audit._rows(after_seq=before):
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
    """Rebuilds the tree from the leaves handed to it (``add``) and compares, as it goes, every
    stored node with the rebuilt one and every root at the ``sizes`` asked for."""

    def __init__(self, sizes: Iterable[int] = ()) -> None:
        self.frontier = Frontier()
        self.sizes = sorted(set(sizes))
        self.roots: dict[int, bytes] = {}
        self.stored = tree_size()
        self.mismatch: tuple[int, int] | None = None  # the first stored node that differs
        self._cursors: dict[int, _LevelReader] = {}

    def add(self, canonical: bytes) -> None:
        for level, index, digest in self.frontier.append(leaf_hash(canonical)):
            if self.mismatch is None and ((index + 1) << level) <= self.stored:
                reader = self._cursors.get(level)
                if reader is None:
                    reader = self._cursors[level] = _LevelReader(level)
                if reader.next() != (index, digest):
                    self.mismatch = (level, index)
        if self.sizes and self.frontier.size == self.sizes[0]:
            self.roots[self.sizes.pop(0)] = self.frontier.root()

    def close(self) -> None:
        for reader in self._cursors.values():
            reader.close()


class _LevelReader:
    """The stored nodes of one level in index order, read in batches."""

    def __init__(self, level: int) -> None:
        self.cursor = connection.chunked_cursor()
        table = MerkleNode._meta.db_table
        self.cursor.execute(
            f'SELECT "index", hash FROM {table} WHERE level = %s ORDER BY "index"',  # noqa: S608
            [level],
        )
        self.buffer: list = []
        self.position = 0

    def next(self) -> tuple[int, bytes] | None:
        if self.position == len(self.buffer):
            self.buffer = self.cursor.fetchmany(BATCH)
            self.position = 0
            if not self.buffer:
                return None
        index, digest = self.buffer[self.position]
        self.position += 1
        return index, bytes(digest)

    def close(self) -> None:
        self.cursor.close()
