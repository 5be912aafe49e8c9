"""Figure of the transparency report (issue #13, point 4): run by bench/run.py (``--only report``).

Computes ``oversight.report.figures`` over one whole year of 100,000 warrants (``--report-warrants``),
bulk-created by ``fixtures.warrants`` (a realistic mix of statuses), with, for every honoured warrant,
a delivered conversations export naming one target and three pseudonymised people (one revealed on
a delivered identity sheet every tenth warrant) and a notice per target. Goal: <= 2 s.
"""

from __future__ import annotations

import datetime as dt
import time

GOAL_SECONDS = 2.0


def _cases(count: int, people: dict) -> None:
    from django.db import transaction
    from django.utils import timezone

    from bench import fixtures
    from disclosure.models import Account, Delivery, Disclosure, Export, Notification
    from oversight.report import HONOURED
    from requests_app.models import Warrant

    missing = count - Warrant.objects.count()
    if missing > 0:
        fixtures.warrants(
            missing, officer=people["officer.kim"], reviewer=people["reviewer.park"], agency_list=fixtures.agencies()
        )
    accounts = list(Account.objects.values_list("pk", flat=True)[:1000])
    if len(accounts) < 1000:
        Account.objects.bulk_create(Account(uid=f"bench-report-{n}", display_name=f"P{n}") for n in range(1000))
        accounts = list(Account.objects.values_list("pk", flat=True)[:1000])
    honoured = list(Warrant.objects.filter(status__in=HONOURED).values_list("pk", "received_at"))
    officer = people["officer.kim"]
    with transaction.atomic():
        for start in range(0, len(honoured), 2000):
            chunk = honoured[start : start + 2000]
            exports = Export.objects.bulk_create(
                Export(warrant_id=pk, requested_by=officer, status=Export.Status.READY, package_sha256="ab" * 32)
                for pk, _received in chunk
            )
            sheets = Export.objects.bulk_create(
                Export(
                    warrant_id=pk,
                    kind=Export.Kind.IDENTITIES,
                    requested_by=officer,
                    status=Export.Status.READY,
                    package_sha256="ab" * 32,
                )
                for n, (pk, _received) in enumerate(chunk)
                if n % 10 == 0
            )
            deliveries, rows, notices = [], [], []
            for n, (export, (pk, received)) in enumerate(zip(exports, chunk, strict=True)):
                deliveries.append(
                    Delivery(
                        export=export,
                        channel="IN_PERSON",
                        recipient="Inspector",
                        delivered_at=received + dt.timedelta(days=1 + n % 9),
                        package_sha256="ab" * 32,
                        recorded_by=officer,
                    )
                )
                persons = [accounts[(start + n + k) % len(accounts)] for k in range(4)]
                rows.append(Disclosure(export=export, account_id=persons[0], role=Disclosure.Role.TARGET))
                rows += [
                    Disclosure(export=export, account_id=p, role=Disclosure.Role.PSEUDONYMISED) for p in persons[1:]
                ]
                notices.append(
                    Notification(
                        warrant_id=pk,
                        account_id=persons[0],
                        target=True,
                        disclosed_at=received,
                        due_at=received + dt.timedelta(days=30),
                        message_id=f"<bench-report-{pk}@bench>",
                    )
                )
            for sheet in sheets:
                deliveries.append(
                    Delivery(
                        export=sheet,
                        channel="IN_PERSON",
                        recipient="Inspector",
                        delivered_at=timezone.now(),
                        package_sha256="ab" * 32,
                        recorded_by=officer,
                    )
                )
                first = next(
                    r
                    for r in rows
                    if r.export.warrant_id == sheet.warrant_id and r.role == Disclosure.Role.PSEUDONYMISED
                )
                rows.append(Disclosure(export=sheet, account_id=first.account_id, role=Disclosure.Role.REVEALED))
            Delivery.objects.bulk_create(deliveries)
            Disclosure.objects.bulk_create(rows)
            Notification.objects.bulk_create(notices, ignore_conflicts=True)
    fixtures.settle()


def bench_report(args, report, people) -> None:
    from django.utils import timezone

    from bench.run import Row, median_time, say
    from oversight import report as transparency
    from requests_app.models import Warrant

    count = args.report_warrants
    say(f"\n[report] {count:,} warrants with their exports, disclosures and notices ...")
    started = time.perf_counter()
    _cases(count, people)
    say(f"[report] built in {time.perf_counter() - started:.0f} s")
    today = timezone.localdate()
    period = transparency.Period(today - dt.timedelta(days=366), today)
    raw = transparency.figures(period)
    cpu = time.process_time()
    seconds, _runs = median_time(lambda: transparency.figures(period), 3)
    cpu = (time.process_time() - cpu) / 3  # this process only: on SQLite all of it, on a busy machine a truer figure
    report.add(
        Row(
            f"transparency report figures, {Warrant.objects.count():,} warrants (a year)",
            f"{seconds:.2f} s",
            f"{raw['warrants']['received']:,} received, {raw['accounts']['pseudonymised']:,} pseudonymised, "
            f"{cpu:.2f} s CPU in Python",
            f"<= {GOAL_SECONDS:.0f} s",
            seconds <= GOAL_SECONDS,
        )
    )
