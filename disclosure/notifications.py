"""User notifications: telling each person what was disclosed about them, once the disclosure is done.

Who. Every target of a delivered export and every non-target whose identity was revealed on a
follow-up request (an identity sheet's REVEALED rows). Pseudonymised non-targets who were never
revealed are not notified unless ``WARRANTDESK_NOTIFY_PSEUDONYMISED`` is on: their identity never left
the operator, and a notice would tell them (and whoever reads their mail) that they were caught up
in an investigation of someone else. One ``Notification`` per (warrant, account).

When. ``due_at`` is the first delivery of an export naming the person plus
``WARRANTDESK_NOTIFY_AFTER_DAYS`` (``..._EMERGENCY`` for emergency warrants). A reviewer assigned to
the warrant may defer a notice with a written justification and an end date; once the end date has
passed the notice is due again and the next run sends it.

Delivery, at most once. Each notification gets its Message-ID when it is planned, and every attempt
uses that same Message-ID. ``notifications_send_due`` takes the due rows ``batch`` at a time (one SMTP
connection per batch) and works through each batch in groups of ``WARRANTDESK_NOTIFY_GROUP`` (50):

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

Closing. When every notification of a notifying warrant is ``SENT`` (an e-mail accepted or confirmed
from the mail log, a letter marked posted) and no follow-up request of it is still open (received, in
review, or decided but not yet disclosed), ``warrants_close_settled`` moves the warrant to ``CLOSED``
(a SYSTEM move: status history event and audit entry), at the end of every send run and when the team
marks a notice sent; a delivered warrant with nobody to notify (no target matched an account, no one
revealed) closes the same way once its notices would have been due. PENDING, DEFERRED, SENDING,
FAILED (a retry due, or given up: the person was never told; the team re-queues it or switches it to
a paper letter) and NEEDS_LETTER keep it open. There is no follow-up window in the
workflow: a follow-up request may still arrive for a closed warrant, and the people it reveals are
notified all the same (sending does not look at the warrant's status).

Scheduling. ``manage.py send_notifications`` sends what is due once (cron, a systemd timer);
``--every N`` keeps sending every N seconds (``make run`` starts it next to the task worker; a process
supervisor in production) and stops cleanly between two groups on SIGTERM or Ctrl-C. The
``send_due_notifications`` task does the same from a task queue. Senders running at once are safe.

Accounts without an e-mail address are ``NEEDS_LETTER``: ``render_letter`` makes the PDF letter the
legal team prints and posts, then marks sent. Audit entries name notifications by id and accounts by
pk only, never a name, phone number or e-mail address.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import smtplib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from requests_app.models import Warrant
from requests_app.permissions import can, can_view
from requests_app.workflow import REVIEW, Status
from warrantdesk.audit import audit_record
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction
from warrantdesk.params import parse_id

from .models import Account, Disclosure, Export, Notification

logger = logging.getLogger(__name__)

# Rows claimed together, in one transaction, and at most this long (seconds) between two records of
# accepted messages: what a crash can leave SENDING (see the module docstring).
RECORD_EVERY = 0.2
BACKOFF = [dt.timedelta(minutes=m) for m in (1, 5, 30, 120, 720, 1440)]
NOTICE = "disclosure_notice"

# Due to be sent: pending and due, deferred with the deferral over, failed with a retry due.
# (SENDING is deliberately absent: see the module docstring.)


def _due_q(now: dt.datetime) -> Q:
    return (
        Q(status=Notification.Status.PENDING, due_at__lte=now)
        | Q(status=Notification.Status.DEFERRED, deferred_until__lte=now, due_at__lte=now)
        | Q(status=Notification.Status.FAILED, next_attempt_at__lte=now)
    )


def backoff(attempts: int) -> dt.timedelta | None:
    """The wait after the ``attempts``-th failure, or None once the attempts are used up."""
    if attempts >= settings.WARRANTDESK_NOTIFY_MAX_ATTEMPTS:
        return None
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


# --- messages --------------------------------------------------------------------------------------


def make_message(
    name: str, to: str, ctx: dict, *, locale: str | None = None, headers: dict | None = None
) -> EmailMultiAlternatives:
    """One e-mail from the template triplet ``emails/<name>-subject.txt``, ``-body.txt``, ``-body.html``,
    rendered in ``locale`` (the recipient's language)."""
    with translation.override(locale or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"emails/{name}-subject.txt", ctx).split())
        text = render_to_string(f"emails/{name}-body.txt", ctx)
        html = render_to_string(f"emails/{name}-body.html", ctx)
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [to], headers={**(headers or {}), "Content-Language": locale or ""}
    )
    message.attach_alternative(html, "text/html")
    return message


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a notice says; built from the notification alone, so it names nobody else."""

    reference: str
    recipient_name: str
    account_uid: str
    agency: str
    legal_basis: str
    requested_at: dt.datetime
    disclosed_at: dt.datetime
    period_start: dt.datetime
    period_end: dt.datetime
    target: bool
    revealed: bool
    revealed_at: dt.datetime | None
    messages: int
    contact: str
    emergency: bool
    locale: str
    kinds: list[str] = field(default_factory=list)
    # The sender (settings WARRANTDESK_OPERATOR_NAME / _ADDRESS) and, for letters, the person's address.
    operator_name: str = ""
    operator_address: list[str] = field(default_factory=list)
    recipient_address: list[str] = field(default_factory=list)


def address_lines(value: str) -> list[str]:
    """An address written on several lines, or on one with " | " between its lines."""
    return [line.strip() for line in value.replace("|", "\n").splitlines() if line.strip()]


def _disclosure_rows(notifications: list[Notification]) -> dict[tuple[int, int], list[Disclosure]]:
    """The delivered Disclosure rows of many notifications in one query, by (warrant, account)."""
    rows: dict[tuple[int, int], list[Disclosure]] = defaultdict(list)
    query = Q()
    for warrant_id in {n.warrant_id for n in notifications}:
        accounts = [n.account_id for n in notifications if n.warrant_id == warrant_id]
        query |= Q(export__warrant_id=warrant_id, account_id__in=accounts)
    found = (
        Disclosure.objects.filter(query, export__deliveries__isnull=False)
        .annotate(first_delivery=Min("export__deliveries__delivered_at"))
        .select_related("export")
    )
    for row in found:
        rows[(row.export.warrant_id, row.account_id)].append(row)
    return rows


def notice_facts(notification: Notification, rows: list[Disclosure] | None = None) -> NoticeFacts:
    warrant, account = notification.warrant, notification.account
    if rows is None:
        rows = _disclosure_rows([notification])[(notification.warrant_id, notification.account_id)]
    messages = max((row.messages for row in rows if row.role != Disclosure.Role.REVEALED), default=0)
    revealed_at = min((row.first_delivery for row in rows if row.role == Disclosure.Role.REVEALED), default=None)
    return NoticeFacts(
        reference=warrant.reference,
        recipient_name=account.display_name,
        account_uid=account.uid,
        agency=warrant.agency.name,
        legal_basis=warrant.legal_basis,
        requested_at=warrant.received_at,
        disclosed_at=notification.disclosed_at,
        period_start=warrant.period_start,
        period_end=warrant.period_end,
        target=notification.target,
        revealed=notification.revealed,
        revealed_at=revealed_at,
        messages=messages,
        contact=settings.WARRANTDESK_PRIVACY_CONTACT,
        emergency=warrant.is_emergency,
        locale=account.locale,
        operator_name=settings.WARRANTDESK_OPERATOR_NAME,
        operator_address=address_lines(settings.WARRANTDESK_OPERATOR_ADDRESS),
        recipient_address=address_lines(account.postal_address),
    )


def notice_message(notification: Notification, facts: NoticeFacts | None = None) -> EmailMultiAlternatives:
    """The notice e-mail, with the notification's own, stable Message-ID."""
    facts = facts or notice_facts(notification)
    return make_message(
        NOTICE,
        notification.account.email,
        {"notice": facts},
        locale=facts.locale,
        headers={"Message-ID": notification.message_id},
    )


