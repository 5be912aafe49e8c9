"""Sending the due notices by e-mail, at most once each.

Each notification gets its Message-ID when it is planned, and every attempt uses that same
Message-ID. ``notifications_send_due`` takes the due rows ``batch`` at a time (one SMTP connection per
batch) and works through each batch in groups of ``WARRANTDESK_NOTIFY_GROUP`` (50):

1. *render*: the group's messages are rendered first, so a template error claims nothing;
2. *claim*: one conditional UPDATE switches the group's rows that are still due to ``SENDING``
   under one fresh claim token and ``claimed_at``, in a transaction that commits before anything
   is sent; rows another worker (or a deferral) got first are skipped;
3. *send*: one ``send_messages([message])`` per notice over the batch's connection;
4. *record*: the messages the server accepted become ``SENT`` (``sent_at``) together, in one
   transaction with one audit entry per warrant naming the notifications by id, at the end of the
   group or as soon as ``RECORD_EVERY`` (0.2 s) has passed since the last record. A refused message
   (connection refused, recipient or data refused) becomes ``FAILED`` at once, with ``attempts + 1``
   and ``next_attempt_at`` by exponential back-off (1 min, 5 min, 30 min, 2 h, 12 h, 24 h); after
   ``WARRANTDESK_NOTIFY_MAX_ATTEMPTS`` it stays ``FAILED`` without a next attempt (given up, shown
   to the legal team).

The rule: **a row left in SENDING is never sent again automatically.** If the connection drops while
a message is being transmitted (the outcome is unknown), that row stays ``SENDING`` and is listed as
*unconfirmed*; the rest of its group, never handed to the server, is released to the status it had.
An interrupt or an unexpected error does the same on its way out: what the server accepted is
recorded, the message in flight stays unconfirmed, the rest is released. Only if the process dies
outright (kill -9, power loss) do the rows of the group being sent stay ``SENDING``: at most one group
per worker, accepted or never sent, sent in (due, id) order. That is the price of claiming and
recording in groups (two write transactions per 50 notices instead of three per notice), and it is
safe: a notice is never sent twice, only listed as unconfirmed. The legal team looks the Message-IDs
up in the mail server's log and either marks each notice sent or re-queues it
(``notification_requeue``: the re-sent mail carries the same Message-ID, so a receiving system that
deduplicates by Message-ID sees one message). This is at-most-once delivery by the application, with
a human deciding the rare unknown case: a second legal notice is worse than a short delay.

Accounts without an e-mail address are moved to ``NEEDS_LETTER`` before a batch is taken (the legal
team posts a paper letter). After the run, the warrants whose first notice went out become
NOTIFYING and the settled ones are closed (``lifecycle``).

Scheduling. ``manage.py send_notifications`` sends what is due once (cron, a systemd timer);
``--every N`` keeps sending every N seconds (``make run`` starts it next to the task worker; a process
supervisor in production) and stops cleanly between two groups on SIGTERM or Ctrl-C. The
``send_due_notifications`` task does the same from a task queue. Senders running at once are safe.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import smtplib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from ..models import Notification
from .lifecycle import warrant_mark_notifying, warrants_close_settled
from .messages import NoticeRenderer, disclosure_rows
from .planning import due_q

# Rows claimed together, in one transaction, and at most this long (seconds) between two records of
# accepted messages: what a crash can leave SENDING (see the module docstring).
RECORD_EVERY = 0.2
BACKOFF = [dt.timedelta(minutes=m) for m in (1, 5, 30, 120, 720, 1440)]

# Errors that prove the server did not take the message: safe to retry. Anything else raised while
# a message was being transmitted leaves its outcome unknown: the row stays SENDING (unconfirmed).
REFUSED = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPHeloError,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPAuthenticationError,
)


@dataclass
class SendResult:
    """What one send run did (``str`` is the line the ``send_notifications`` command prints)."""

    sent: int = 0
    failed: int = 0
    unconfirmed: int = 0
    letters: int = 0
    closed: int = 0
    warrants: set[int] = field(default_factory=set, repr=False)  # of the notices sent

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.failed} failed, {self.unconfirmed} unconfirmed, "
            f"{self.letters} moved to paper letters, {self.closed} warrants closed"
        )


def backoff(attempts: int) -> dt.timedelta | None:
    """The wait after the ``attempts``-th failure, or None once the attempts are used up."""
    if attempts >= settings.WARRANTDESK_NOTIFY_MAX_ATTEMPTS:
        return None
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


# --- claiming and recording: the at-most-once steps, one transaction each ----------------------------


def _candidates(now: dt.datetime, batch: int) -> list[Notification]:
    """The next ``batch`` due notices (accounts without an address are moved to paper letters first)."""
    with transaction.atomic(durable=True):
        Notification.objects.filter(due_q(now), account__email="").update(
            status=Notification.Status.NEEDS_LETTER, channel=Notification.Channel.LETTER, next_attempt_at=None
        )
    return list(
        Notification.objects.filter(due_q(now))
        .select_related("warrant__agency", "account")
        .order_by("due_at", "pk")[:batch]
    )


def _claim(group: list[Notification], now: dt.datetime) -> list[Notification]:
    """Step 2 (claim): switch a group of due rows to SENDING under one fresh claim token, in one transaction
    committed before any of them is sent; returns the rows this worker now holds.

    A conditional update (still due, by id): rows another worker (or a deferral) got first are
    skipped. The claim counts the attempt (``attempts + 1``): a message handed to the server counts
    whether it was accepted, refused or left unconfirmed. The returned objects keep the status and
    attempts they had before the claim (``_release`` restores both for messages never handed over).
    """
    token = secrets.token_hex(16)
    ids = [notification.pk for notification in group]
    with transaction.atomic(durable=True):
        Notification.objects.filter(due_q(now), pk__in=ids).update(
            status=Notification.Status.SENDING, claim=token, claimed_at=timezone.now(), attempts=F("attempts") + 1
        )
        mine = set(
            Notification.objects.filter(pk__in=ids, status=Notification.Status.SENDING, claim=token).values_list(
                "pk", flat=True
            )
        )
    claimed = [notification for notification in group if notification.pk in mine]
    for notification in claimed:
        notification.claim = token
    return claimed


def _record_sent(notifications: list[Notification]) -> int:
    """Step 4 (record) for the messages the server accepted: their rows become ``SENT`` together, in one
    transaction, with one audit entry per warrant naming the notifications by id. Returns the count."""
    if not notifications:
        return 0
    by_pk = {notification.pk: notification for notification in notifications}
    claims = {notification.claim for notification in notifications}
    with transaction.atomic(durable=True):
        now = timezone.now()
        Notification.objects.filter(pk__in=by_pk, status=Notification.Status.SENDING, claim__in=claims).update(
            status=Notification.Status.SENT, sent_at=now, last_error=""
        )
        recorded = sorted(
            Notification.objects.filter(
                pk__in=by_pk, status=Notification.Status.SENT, sent_at=now, claim__in=claims
            ).values_list("pk", flat=True)
        )
        by_warrant: dict[str, list[int]] = defaultdict(list)
        for pk in recorded:
            by_warrant[by_pk[pk].warrant.reference].append(pk)
        for reference, ids in by_warrant.items():
            audit_record(
                action=AuditAction.NOTIFICATION_SENT,
                actor_label="worker",
                warrant_ref=reference,
                details={"notifications": ids, "count": len(ids)},
            )
    return len(recorded)


def _release(notifications: list[Notification]) -> None:
    """Claimed rows never handed to the server go back to the status they had, and their attempt is
    not counted: nothing was sent."""
    if not notifications:
        return
    by_status: dict[str, list[int]] = defaultdict(list)
    for notification in notifications:
        by_status[notification.status].append(notification.pk)
    with transaction.atomic(durable=True):
        for status, ids in by_status.items():
            Notification.objects.filter(
                pk__in=ids, status=Notification.Status.SENDING, claim=notifications[0].claim
            ).update(status=status, claim="", claimed_at=None, attempts=F("attempts") - 1)


def _record_failed(notification: Notification, error: str) -> None:
    """A message the server refused: ``FAILED`` with its next attempt after the back-off, or given up."""
    attempts = notification.attempts + 1  # as counted by the claim (the object holds the value before it)
    wait = backoff(attempts)
    with transaction.atomic(durable=True):
        Notification.objects.filter(
            pk=notification.pk, status=Notification.Status.SENDING, claim=notification.claim
        ).update(
            status=Notification.Status.FAILED,
            attempts=attempts,
            next_attempt_at=timezone.now() + wait if wait else None,
            last_error=error[:300],
            claim="",
        )
        audit_record(
            action=AuditAction.NOTIFICATION_FAILED,
            actor_label="worker",
            warrant_ref=notification.warrant.reference,
            obj=notification,
            details={"notification": notification.pk, "attempts": attempts, "error": error[:200], "gave_up": not wait},
        )


def _record_unconfirmed(notification: Notification, error: str) -> None:
    """A message whose outcome is unknown: the row stays ``SENDING``; only the error is noted."""
    with transaction.atomic(durable=True):
        Notification.objects.filter(pk=notification.pk).update(last_error=error[:300])
        audit_record(
            action=AuditAction.NOTIFICATION_UNCONFIRMED,
            actor_label="worker",
            warrant_ref=notification.warrant.reference,
            obj=notification,
            details={"notification": notification.pk, "message_id": notification.message_id, "error": error[:200]},
        )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# --- the send run: batches over one SMTP connection each, groups within a batch ----------------------


def notifications_send_due(
    *,
    batch: int | None = None,
    now: dt.datetime | None = None,
    mailer: str = "default",
    stop: Callable[[], bool] | None = None,
) -> SendResult:
    """Send every notice due now, ``batch`` at a time over one SMTP connection per batch, then close
    the warrants whose notices are all settled.

    ``stop`` is asked between two groups: a clean shutdown leaves nothing claimed."""
    total = SendResult()
    batch = batch or settings.WARRANTDESK_NOTIFY_BATCH
    while not (stop and stop()):
        result = _send_batch(batch=batch, now=now or timezone.now(), mailer=mailer, stop=stop)
        total.sent += result.sent
        total.failed += result.failed
        total.unconfirmed += result.unconfirmed
        if result.sent + result.failed + result.unconfirmed < batch or result.unconfirmed:
            break
        if result.sent == 0:  # the server refuses everything: the failed rows wait for their back-off
            break
    total.letters = Notification.objects.filter(status=Notification.Status.NEEDS_LETTER).count()
    total.closed = len(warrants_close_settled(now=now))
    return total


def _send_group(connection, claimed: list[tuple[Notification, EmailMultiAlternatives]], result: SendResult) -> bool:
    """Step 3 (send) for one claimed group, over the open connection; False when the connection broke.

    Accepted messages are recorded together at the end of the group, or sooner once ``RECORD_EVERY``
    seconds have passed since the last record (a slow server), so a row stays SENDING only briefly.
    """
    accepted: list[Notification] = []
    handed = 0  # messages handed to the server so far; the last one may still be on its way
    recorded_at = time.monotonic()
    try:
        for notification, message in claimed:
            handed += 1
            try:
                connection.send_messages([message])
            except REFUSED as exc:
                _record_failed(notification, _describe(exc))
                result.failed += 1
                continue
            except (smtplib.SMTPException, OSError) as exc:
                # The connection broke while this message was on its way: the outcome is unknown, so
                # the row stays SENDING (unconfirmed); the rest of the group is released below.
                _record_unconfirmed(notification, _describe(exc))
                result.unconfirmed += 1
                return False
            accepted.append(notification)
            if time.monotonic() - recorded_at >= RECORD_EVERY:
                result.sent += _record_sent(accepted)
                accepted, recorded_at = [], time.monotonic()
        return True
    finally:
        # Also on an interrupt or an unexpected error: what the server accepted is recorded SENT and
        # the rows never handed to it are released. If the process dies outright none of this runs,
        # and the group's rows stay SENDING (unconfirmed), never sent again automatically.
        try:
            result.sent += _record_sent(accepted)
            result.warrants.update(notification.warrant_id for notification in accepted)
        finally:
            _release([notification for notification, _message in claimed[handed:]])


def _send_batch(*, batch: int, now: dt.datetime, mailer: str, stop: Callable[[], bool] | None = None) -> SendResult:
    """One batch: take the next due notices, open one connection, then render, claim and send them
    group by group; the warrants of the notices sent become NOTIFYING."""
    result = SendResult()
    candidates = _candidates(now, batch)
    if not candidates:
        return result
    size = max(1, settings.WARRANTDESK_NOTIFY_GROUP)
    groups = [candidates[start : start + size] for start in range(0, len(candidates), size)]
    connection = mail.mailers[mailer]
    try:
        connection.open()
    except Exception as exc:  # server down: nothing was sent, every candidate waits for its back-off
        for group in groups:
            for notification in _claim(group, now):
                _record_failed(notification, _describe(exc))
                result.failed += 1
        return result
    try:
        renderer = NoticeRenderer(disclosure_rows(candidates))
        for group in groups:
            if stop and stop():
                break
            # Rendered before the claim: a template error claims nothing.
            messages = {notification.pk: renderer.message(notification) for notification in group}
            claimed = _claim(group, now)
            if not _send_group(connection, [(n, messages[n.pk]) for n in claimed], result):
                break
    finally:
        with contextlib.suppress(Exception):  # closing a broken connection
            connection.close()
    for warrant_id in sorted(result.warrants):
        warrant_mark_notifying(warrant_id=warrant_id)
    return result
