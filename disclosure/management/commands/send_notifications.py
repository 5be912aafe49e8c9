"""Send the user notices that are due: once (from cron or a systemd timer), or every N seconds.

``--every N`` keeps running (``make run`` starts it next to the task worker; in production, run it
under a process supervisor, or run the one-shot form from a timer): one line per run with the
counts, and SIGTERM or Ctrl-C stops it cleanly, between two groups of notices, never in the middle
of recording one. Several senders at once are safe: rows are claimed with a conditional update.
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from disclosure.notifications import notifications_send_due

logger = logging.getLogger(__name__)


def _drop_stale_connections() -> None:
    """Between runs, as a request does: a connection the database dropped, or past its age, is closed
    and reopened on next use (never one inside a transaction, as under a test)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


class Command(BaseCommand):
    help = "Send the disclosure notices that are due (at most once each; see disclosure/notifications/sender.py)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=0, help="notices per SMTP connection (default: setting)")
        parser.add_argument(
            "--every", type=float, metavar="SECONDS", help="keep running: send what is due every SECONDS seconds"
        )
        parser.add_argument("--max-runs", type=int, default=0, help="with --every: stop after this many runs")

    def handle(self, *args, batch: int = 0, every: float | None = None, max_runs: int = 0, **options):
        if every is None:
            self.stdout.write(str(notifications_send_due(batch=batch or None)))
            return
        if every < 0:
            raise CommandError("--every must be 0 or more seconds")
        self.stopping = False
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._loop(batch=batch, every=every, max_runs=max_runs)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def _loop(self, *, batch: int, every: float, max_runs: int) -> None:
        self.stdout.write(f"send_notifications: sending what is due every {every:g} s")
        runs = 0
        while not self.stopping:
            _drop_stale_connections()
            started = time.monotonic()
            try:
                result = notifications_send_due(batch=batch or None, stop=lambda: self.stopping)
            except Exception as exc:  # one failed run (database locked, bad setting) must not end the loop
                logger.exception("send_notifications: run failed")
                line = f"run failed: {type(exc).__name__}: {exc}"
            else:
                line = str(result)
            runs += 1
            stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
            self.stdout.write(f"[{stamp}] send_notifications: {line} ({time.monotonic() - started:.1f} s)")
            if max_runs and runs >= max_runs:
                break
            deadline = time.monotonic() + every
            while not self.stopping and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 0.5))
        self.stdout.write("send_notifications: stopped")