class NoticeRenderer:
    """Renders the notices of one send batch from the batch's Disclosure rows (one query)."""

    def __init__(self, rows: dict[tuple[int, int], list[Disclosure]]):
        self.rows = rows

    def message(self, notification: Notification) -> EmailMultiAlternatives:
        facts = notice_facts(notification, self.rows[(notification.warrant_id, notification.account_id)])
        return notice_message(notification, facts)


def is_letter(notification: Notification) -> bool:
    """The notice goes (or went) by post: listed for a letter, or the person has no e-mail address."""
    return notification.channel == Notification.Channel.LETTER or not notification.account.email


def letter_html(notification: Notification, facts: NoticeFacts | None = None) -> str:
    """The paper letter as HTML, in the person's language: what the PDF prints, and the preview shows."""
    facts = facts or notice_facts(notification)
    with translation.override(facts.locale):
        return render_to_string("disclosure/notification_letter.html", {"notice": facts})


def render_letter(notification: Notification) -> bytes:
    """The paper letter (PDF, NanumGothic for Korean) for a person without an e-mail address."""
    from .pdf import _write_pdf

    pdf = _write_pdf(letter_html(notification))
    assert pdf is not None
    return pdf


# --- planning --------------------------------------------------------------------------------------


def _delay(warrant: Warrant) -> dt.timedelta:
    days = (
        settings.WARRANTDESK_NOTIFY_AFTER_DAYS_EMERGENCY
        if warrant.is_emergency
        else settings.WARRANTDESK_NOTIFY_AFTER_DAYS
    )
    return dt.timedelta(days=days)


