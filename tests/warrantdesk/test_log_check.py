"""verify_audit_log on two processes (warrantdesk.log_check): the same verdicts as the sequential walk.

The log is split at a multiple of 2**ALIGN_LEVEL entries; here ALIGN_LEVEL is 2 and PARALLEL_MIN 0, so
that a log of 40 entries has a seam (at 20), subtrees checked by each half (levels 0-2) and stored
nodes above them checked against their children. Transactional: the second half is read by a forked
process, on a connection of its own, which sees only committed rows.
"""

import hashlib
import threading

import pytest
from django.core.management import CommandError

from tests.warrantdesk.test_audit import tampering
from tests.warrantdesk.test_checkpoints import command_output, rewrite_entry_and_recompute_the_chain, write_entries
from warrantdesk import checkpoints, log_check, merkle
from warrantdesk.models import AuditChainHead, AuditEntry, MerkleNode

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def small_split(monkeypatch):
    monkeypatch.setattr(log_check, "PARALLEL_MIN", 0)
    monkeypatch.setattr(log_check, "ALIGN_LEVEL", 2)
    # The suite's own idle server threads (SMTP, S3) are there before the test: only a thread the test
    # starts counts, so that every verdict here comes from the check itself, not from the guard.
    present = set(threading.enumerate())
    monkeypatch.setattr(log_check, "_other_threads", lambda: len(set(threading.enumerate()) - present))


@pytest.fixture
def log():
    write_entries(30)
    first = checkpoints.checkpoint_create(created_by="command")
    write_entries(10)
    second = checkpoints.checkpoint_create(created_by="command")
    return [first.tree_size, second.tree_size]


def test_a_valid_log_is_verified_in_two_processes_with_the_sequential_figures(log):
    verified = log_check.verify(log)

    assert verified is not None
    head = AuditChainHead.objects.get(pk=1)
    assert (verified.count, verified.head_hash, verified.stored) == (40, head.hash, 40)
    assert verified.roots == {30: merkle.root(30), 40: merkle.root(40)}
    assert command_output("verify_audit_log").startswith("OK 40 entries verified")


def entry_changed(seq: int) -> None:
    with tampering():
        AuditEntry.objects.filter(seq=seq).update(actor_label="someone else")


def link_broken_at_the_seam() -> None:
    rewrite_entry_and_recompute_the_chain(21)  # entry #21 opens the second half


def upper_node_changed() -> None:
    with tampering():
        MerkleNode.objects.filter(level=4, index=1).update(hash=b"\x07" * 32)  # above ALIGN_LEVEL


def low_node_changed_in_the_second_half() -> None:
    with tampering():
        MerkleNode.objects.filter(level=1, index=15).update(hash=b"\x07" * 32)


def node_missing() -> None:
    with tampering():
        MerkleNode.objects.filter(level=3, index=4).delete()


def last_entry_deleted() -> None:
    with tampering():
        AuditEntry.objects.filter(seq=40).delete()


@pytest.mark.parametrize(
    ("tamper", "verdict"),
    [
        (lambda: entry_changed(3), "FAILED at entry #3"),
        (lambda: entry_changed(33), "FAILED at entry #33"),
        (link_broken_at_the_seam, "level 0, node 20"),
        (upper_node_changed, "level 4, node 1"),
        (low_node_changed_in_the_second_half, "level 1, node 15"),
        (node_missing, "level 3, node 4"),
        (last_entry_deleted, "deleted"),
    ],
    ids=["entry-first-half", "entry-second-half", "rewrite-at-seam", "upper-node", "low-node", "missing", "tail"],
)
def test_anything_wrong_goes_to_the_sequential_walk_which_names_it(log, tamper, verdict):
    tamper()

    assert log_check.verify(log) is None
    with pytest.raises(CommandError, match=verdict):
        command_output("verify_audit_log")


def test_a_process_with_other_threads_is_not_forked(log):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert log_check.verify(log) is None
    finally:
        stop.set()
        other.join()
    assert command_output("verify_audit_log").startswith("OK 40 entries verified")


@pytest.mark.parametrize(
    "details",
    [
        {"via": "PORTAL", "kind": "ORDINARY", "agency": "SCDPO", "targets": 2},  # jsonb: shortest key first
        {"이름": "김민준", "note": "non-ASCII, escaped in the canonical text"},
        {"nested": {"zeta": 1, "a": [1.5, 1e-07, None, True]}, "b": 'tab\there "quoted" \\ back'},
        {},
        {"a": 10**20, "control": "\x01\x1f"},
    ],
    ids=["keys-by-length", "korean", "nested-and-floats", "empty", "big-int-and-controls"],
)
def test_details_of_every_shape_read_back_canonical_on_either_database(details):
    from warrantdesk.audit import audit_record, canonical_row, entry_rows, verify_chain
    from warrantdesk.models import AuditAction

    for _ in range(3):
        audit_record(action=AuditAction.WARRANT_ASSIGNED, actor=None, warrant_ref="WD-2026-000001", details=details)

    rows = list(entry_rows())
    stored = {entry.seq: entry for entry in AuditEntry.objects.all()}
    assert [row[11] for row in rows] == [stored[row[0]].hash for row in rows]
    assert all(hashlib.sha256(canonical_row(row)).hexdigest() == row[11] for row in rows)
    assert verify_chain().ok
    assert command_output("verify_audit_log").startswith("OK 3 entries verified")
