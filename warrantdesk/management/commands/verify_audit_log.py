import time

from django.core.management.base import BaseCommand, CommandError

from warrantdesk import checkpoints, log_check, merkle
from warrantdesk.audit import verify_chain
from warrantdesk.models import AuditEntry, Checkpoint
from warrantdesk.operator_keys import OperatorKey


class Command(BaseCommand):
    help = (
        "Verify the audit log: the hash chain, the stored Merkle tree and every signed checkpoint "
        "(its signature by the operator's current key or a retired one, WARRANTDESK_RETIRED_SIGNING_KEYS, and its "
        "root recomputed from the entries); exit 1 naming the first problem. Names the key that signed each run "
        "of checkpoints."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            help="The head hash you recorded elsewhere earlier; the chain must still end with it or grow from it.",
        )

    def handle(self, *args, expect_head=None, **options):
        started = time.perf_counter()
        stored = list(Checkpoint.objects.order_by("tree_size"))
        sizes = [checkpoint.tree_size for checkpoint in stored]
        # Two processes for a long valid log; the sequential walk otherwise, and whenever the parallel
        # check finds anything wrong (the walk then says what and where).
        verified = log_check.verify(sizes)
        if verified is None:
            tree = merkle.TreeCheck(sizes=sizes)
            try:
                report = verify_chain(leaves=tree.leaves)
                if report.ok:
                    tree.finish()
            finally:
                tree.close()
            if not report.ok:
                problem = report.problem
                raise CommandError(f"FAILED at entry #{problem.seq} [{problem.kind}]: {problem.message}")
            verified = log_check.Verified(
                count=report.count,
                head_hash=report.head_hash,
                stored=tree.stored,
                roots=tree.roots,
                mismatch=tree.mismatch,
            )
        elapsed = time.perf_counter() - started
        moved_on = expect_head and expect_head != verified.head_hash
        if moved_on and not AuditEntry.objects.filter(hash=expect_head).exists():
            raise CommandError(f"FAILED: the recorded head {expect_head[:16]}… is no longer in the chain")
        problems = []
        signers = []  # (tree size, the key that signed it)
        if verified.mismatch is not None:
            level, index = verified.mismatch
            first = (index << level) + 1
            problems.append(
                f"the stored Merkle tree differs from the entries at level {level}, node {index} "
                f"(entries #{first}..#{first + (1 << level) - 1})"
            )
        elif verified.stored > verified.count:
            problems.append(f"the stored Merkle tree holds {verified.stored} leaves but the log only {verified.count}")
        if stored:
            try:
                keys = checkpoints.verification_keys()
            except checkpoints.AuditKeyUnavailable as exc:
                raise CommandError(f"FAILED: cannot check the checkpoints: {exc.message}") from exc
            for checkpoint in stored:
                check = checkpoints.checkpoint_check(
                    checkpoint, keys=keys, recomputed_root=verified.roots.get(checkpoint.tree_size)
                )
                if check.problem:
                    problems.append(f"checkpoint of {checkpoint.tree_size} entries: {check.problem}")
                elif check.key is not None:
                    signers.append((checkpoint.tree_size, check.key))
        if problems:
            raise CommandError("FAILED: " + "; ".join(problems))
        self.stdout.write(
            f"OK {verified.count} entries verified in {elapsed:.2f}s; head {verified.head_hash}; "
            f"tree of {verified.stored} leaves and {len(stored)} signed checkpoint(s) match"
        )
        for line in signed_by(signers):
            self.stdout.write(line)


def signed_by(signers: list[tuple[int, OperatorKey]]) -> list[str]:
    """One line per run of consecutive checkpoints signed by the same key, in order of size: a key
    rotation shows as the line where the key changes."""
    runs: list[list[tuple[int, OperatorKey]]] = []
    for signer in signers:
        if runs and runs[-1][-1][1].fingerprint == signer[1].fingerprint:
            runs[-1].append(signer)
        else:
            runs.append([signer])
    lines = []
    for run in runs:
        first, last, key = run[0][0], run[-1][0], run[0][1]
        sizes = f"{first} entries" if first == last else f"{first} to {last} entries"
        lines.append(f"  {len(run)} checkpoint(s) of {sizes}: signed by {key.describe()}")
    return lines