def new_message_id() -> str:
    return make_msgid(idstring=f"notice.{secrets.token_hex(8)}", domain=settings.WARRANTDESK_MAIL_DOMAIN)


def notifications_plan(*, warrant: Warrant) -> list[Notification]:
    """Create the notifications owed for the warrant's delivered exports; idempotent.

    Called from the delivery (``services._mark_delivered``) inside its transaction, so a delivered
    export and its notifications commit together; running it again adds only people not planned yet
    (the revealed people of a later identity sheet) and marks a planned, unsent person as revealed.
    """
    roles = [Disclosure.Role.TARGET, Disclosure.Role.REVEALED]
    if settings.WARRANTDESK_NOTIFY_PSEUDONYMISED:
        roles.append(Disclosure.Role.PSEUDONYMISED)
    delivered = (
        Disclosure.objects.filter(export__warrant=warrant, export__status=Export.Status.READY, role__in=roles)
        .filter(export__deliveries__isnull=False)
        .values("account_id", "role")
        .annotate(first=Min("export__deliveries__delivered_at"))
    )
    people: dict[int, dict] = defaultdict(lambda: {"roles": set(), "first": None})
    for row in delivered:
        person = people[row["account_id"]]
        person["roles"].add(row["role"])
        person["first"] = row["first"] if person["first"] is None else min(person["first"], row["first"])
    if not people:
        return []
    delay = _delay(warrant)
    created: list[Notification] = []
    with transaction.atomic():
        existing = {n.account_id: n for n in Notification.objects.select_for_update().filter(warrant=warrant)}
        emails = dict(Account.objects.filter(pk__in=people).values_list("pk", "email"))
        for account_id, person in sorted(people.items()):
            revealed = Disclosure.Role.REVEALED in person["roles"]
            if (notification := existing.get(account_id)) is not None:
                if revealed and not notification.revealed and notification.status != Notification.Status.SENT:
                    notification.revealed = True
                    notification.save(update_fields=["revealed"])
                continue
            created.append(
                Notification(
                    warrant=warrant,
                    account_id=account_id,
                    target=Disclosure.Role.TARGET in person["roles"],
                    revealed=revealed,
                    disclosed_at=person["first"],
                    due_at=person["first"] + delay,
                    status=Notification.Status.PENDING if emails[account_id] else Notification.Status.NEEDS_LETTER,
                    channel=Notification.Channel.EMAIL if emails[account_id] else Notification.Channel.LETTER,
                    message_id=new_message_id(),
                )
            )
        Notification.objects.bulk_create(created)
        if created:
            audit_record(
                action=AuditAction.NOTIFICATION_PLANNED,
                actor_label="system",
                warrant=warrant,
                details={
                    "notifications": len(created),
                    "letters": sum(n.status == Notification.Status.NEEDS_LETTER for n in created),
                    "accounts": [n.account_id for n in created],
                },
            )
    return created


# --- people's actions ------------------------------------------------------------------------------


def can_manage(user, warrant: Warrant) -> bool:
    """The legal team of the case: every officer assigned to it."""
    return can_view(user, warrant)


