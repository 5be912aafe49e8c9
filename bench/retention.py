"""Benchmark: the retention purge (disclosure/retention.py) over a 1,000,000-message store with a few holds.

Imported only after django.setup() (see bench/run.py). It runs last: the purge deletes most of the
store the other benchmarks use. Alone (``--only retention``) it generates its own store: the given
number of messages over the past 30 days, so that with the default retention (3 days) about nine
tenths of it is due, a realistic first purge of a backlog.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from bench import fixtures
from bench.conversations import _most_rooms, _several_rooms, _warrant
from bench.run import Report, Row, say
from demo.generator import generate
from disclosure import retention
from disclosure.models import Message, PreservationHold

SEED = 3
DAYS = 30
HOLDS = 3
# 20,000 messages/s: a backlog of 1,000,000 purged in under a minute, far inside the job's two-hour
# lease; an hourly run over a store taking a million messages a day (about 42,000 an hour) then
# takes two or three seconds, re-keying the day at the retention boundary included.
GOAL_RATE = 20_000


def bench_retention(args: argparse.Namespace, report: Report, people: dict) -> None:
    n = args.messages
    if not settings.WARRANTDESK_KEKS:  # alone; after the export benchmark its KEK wraps the store's day keys
        settings.WARRANTDESK_KEKS = [os.urandom(32)]
    if Message.objects.count() < n // 2:
        say(f"\n[retention] generating {n:,} messages over the past {DAYS} days ...")
        start = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=DAYS)
        generate(accounts=10_000, rooms=500, messages=n, seed=SEED, start=start, days=DAYS)
        fixtures.settle()
    total = Message.objects.count()
    newest = Message.objects.order_by("-sent_at").values_list("sent_at", flat=True).first()
    assert newest is not None, "the store holds the messages generated above"
    officer, agency = people["officer.kim"], fixtures.agencies()[0]
    # A few holds: warrants on busy people over the last two weeks of the store (placed on commit).
    groups = [_most_rooms(2), _several_rooms(3), _most_rooms(5)[2:]]
    for index, accounts in enumerate(groups[:HOLDS]):
        _warrant(officer, agency, accounts, newest - dt.timedelta(days=14), newest, f"retention-{index}")
    holds = PreservationHold.objects.filter(released_at__isnull=True).count()
    days = settings.WARRANTDESK_RETENTION_DAYS
    say(f"[retention] purging a store of {total:,} messages with {holds} holds (retention {days} days) ...")
    begun = time.perf_counter()
    summary = retention.messages_purge_expired(now=newest)
    elapsed = time.perf_counter() - begun
    rate = summary.messages_removed / elapsed if elapsed else 0.0
    report.add(
        Row(
            f"retention purge, {total:,} messages, {holds} holds",
            f"{rate:,.0f} messages/s",
            f"{summary.messages_removed:,} removed in {elapsed:.1f} s, {summary.kept_by_holds:,} kept by holds",
            f"goal >= {GOAL_RATE:,} messages/s",
            ok=rate >= GOAL_RATE,
        )
    )
    report.notes.append(
        f"retention purge: {summary.days_destroyed} days' keys destroyed, {summary.days_rekeyed} days re-keyed, "
        f"{Message.objects.count():,} messages left ({connection.vendor})"
    )
