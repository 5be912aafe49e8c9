"""Benchmark 3: the conversation generator's speed and the warrant scope preview on its store.

Imported only after django.setup() (see bench/run.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from bench import fixtures
from bench.run import Report, Row, median_time, ms, say, shorten
from demo.generator import generate
from disclosure.models import Account, Membership
from disclosure.scope import warrant_scope
from requests_app.models import WarrantTarget
from requests_app.services import TargetInput, warrant_register

ACCOUNTS = 10_000
ROOMS = 500
SEED = 1
RUNS = 20
GOAL_RATE = 1_000_000 / 120  # messages/s: 1,000,000 in two minutes
GOAL_PREVIEW = 0.2  # seconds, for a warrant of five targets


def bench_conversations(args: argparse.Namespace, report: Report, people: dict) -> None:
    n = args.messages
    say(f"\n[4] conversations: generating {ACCOUNTS:,} accounts, {ROOMS} rooms, {n:,} messages ...")
    shown = {"tenth": 0}

    def progress(done: int, total: int) -> None:
        if done * 10 // total > shown["tenth"]:
            shown["tenth"] = done * 10 // total
            say(f"    {done:,} messages")

    summary = generate(accounts=ACCOUNTS, rooms=ROOMS, messages=n, seed=SEED, progress=progress)
    say(f"    {summary}")
    goal = "goal <= 120 s" if n == 1_000_000 else f"goal <= {n / GOAL_RATE:.1f} s (120 s/1M)"
    report.add(
        Row(
            f"generate_conversations {n:,} messages",
            f"{summary.seconds:.1f} s",
            f"{summary.messages_per_second:,.0f} messages/s",
            goal,
            ok=summary.messages_per_second >= GOAL_RATE,
        )
    )
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(summary.message_kinds.items()))
    report.notes.append(
        f"generated: {summary.accounts:,} accounts, {summary.room_count} rooms "
        f"({', '.join(f'{k} {v}' for k, v in summary.rooms.items())}), {summary.memberships:,} memberships; "
        f"messages by kind: {kinds}"
    )
    fixtures.settle()

    end = summary.end
    officer, agency = people["officer.kim"], fixtures.agencies()[0]
    # A typical warrant: five people who are each in several rooms, the last six months, named by
    # account ID, phone number (written as the agency writes it) and e-mail address.
    typical = _warrant(
        officer,
        agency,
        _several_rooms(5),
        end - dt.timedelta(days=180),
        end,
        "typical",
    )
    # The heaviest: the five people in the most rooms, over the whole year.
    heaviest = _warrant(officer, agency, _most_rooms(5), summary.start, end, "heaviest")
    for label, warrant in (
        ("scope preview, 5 targets, 180 days", typical),
        ("scope preview, 5 busiest targets, 365 days", heaviest),
    ):
        _measure(report, label, warrant, n, explain=args.profile)


def _several_rooms(count: int) -> list[Account]:
    """``count`` accounts, each a member of 3 to 6 rooms (seeded pick among them)."""
    ids = list(
        Membership.objects.values("account")
        .annotate(rooms=Count("room", distinct=True))
        .filter(rooms__gte=3, rooms__lte=6)
        .order_by("account")
        .values_list("account", flat=True)
    )
    chosen = random.Random(SEED).sample(ids, min(count, len(ids)))
    return list(Account.objects.filter(pk__in=chosen).order_by("pk"))


def _most_rooms(count: int) -> list[Account]:
    ids = list(
        Membership.objects.values("account")
        .annotate(rooms=Count("room", distinct=True))
        .order_by("-rooms", "account")
        .values_list("account", flat=True)[:count]
    )
    return list(Account.objects.filter(pk__in=ids).order_by("pk"))


def _warrant(officer, agency, accounts: list[Account], start: dt.datetime, end: dt.datetime, name: str):
    targets = []
    for index, account in enumerate(accounts):
        if index % 3 == 1 and account.phone_normalized:
            local = "0" + account.phone_normalized.removeprefix("+82")  # 01012345678 -> 010 1234 5678
            targets.append(TargetInput(WarrantTarget.Kind.PHONE, f"{local[:3]} {local[3:7]} {local[7:]}"))
        elif index % 3 == 2 and account.email:
            targets.append(TargetInput(WarrantTarget.Kind.EMAIL, account.email.upper()))
        else:
            targets.append(TargetInput(WarrantTarget.Kind.UID, account.uid))
    return warrant_register(
        actor=officer,
        agency=agency,
        warrant_number=f"bench-scope-{name}",
        court="Seoul Central District Court",
        legal_basis="Protection of Communications Secrets Act art. 13",
        received_at=end,
        deadline=end + dt.timedelta(days=10),
        period_start=start,
        period_end=end,
        targets=targets,
    )


def _measure(report: Report, label: str, warrant, n: int, *, explain: bool) -> None:
    scope = warrant_scope(warrant)  # warm-up, and the figures shown
    with CaptureQueriesContext(connection) as captured:
        warrant_scope(warrant)
    queries = [(float(query["time"]), query["sql"]) for query in captured.captured_queries]
    elapsed, times = median_time(lambda: warrant_scope(warrant), RUNS)
    goal = "goal <= 200 ms" if n == 1_000_000 else "goal <= 200 ms (goal set at 1M)"
    report.add(
        Row(
            label,
            ms(elapsed),
            f"{len(queries)} queries; {len(scope.rooms)} rooms, {scope.message_count:,} msgs",
            goal,
            ok=elapsed <= GOAL_PREVIEW and not scope.unmatched,
        )
    )
    slow_time, slow_sql = max(queries, default=(0.0, ""))
    report.notes.append(
        f"{label}: {len(scope.matched)} of {len(scope.matched) + len(scope.unmatched)} targets matched, "
        f"{len(scope.rooms)} rooms, {scope.message_count:,} messages, {len(scope.participant_ids)} "
        f"participants ({len(scope.non_target_ids)} non-targets); median of {RUNS} "
        f"(min {ms(min(times))}, max {ms(max(times))}); SQL {ms(sum(t for t, _sql in queries))} of one run, "
        f"slowest query {ms(slow_time)}: {shorten(slow_sql, 120)}"
    )
    if explain or elapsed > GOAL_PREVIEW:
        _explain(queries)


def _explain(queries: list[tuple[float, str]]) -> None:
    """The plan of the scope's two slowest queries (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE)."""
    analyze = connection.vendor == "postgresql"
    prefix = connection.ops.explain_query_prefix(analyze=True) if analyze else connection.ops.explain_query_prefix()
    for seconds, sql in sorted(queries, reverse=True)[:2]:
        say(f"    plan of a {ms(seconds)} query: {shorten(sql, 150)}")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"{prefix} {sql}")
            for row in cursor.fetchall():
                say("      " + " | ".join(str(value) for value in row))
        say(f"      (explained in {ms(time.perf_counter() - started)})")