@transaction.atomic(durable=True)
def notification_defer(*, notification: Notification, actor, until: dt.datetime, justification: str) -> Notification:
    """Hold a notice back until ``until`` (a reviewer of the case, with a written reason).

    The reason stays on the row, not in the audit entry: it may describe the person.
    """
    if not can(actor, REVIEW, notification.warrant):
        raise PermissionDenied(_("Only a reviewer assigned to this warrant may defer a notification."))
    justification = justification.strip()
    if not justification:
        raise DomainError(_("Please give a justification."), code="justification_required")
    if until <= timezone.now():
        raise DomainError(_("The deferral must end in the future."), code="until_past")
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.status not in {
        Notification.Status.PENDING,
        Notification.Status.DEFERRED,
        Notification.Status.FAILED,
        Notification.Status.NEEDS_LETTER,
    }:
        raise Conflict(_("This notification can no longer be deferred."), code="not_deferrable")
    notification.status = Notification.Status.DEFERRED
    notification.deferred_until, notification.defer_justification = until, justification
    notification.deferred_by = actor
    notification.next_attempt_at = None
    notification.save(
        update_fields=["status", "deferred_until", "defer_justification", "deferred_by", "next_attempt_at"]
    )
    audit_record(
        action=AuditAction.NOTIFICATION_DEFERRED,
        actor=actor,
        warrant=notification.warrant,
        obj=notification,
        details={"notification": notification.pk, "until": until.isoformat()},
    )
    return notification


def letter_may_be_posted(notification: Notification, now: dt.datetime | None = None) -> bool:
    """A paper letter may be posted (and so marked posted) only once its notice is due.

    The delay after the disclosure, and a reviewer's deferral, hold the notice back for a reason (an
    investigation that telling the person would compromise): a letter posted early breaks that rule
    just as an e-mail sent early would, so there is no "post it anyway"."""
    return notification.status == Notification.Status.NEEDS_LETTER and notification.effective_due_at <= (
        now or timezone.now()
    )


@transaction.atomic(durable=True)
def notification_mark_sent(*, notification: Notification, actor) -> Notification:
    """The legal team confirms an unconfirmed e-mail (found in the mail log) or a posted letter.

    A letter is refused before its notice is due (``letter_may_be_posted``). Posting a letter counts
    as its attempt; an unconfirmed e-mail's attempt was counted when it was claimed."""
    if not can_manage(actor, notification.warrant):
        raise PermissionDenied(_("You do not have permission to do this."))
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.status not in {Notification.Status.SENDING, Notification.Status.NEEDS_LETTER}:
        raise Conflict(
            _("Only an unconfirmed e-mail or a paper letter can be marked as sent by hand."), code="not_confirmable"
        )
    if notification.status == Notification.Status.NEEDS_LETTER and not letter_may_be_posted(notification):
        raise Conflict(
            _("This letter is not due before %(date)s: it may not be posted earlier.")
            % {"date": timezone.localtime(notification.effective_due_at).date().isoformat()},
            code="letter_not_due",
        )
    previous = notification.status
    notification.status, notification.sent_at = Notification.Status.SENT, timezone.now()
    fields = ["status", "sent_at"]
    if previous == Notification.Status.NEEDS_LETTER:
        notification.attempts += 1
        fields.append("attempts")
    notification.save(update_fields=fields)
    audit_record(
        action=AuditAction.NOTIFICATION_CONFIRMED,
        actor=actor,
        warrant=notification.warrant,
        obj=notification,
        details={"notification": notification.pk, "was": previous, "channel": notification.channel},
    )
    _warrant_notifying(notification.warrant_id)
    warrants_close_settled(warrant_id=notification.warrant_id)
    return notification


@transaction.atomic(durable=True)
def notification_requeue(*, notification: Notification, actor) -> Notification:
    """Send again: an unconfirmed e-mail not found in the mail log, or a notice that was given up."""
    if not can_manage(actor, notification.warrant):
        raise PermissionDenied(_("You do not have permission to do this."))
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if not (notification.status == Notification.Status.SENDING or notification.gave_up):
        raise Conflict(_("Only an unconfirmed or abandoned notification can be re-queued."), code="not_requeueable")
    previous = notification.status
    notification.status, notification.claim, notification.next_attempt_at = Notification.Status.PENDING, "", None
    notification.attempts = 0 if notification.gave_up else notification.attempts
    notification.save(update_fields=["status", "claim", "next_attempt_at", "attempts"])
    audit_record(
        action=AuditAction.NOTIFICATION_REQUEUED,
        actor=actor,
        warrant=notification.warrant,
        obj=notification,
        details={"notification": notification.pk, "was": previous},
    )
    return notification


