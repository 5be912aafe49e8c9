"""``verify_audit_log`` on two cores: the log split in two halves, each checked by a process of its own.

The whole check (every entry's hash, every link of the chain, every stored Merkle node against the tree
rebuilt from the entries, every checkpoint's root) is CPU work over each entry once: reading its
columns, making its canonical bytes, two SHA-256. One process does about 130,000 entries a second, so
a log of 1,000,000 takes about 8 s; split at a leaf index aligned to 2**ALIGN_LEVEL, the halves are
independent:

- each half checks its entries' own hashes and the links inside it, and returns its first entry's
  ``prev_hash`` and its last entry's hash: the links at the seam and at the ends are checked here;
- each half hashes its leaves and rebuilds its subtrees up to level ALIGN_LEVEL (all inside the half,
  since the seam is aligned), comparing them with the stored nodes of the same indexes;
- the few stored nodes above that level (about 1,000 for 1,000,000 entries) are checked against their two
  stored children, which the halves have just checked against the entries: by induction every
  stored node equals the rebuilt one, and a checkpoint's root is read from the stored tree;
- the count of stored nodes per level must be exactly what the tree size asks for (nothing missing,
  nothing extra), as in the sequential check.

This is the same check as the sequential one, as strict, for a valid log. The moment anything does
not hold, the answer is "not settled here" (``None``) and the caller runs the sequential check, which
finds the first problem and diagnoses it (how a log was tampered with matters more than how fast
that is said). Also sequential: small logs, a process with other threads (the second half is a
``fork`` of this process, safe only single-threaded), a checkpoint beyond the stored tree.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from dataclasses import dataclass

from django.db import connection, connections

from . import audit, merkle
from .models import AuditChainHead, AuditEntry
from .verify_checkpoint import leaf_hash, node_hash

ALIGN_LEVEL = 10  # the seam between the halves is a multiple of 1,024 entries, within 0.5% of the middle (tests: 4)
PARALLEL_MIN = 200_000  # below this the second process costs more than it saves


@dataclass(frozen=True)
class Verified:
    """What the check found: a valid chain of ``count`` entries, and the tree and roots to compare."""

    count: int
    head_hash: str
    stored: int  # leaves of the stored tree
    roots: dict[int, bytes]  # checkpoint size -> root recomputed (from the verified stored tree)
    mismatch: tuple[int, int] | None = None  # the first stored node that differs (level, index)


@dataclass(frozen=True)
class _Half:
    ok: bool
    count: int = 0
    first_prev: str = ""
    last_hash: str = ""


def verify(sizes: list[int]) -> Verified | None:
    """The log checked in two processes, or None when that does not apply or anything is wrong."""
    total = AuditEntry.objects.count()
    seam = ((total // 2) >> ALIGN_LEVEL) << ALIGN_LEVEL
    if total < PARALLEL_MIN or seam == 0 or _other_threads() or connection.in_atomic_block:
        return None  # (inside a transaction a second connection would not see what this one sees)
    head = AuditChainHead.objects.filter(pk=1).first()
    stored = merkle.tree_size()
    if head is None or head.seq != total or stored > total or any(size > stored for size in sizes):
        return None
    if not _stored_counts_exact(stored):
        return None
    connections.close_all()  # the child opens its own connection; never share a socket
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sending, seam, total, stored), daemon=True)
    child.start()
    sending.close()
    try:
        first = _check_half(0, seam, stored)
        try:
            second = receiving.recv()
        except EOFError:
            second = _Half(ok=False)
    finally:
        receiving.close()
        child.join(timeout=30)
        if child.is_alive():
            child.terminate()
            child.join()
    if not (first.ok and second.ok) or first.count != seam or first.count + second.count != total:
        return None
    if first.first_prev != audit.GENESIS_HASH or second.first_prev != first.last_hash:
        return None
    if second.last_hash != head.hash or not _upper_levels_ok(stored):
        return None
    return Verified(
        count=total, head_hash=head.hash, stored=stored, roots={size: merkle.root(size) for size in set(sizes)}
    )


def _other_threads() -> int:
    """Threads besides this one: a fork copies only the calling thread, and a lock another one holds
    (logging's, the database driver's) would stay held in the child for ever."""
    return threading.active_count() - 1


def _child(sending, seam: int, total: int, stored: int) -> None:
    try:
        sending.send(_check_half(seam, total, stored))
    except BaseException:  # any failure: the caller falls back to the sequential check
        sending.send(_Half(ok=False))
    finally:
        sending.close()
        connections.close_all()


def _check_half(start: int, end: int, stored: int) -> _Half:
    """Entries of leaf index [start, end) (seq start+1 .. end): their hashes and inner links, then
    their leaves and subtrees up to ALIGN_LEVEL against the stored nodes."""
    sha256 = hashlib.sha256
    canonical_of = audit.canonical_row
    leaves: list[bytes] = []
    keep = leaves.append
    first_prev = last = None
    for batch in audit.row_batches(after_seq=start, until_seq=end):
        for row in batch:
            canonical = canonical_of(row)
            if sha256(canonical).hexdigest() != row[11]:
                return _Half(ok=False)
            if last is None:
                first_prev = row[10]
            elif row[10] != last:
                return _Half(ok=False)
            last = row[11]
            keep(leaf_hash(canonical))
    if last is None or first_prev is None:
        return _Half(ok=False)
    count = len(leaves)
    level, nodes = 0, leaves
    while level <= ALIGN_LEVEL and nodes:
        first_index = start >> level
        stop = min(first_index + len(nodes), stored >> level)
        if stop > first_index and merkle.stored_level(level, first_index, stop) != b"".join(
            nodes[: stop - first_index]
        ):
            return _Half(ok=False)
        nodes = merkle.level_above(nodes)
        level += 1
    return _Half(ok=True, count=count, first_prev=first_prev, last_hash=last)


def _stored_counts_exact(stored: int) -> bool:
    """Every level holds exactly the nodes a tree of ``stored`` leaves has (indexes 0..n-1), no more."""
    counts = merkle.stored_level_counts()
    level = 0
    while stored >> level:
        expected = stored >> level
        if counts.pop(level, None) != (expected, 0, expected - 1):
            return False
        level += 1
    return not counts


def _upper_levels_ok(stored: int) -> bool:
    """The stored nodes above ALIGN_LEVEL each hash their two stored children."""
    level = ALIGN_LEVEL + 1
    while stored >> level:
        children = merkle.stored_level(level - 1, 0, (stored >> level) * 2)
        parents = merkle.stored_level(level, 0, stored >> level)
        for index in range(stored >> level):
            left = children[64 * index : 64 * index + 32]
            right = children[64 * index + 32 : 64 * index + 64]
            if node_hash(left, right) != parents[32 * index : 32 * index + 32]:
                return False
        level += 1
    return True
