"""The legal team's actions on one notice, each checked, locked, saved and audited in one transaction.

A reviewer of the case defers a notice (``notification_defer``: the justification stays on the row,
never in the audit entry, since it may describe the person). The team assigned to the case
(``can_manage``) marks an unconfirmed e-mail or a posted letter sent (``notification_mark_sent``,
which may close the warrant), re-queues an unconfirmed or given-up e-mail with its same Message-ID
(``notification_requeue``), switches a given-up e-mail to a paper letter (``notification_to_letter``)
and opens the PDF letter to print (``letter_open``). Audit entries name notifications by id and
accounts by pk only, never a name, phone number or e-mail address.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from requests_app.models import Warrant
from requests_app.permissions import can, can_view
from requests_app.workflow import REVIEW
from warrantdesk.audit import audit_record
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction

from ..models import Notification
from .lifecycle import warrant_mark_notifying, warrants_close_settled
from .messages import render_letter
from .planning import letter_may_be_posted


def can_manage(user, warrant: Warrant) -> bool:
    """The legal team of the case: every officer assigned to it."""
    return can_view(user, warrant)


@transaction.atomic(durable=True)
def notification_defer(
    *, notification: Notification, actor: User, until: dt.datetime, justification: str
) -> Notification:
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


@transaction.atomic(durable=True)
def notification_mark_sent(*, notification: Notification, actor: User) -> Notification:
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
    warrant_mark_notifying(warrant_id=notification.warrant_id)
    warrants_close_settled(warrant_id=notification.warrant_id)
    return notification


@transaction.atomic(durable=True)
def notification_requeue(*, notification: Notification, actor: User) -> Notification:
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
def notification_to_letter(*, notification: Notification, actor: User) -> Notification:
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
def letter_open(*, notification: Notification, actor: User) -> bytes:
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