@transaction.atomic(durable=True)
def notification_to_letter(*, notification: Notification, actor) -> Notification:
    """Tell the person by post instead: an e-mail that was given up (the address bounces, the domain is
    gone). The notice is then listed for a paper letter; no further e-mail is tried, so none can
    arrive after the letter."""
    if not can_manage(actor, notification.warrant):
        raise PermissionDenied(_("You do not have permission to do this."))
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if not notification.gave_up:
        raise Conflict(_("Only an e-mail that was given up can be switched to a paper letter."), code="not_switchable")
    notification.status, notification.channel = Notification.Status.NEEDS_LETTER, Notification.Channel.LETTER
    notification.claim, notification.next_attempt_at = "", None
    notification.save(update_fields=["status", "channel", "claim", "next_attempt_at"])
    audit_record(
        action=AuditAction.NOTIFICATION_TO_LETTER,
        actor=actor,
        warrant=notification.warrant,
        obj=notification,
        details={"notification": notification.pk, "attempts": notification.attempts},
    )
    return notification


@transaction.atomic(durable=True)
def letter_open(*, notification: Notification, actor) -> bytes:
    """The PDF letter for the legal team to print; audited."""
    if not can_manage(actor, notification.warrant):
        raise PermissionDenied(_("You do not have permission to do this."))
    audit_record(
        action=AuditAction.NOTIFICATION_LETTER,
        actor=actor,
        warrant=notification.warrant,
        obj=notification,
        details={"notification": notification.pk},
    )
    return render_letter(notification)


# --- sending ---------------------------------------------------------------------------------------


@dataclass
class SendResult:
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


def _candidates(now: dt.datetime, batch: int) -> list[Notification]:
    """The next ``batch`` due notices (accounts without an address are moved to paper letters first)."""
    with transaction.atomic(durable=True):
        Notification.objects.filter(_due_q(now), account__email="").update(
            status=Notification.Status.NEEDS_LETTER, channel=Notification.Channel.LETTER, next_attempt_at=None
        )
    return list(
        Notification.objects.filter(_due_q(now))
        .select_related("warrant__agency", "account")
        .order_by("due_at", "pk")[:batch]
    )


