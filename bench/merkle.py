"""Figures of the audit Merkle tree and its signed checkpoints (issue #13): run by bench/run.py.

On a log of ``--merkle-entries`` (default 1,000,000) entries: the catch-up cost per entry
(``merkle.tree_extend``), signing one checkpoint, inclusion and consistency proof generation from
the stored tree (goal <= 50 ms each), and ``manage.py verify_audit_log`` (chain, tree and every
checkpoint; goal <= 5 s for 1,000,000 entries).
"""

from __future__ import annotations

import io
import random
import resource
import statistics
import time


def bench_merkle(args, report, people) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.conf import settings
    from django.core.management import call_command

    from bench import fixtures
    from bench.run import Row, median_time, ms, say
    from warrantdesk import checkpoints, merkle, verify_checkpoint
    from warrantdesk.models import AuditEntry, MerkleNode

    if not settings.WARRANTDESK_SIGNING_KEY:
        settings.WARRANTDESK_SIGNING_KEY = (
            Ed25519PrivateKey.generate()
            .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            .decode()
        )
    n = args.merkle_entries
    missing = n - AuditEntry.objects.count()
    if missing > 0:
        say(f"\n[merkle] building an audit log of {n:,} entries ...")
        started = time.perf_counter()
        fixtures.audit_chain(missing, people, seed=13)
        fixtures.settle()
        say(f"    built in {time.perf_counter() - started:.1f} s")
    total = AuditEntry.objects.count()

    say("[merkle] tree catch-up over the whole log ...")
    started = time.perf_counter()
    extension = merkle.tree_extend()
    elapsed = time.perf_counter() - started
    appended = extension.after - extension.before
    report.add(
        Row(
            f"merkle tree_extend() {appended:,} entries",
            f"{elapsed:.1f} s",
            f"{elapsed / max(appended, 1) * 1e6:.1f} µs per entry appended",
            "no goal set (catch-up, off the write path)",
        )
    )

    key = checkpoints.signing_key()
    name = checkpoints.origin()
    root = merkle.root(total)
    sign_time, _runs = median_time(
        lambda: checkpoints.sign_note(verify_checkpoint.checkpoint_body(name, total, root), name=name, key=key), 50
    )
    report.add(
        Row("checkpoint: sign the note (median of 50)", ms(sign_time), "Ed25519 over the note body", "no goal set")
    )
    root_time, _runs = median_time(lambda: merkle.root(total), 20)
    report.add(Row(f"checkpoint: root of {total:,} from stored nodes", ms(root_time), "median of 20", "no goal set"))
    started = time.perf_counter()
    first = checkpoints.checkpoint_create(created_by="bench")
    assert first is not None, "the log holds the entries generated above"
    report.add(
        Row(
            "checkpoint_create() (tree up to date)",
            ms(time.perf_counter() - started),
            f"tree size {first.tree_size:,}",
            "no goal set",
        )
    )

    rng = random.Random(13)
    times = []
    for _ in range(200):
        index = rng.randrange(total)
        began = time.perf_counter()
        proof = merkle.inclusion_proof(index, total)
        times.append(time.perf_counter() - began)
    leaf = bytes(MerkleNode.objects.get(level=0, index=index).hash)
    verify_checkpoint.verify_inclusion(index=index, size=total, leaf=leaf, proof=proof, root=root)
    inclusion = statistics.median(times)
    worst = max(times)
    report.add(
        Row(
            f"inclusion proof, tree of {total:,} (median of 200)",
            ms(inclusion),
            f"max {ms(worst)}, {len(proof)} hashes",
            "goal <= 50 ms",
            ok=inclusion <= 0.05,
        )
    )
    times = []
    for _ in range(200):
        older = rng.randrange(1, total)
        began = time.perf_counter()
        proof = merkle.consistency_proof(older, total)
        times.append(time.perf_counter() - began)
    verify_checkpoint.verify_consistency(size1=older, size2=total, proof=proof, root1=merkle.root(older), root2=root)
    consistency = statistics.median(times)
    report.add(
        Row(
            f"consistency proof to {total:,} (median of 200)",
            ms(consistency),
            f"max {ms(max(times))}, {len(proof)} hashes",
            "goal <= 50 ms",
            ok=consistency <= 0.05,
        )
    )

    def command() -> str:
        out = io.StringIO()
        call_command("verify_audit_log", stdout=out)
        return out.getvalue()

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, cpu = time.perf_counter(), time.process_time()
    output = command().strip()
    verify = time.perf_counter() - started
    cpu = time.process_time() - cpu  # this process only: on SQLite all of it, on a busy machine a truer figure
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)  # the second half
    goal = 5.0 * total / 1_000_000
    report.add(
        Row(
            f"verify_audit_log {total:,} (chain+tree+checkpoint)",
            f"{verify:.2f} s",
            f"{total / verify:,.0f} entries/s, CPU {cpu:.2f} s + {child_cpu:.2f} s (2nd half)",
            f"goal <= {goal:.2f} s (5 s/1M)",
            ok=verify <= goal and output.startswith("OK"),
        )
    )
    if not output.startswith("OK"):
        report.notes.append(f"verify_audit_log did not report OK: {output[:200]}")
