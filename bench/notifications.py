"""Benchmark 6: sending 10,000 user notifications through a local SMTP server.

An aiosmtpd server on loopback collects the messages; ``notifications_send_due`` sends them as in
production (render, claim, send, record SENT with one audit entry, per group of
``WARRANTDESK_NOTIFY_GROUP``), one SMTP connection per batch of 500. The figure is the rate of the
whole run; the count received must equal the count planned. With ``--profile`` the run is cProfiled
(slower) and the top functions by cumulative time are printed.

Imported only after django.setup() (see bench/run.py).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import multiprocessing
import pstats
import socket
import time

from bench.run import Report, Row, say

GOAL_RATE = 200  # notices per second
COUNT = 10_000
BATCH = 500


class _Counter:
    def __init__(self, count, ids):
        self.count, self.ids = count, ids

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.split(b"\r\n", 40):
            if line.lower().startswith(b"message-id:"):
                self.ids.add(line.split(b":", 1)[1].strip())
                with self.count.get_lock():
                    self.count.value = len(self.ids)
                break
        return "250 OK"


def _serve(port: int, count, stop) -> None:
    """The SMTP server, in a process of its own as in production (it must not share our GIL)."""
    from aiosmtpd.controller import Controller

    controller = Controller(_Counter(count, set()), hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)


def _plan(count: int, officer) -> None:
    """``count`` accounts named in a delivered export of one warrant, every notice already due."""
    from django.utils import timezone

    from disclosure.models import Account, Export, Notification
    from disclosure.notifications import new_message_id
    from requests_app.models import Agency, Warrant

    now = timezone.now()
    agency, _created = Agency.objects.get_or_create(code="bench-notify", defaults={"name": "Bench Police"})
    warrant = Warrant.objects.create(
        reference="WD-BENCH-NOTIFY",
        agency=agency,
        warrant_number="BENCH-N-1",
        court="Bench court",
        legal_basis="Criminal Procedure Act art. 215",
        received_at=now - dt.timedelta(days=40),
        deadline=now - dt.timedelta(days=33),
        period_start=now - dt.timedelta(days=70),
        period_end=now - dt.timedelta(days=41),
        status="DELIVERED",
        created_by=officer,
    )
    Export.objects.create(warrant=warrant, requested_by=officer, status="READY", package_sha256="ab" * 32)
    accounts = Account.objects.bulk_create(
        Account(
            uid=f"bench-notify-{i}",
            display_name=f"벤치 사용자 {i}",
            email=f"user{i}@bench.invalid",
            locale="ko" if i % 5 else "en",
        )
        for i in range(count)
    )
    Notification.objects.bulk_create(
        (
            Notification(
                warrant=warrant,
                account=account,
                target=True,
                disclosed_at=now - dt.timedelta(days=31),
                due_at=now - dt.timedelta(days=1),
                message_id=new_message_id(),
            )
            for account in accounts
        ),
        batch_size=2000,
    )


def bench_notifications(args: argparse.Namespace, report: Report, people: dict) -> None:
    from django.conf import settings

    from disclosure.models import Notification
    from disclosure.notifications import notifications_send_due
    from warrantdesk.audit import verify_chain

    count = getattr(args, "notifications", None) or COUNT
    say(f"\n[6] notifications: planning {count:,} due notices, then sending them to a local SMTP server ...")
    _plan(count, people["officer.kim"])
    port = _free_port()
    context = multiprocessing.get_context("fork")
    received, stop = context.Value("i", 0), context.Event()
    server = context.Process(target=_serve, args=(port, received, stop), daemon=True)
    server.start()
    _wait_for(port)
    saved = settings.MAILERS
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }
    try:
        profiler = cProfile.Profile() if getattr(args, "profile", False) else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        result = notifications_send_due(batch=BATCH)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        deadline = time.monotonic() + 5
        while received.value < result.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        settings.MAILERS = saved
        stop.set()
        server.join(10)
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
        say("  cProfile of the send run (under the profiler, so slower), by cumulative time:")
        say(text.getvalue())
    rate = result.sent / elapsed if elapsed else 0.0
    sent_rows = Notification.objects.filter(status=Notification.Status.SENT).count()
    chain = verify_chain()  # what `manage.py verify_audit_log` checks, grouped entries included
    report.add(
        Row(
            f"notifications sent via SMTP ({count:,}, batch {BATCH})",
            f"{rate:,.0f}/s",
            f"{result.sent:,} in {elapsed:.1f} s; {result}",
            f"goal >= {GOAL_RATE}/s",
            ok=rate >= GOAL_RATE,
        )
    )
    report.add(
        Row(
            "notifications received by the SMTP server",
            f"{received.value:,}",
            f"distinct Message-IDs; {sent_rows:,} rows SENT",
            f"goal = {count:,}",
            ok=received.value == count == sent_rows,
        )
    )
    report.add(
        Row(
            "audit log after the notifications",
            "intact" if chain.ok else "BROKEN",
            f"{chain.count:,} entries verified",
            "goal: verify_audit_log passes",
            ok=chain.ok,
        )
    )