def _claim(group: list[Notification], now: dt.datetime) -> list[Notification]:
    """Step 1: switch a group of due rows to SENDING under one fresh claim token, in one transaction
    committed before any of them is sent; returns the rows this worker now holds.

    A conditional update (still due, by id): rows another worker (or a deferral) got first are
    skipped. The claim counts the attempt (``attempts + 1``): a message handed to the server counts
    whether it was accepted, refused or left unconfirmed. The returned objects keep the status and
    attempts they had before the claim (``_release`` restores both for messages never handed over).
    """
    token = secrets.token_hex(16)
    ids = [notification.pk for notification in group]
    with transaction.atomic(durable=True):
        Notification.objects.filter(_due_q(now), pk__in=ids).update(
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
    """Step 3 for the messages the server accepted: their rows become ``SENT`` together, in one
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


def _warrant_notifying(warrant_id: int) -> None:
    """A delivered warrant whose first notice went out is now in the notifying stage."""
    from requests_app.services import warrant_move

    with transaction.atomic():
        warrant = Warrant.objects.select_for_update().get(pk=warrant_id)
        if warrant.status == Status.DELIVERED:
            warrant_move(warrant=warrant, to=Status.NOTIFYING, actor=None, note="", system=True)


# --- closing ---------------------------------------------------------------------------------------

# A follow-up request still being handled may reveal more people (and so owe more notices).
OPEN_FOLLOW_UPS = ("RECEIVED", "IN_REVIEW", "DECIDED")


def _settled_q() -> Q:
    """Warrants whose every notice is settled: at least one notification, all of them ``SENT`` (an
    e-mail the server accepted, or one the team confirmed from the mail log, or a posted letter), and
    no follow-up request still open. Anything else is still owed: PENDING, DEFERRED, SENDING
    (unconfirmed), FAILED (a retry due, or given up: the person was never told; the team re-queues
    it), NEEDS_LETTER."""
    owed = Notification.objects.filter(warrant=OuterRef("pk")).exclude(status=Notification.Status.SENT)
    return Q(Exists(_planned())) & ~Q(Exists(owed)) & ~Q(Exists(_open_follow_ups()))


def _nobody_to_notify_q() -> Q:
    """Warrants with no notice planned at all (no target matched an account, no one was revealed) and
    no follow-up request still open, which could yet reveal someone."""
    return ~Q(Exists(_planned())) & ~Q(Exists(_open_follow_ups()))


def _planned() -> QuerySet[Notification]:
    return Notification.objects.filter(warrant=OuterRef("pk"))


def _open_follow_ups() -> QuerySet:
    from requests_app.models import FollowUpRequest

    return FollowUpRequest.objects.filter(warrant=OuterRef("pk"), status__in=OPEN_FOLLOW_UPS)


def warrants_close_settled(*, warrant_id: int | None = None, now: dt.datetime | None = None) -> list[str]:
    """Close every notifying warrant (or just ``warrant_id``) whose notices are all settled, and every
    delivered warrant with nobody to notify (no notice planned: no target matched an account and no
    one was revealed) once its notices would have been due.

    A SYSTEM move through ``warrant_move`` (status history event + audit entry), made at the end of
    every send run and when the team marks a notice sent by hand. Returns the references closed.
    """
    from requests_app.services import warrant_move

    now = now or timezone.now()
    candidates = Warrant.objects.filter(_settled_q(), status=Status.NOTIFYING)
    unnotified = Warrant.objects.filter(_nobody_to_notify_q(), status=Status.DELIVERED)
    if warrant_id is not None:
        candidates, unnotified = candidates.filter(pk=warrant_id), unnotified.filter(pk=warrant_id)
    closed = []
    for pk in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            # Checked again under the warrant's lock: a delivery planning new notices holds it too.
            warrant = Warrant.objects.select_for_update().filter(pk=pk, status=Status.NOTIFYING).first()
            if warrant is None or not Warrant.objects.filter(_settled_q(), pk=pk).exists():
                continue
            warrant_move(warrant=warrant, to=Status.CLOSED, actor=None, note="", system=True)
            closed.append(warrant.reference)
    delivered = unnotified.annotate(first_delivery=Min("exports__deliveries__delivered_at"))
    for found in delivered.filter(first_delivery__isnull=False):
        if found.first_delivery + _delay(found) > now:
            continue
        with transaction.atomic():
            # Checked again under the warrant's lock, as above.
            warrant = Warrant.objects.select_for_update().filter(pk=found.pk, status=Status.DELIVERED).first()
            if warrant is None or not Warrant.objects.filter(_nobody_to_notify_q(), pk=warrant.pk).exists():
                continue
            note = gettext_noop("No one to notify: no target matched an account and no one was revealed.")
            warrant = warrant_move(warrant=warrant, to=Status.NOTIFYING, actor=None, note=note, system=True)
            warrant_move(warrant=warrant, to=Status.CLOSED, actor=None, note=note, system=True)
            closed.append(warrant.reference)
    return closed


# --- sending ---------------------------------------------------------------------------------------


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
    """Step 2 for one claimed group, over the open connection; False when the connection broke.

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
        renderer = NoticeRenderer(_disclosure_rows(candidates))
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
        _warrant_notifying(warrant_id)
    return result


# --- selectors -------------------------------------------------------------------------------------


def overdue_q(now: dt.datetime) -> Q:
    """Notifications owed and past their due date (a deferral that has ended counts from its end)."""
    return ~Q(status=Notification.Status.SENT) & (
        Q(~Q(status=Notification.Status.DEFERRED), due_at__lt=now)
        | Q(status=Notification.Status.DEFERRED, deferred_until__lt=now, due_at__lt=now)
    )


def overdue_count(*, user, now: dt.datetime | None = None) -> int:
    """How many notifications of the user's cases are overdue (for the dashboard's warning)."""
    return notifications_visible_to(user=user).filter(overdue_q(now or timezone.now())).count()


def notifications_visible_to(*, user) -> QuerySet[Notification]:
    from requests_app.selectors import warrant_list_visible_to

    return Notification.objects.filter(warrant__in=warrant_list_visible_to(user=user).values("pk")).select_related(
        "warrant", "account"
    )


def notification_get_visible(*, user, pk) -> Notification | None:
    if parse_id(pk) is None:
        return None
    try:
        return notifications_visible_to(user=user).select_related("warrant__agency").get(pk=pk)
    except (Notification.DoesNotExist, ValueError, TypeError):
        return None
