import time

from django.core.management.base import BaseCommand, CommandError

from warrantdesk.audit import verify_chain
from warrantdesk.models import AuditEntry


class Command(BaseCommand):
    help = "Verify the hash chain of the audit log; exit 1 naming the first bad entry."

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            help="The head hash you recorded elsewhere earlier; the chain must still end with it or grow from it.",
        )

    def handle(self, *args, expect_head=None, **options):
        started = time.perf_counter()
        report = verify_chain()
        elapsed = time.perf_counter() - started
        if not report.ok:
            problem = report.problem
            raise CommandError(f"FAILED at entry #{problem.seq} [{problem.kind}]: {problem.message}")
        moved_on = expect_head and expect_head != report.head_hash
        if moved_on and not AuditEntry.objects.filter(hash=expect_head).exists():
            raise CommandError(f"FAILED: the recorded head {expect_head[:16]}… is no longer in the chain")
        self.stdout.write(f"OK {report.count} entries verified in {elapsed:.2f}s; head {report.head_hash}")
