"""`manage.py generate_conversations`: a synthetic conversation store for benchmarks and demos.

    manage.py generate_conversations --accounts 10000 --rooms 500 --messages 1000000 --seed 1

Adds to the store (a second seed adds a second, separate population); the same seed again adds
nothing. The summary goes to stdout, the progress bar to stderr.
"""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.generator import generate

BAR_WIDTH = 30


def plain(text: str) -> str:
    return text  # not the red of self.stderr


class Command(BaseCommand):
    help = "Generate a realistic synthetic conversation store (accounts, rooms, memberships, messages)."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=1000, help="accounts to add (default 1,000)")
        parser.add_argument("--rooms", type=int, default=100, help="rooms to add (default 100)")
        parser.add_argument("--messages", type=int, default=100_000, help="messages to add (default 100,000)")
        parser.add_argument("--seed", type=int, default=1, help="random seed; names the rows (default 1)")
        parser.add_argument("--days", type=int, default=365, help="length of the period in days (default 365)")
        parser.add_argument(
            "--start",
            type=dt.date.fromisoformat,
            help="first day of the period, YYYY-MM-DD (default: so that the period ends today)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    def handle(self, *args, **options):
        start = None
        if options["start"]:
            start = dt.datetime.combine(options["start"], dt.time(), tzinfo=timezone.get_current_timezone())
        progress = None if options["no_progress"] else self._progress()
        try:
            summary = generate(
                accounts=options["accounts"],
                rooms=options["rooms"],
                messages=options["messages"],
                seed=options["seed"],
                start=start,
                days=options["days"],
                progress=progress,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(str(summary))
        if not summary.already_generated and summary.message_kinds:
            kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(summary.message_kinds.items()))
            self.stdout.write(f"Messages by kind: {kinds}.")

    def _progress(self):
        """A plain text bar: redrawn in place on a terminal, one line per tenth otherwise."""
        stream = self.stderr
        tty = stream.isatty()
        started = time.perf_counter()
        shown = {"tenth": -1}

        def report(done: int, total: int) -> None:
            share = done / total if total else 1.0
            elapsed = time.perf_counter() - started
            filled = int(share * BAR_WIDTH)
            line = (
                f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} "
                f"{done:,}/{total:,} messages, {elapsed:.0f} s"
            )
            if tty:
                stream.write("\r" + line, style_func=plain, ending="\n" if done >= total else "")
                stream.flush()
            elif int(share * 10) > shown["tenth"]:
                shown["tenth"] = int(share * 10)
                stream.write(line, style_func=plain)

        return report
