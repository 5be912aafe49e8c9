"""Run the periodic jobs (see warrantdesk/periodic.py): in a loop, once, or one job now.

    manage.py run_periodic              # keep running: each job when it is due (make run starts this)
    manage.py run_periodic --once       # run what is due now and exit (cron, a systemd timer)
    manage.py run_periodic --job NAME   # run NAME now, due or not (repeatable), and exit
    manage.py run_periodic --list       # the jobs, when each is due, how its last run went

Any number of these may run at once, on one machine or several: each run of a job is claimed with a
database lease, so one runner runs it and the others skip it. SIGTERM or Ctrl-C stops the loop
cleanly: a job that is running finishes (or, if it takes ``stop``, returns at its next unit of work)
and is recorded before the process exits. ``--once`` and ``--job`` exit with status 1 when a job
failed (after running the others).
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections
from django.utils import timezone

from warrantdesk import periodic
from warrantdesk.models import PeriodicJob

logger = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds, after the database itself failed (locked, gone)


class Command(BaseCommand):
    help = "Run the periodic jobs: in a loop, --once (cron / systemd timer), or --job NAME now."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="run the jobs that are due, then exit")
        mode.add_argument("--job", action="append", metavar="NAME", help="run this job now, due or not (repeatable)")
        mode.add_argument("--list", action="store_true", help="show the jobs and their last run")

    def handle(self, *args, once: bool = False, job: list[str] | None = None, list: bool = False, **options):
        self.stopping = False
        jobs = periodic.registered()
        if job:
            unknown = sorted(set(job) - set(jobs))
            if unknown:
                raise CommandError(f"unknown job {', '.join(unknown)}; known: {', '.join(jobs) or 'none'}")
        runner = periodic.Runner(jobs, stop=lambda: self.stopping)
        if list:
            self._list(runner)
        elif once or job:
            try:
                outcomes = runner.run_due(only=job, force=bool(job))
            except periodic.Busy as exc:
                raise CommandError(str(exc)) from None
            self._report(outcomes)
            failed = [outcome.job for outcome in outcomes if not outcome.ok]
            if failed:
                raise CommandError(f"{len(failed)} job(s) failed: {', '.join(failed)}")
        else:
            self._loop(runner)

    def _report(self, outcomes: list[periodic.Outcome]) -> None:
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
        for outcome in outcomes:
            self.stdout.write(f"[{stamp}] run_periodic: {outcome}")

    def _list(self, runner: periodic.Runner) -> None:
        runner.sync()
        for row in PeriodicJob.objects.filter(name__in=list(runner.jobs)):
            last = f"{row.last_outcome or 'never run'}"
            if row.last_finished_at:
                last += f" at {timezone.localtime(row.last_finished_at):%Y-%m-%d %H:%M:%S}"
            running = f", running on {row.running_on}" if row.lease_until and row.lease_until > timezone.now() else ""
            self.stdout.write(
                f"{row.name}: every {row.interval}, next due {timezone.localtime(row.next_due):%Y-%m-%d %H:%M:%S}, "
                f"last {last}{running}"
            )

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def _loop(self, runner: periodic.Runner) -> None:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            names = ", ".join(f"{job.name} (every {job.every})" for job in runner.jobs.values())
            self.stdout.write(f"run_periodic: running {names or 'no jobs'}")
            while not self.stopping:
                _drop_stale_connections()
                try:
                    self._report(runner.run_due())
                    wait = runner.seconds_to_next()
                except DatabaseError as exc:  # locked or lost database: try again shortly, never give up
                    logger.error("run_periodic: database error: %s", periodic.describe_failure(exc))
                    wait = RETRY_AFTER
                deadline = time.monotonic() + wait
                while not self.stopping and (left := deadline - time.monotonic()) > 0:
                    time.sleep(min(left, 0.5))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("run_periodic: stopped")


def _drop_stale_connections() -> None:
    """Between runs, as a request does: a connection the database dropped, or past its age, is closed
    and reopened on next use (never one inside a transaction, as under a test)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
