"""The warrant's last two stages, as its notices go out: NOTIFYING, then CLOSED.

A delivered warrant whose first notice went out moves to ``NOTIFYING`` (``warrant_mark_notifying``).
When every notification of a notifying warrant is ``SENT`` (an e-mail accepted or confirmed from the
mail log, a letter marked posted) and no follow-up request of it is still open (received, in review,
or decided but not yet disclosed), ``warrants_close_settled`` moves the warrant to ``CLOSED`` (a
SYSTEM move: status history event and audit entry), at the end of every send run and when the team
marks a notice sent; a delivered warrant with nobody to notify (no target matched an account, no one
revealed) closes the same way once its notices would have been due. PENDING, DEFERRED, SENDING,
FAILED (a retry due, or given up: the person was never told; the team re-queues it or switches it to
a paper letter) and NEEDS_LETTER keep it open. There is no follow-up window in the workflow: a
follow-up request may still arrive for a closed warrant, and the people it reveals are notified all
the same (sending does not look at the warrant's status).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from requests_app.models import FollowUpRequest, Warrant
from requests_app.services import warrant_move
from requests_app.workflow import Status

from ..models import Notification
from .planning import notice_delay

# A follow-up request still being handled may reveal more people (and so owe more notices).
OPEN_FOLLOW_UPS = ("RECEIVED", "IN_REVIEW", "DECIDED")


def warrant_mark_notifying(*, warrant_id: int) -> None:
    """A delivered warrant whose first notice went out is now in the notifying stage (a SYSTEM move;
    a warrant in any other status is left as it is)."""
    with transaction.atomic():
        warrant = Warrant.objects.select_for_update().get(pk=warrant_id)
        if warrant.status == Status.DELIVERED:
            warrant_move(warrant=warrant, to=Status.NOTIFYING, actor=None, note="", system=True)


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


def _open_follow_ups() -> QuerySet[FollowUpRequest]:
    return FollowUpRequest.objects.filter(warrant=OuterRef("pk"), status__in=OPEN_FOLLOW_UPS)


def warrants_close_settled(*, warrant_id: int | None = None, now: dt.datetime | None = None) -> list[str]:
    """Close every notifying warrant (or just ``warrant_id``) whose notices are all settled, and every
    delivered warrant with nobody to notify (no notice planned: no target matched an account and no
    one was revealed) once its notices would have been due.

    A SYSTEM move through ``warrant_move`` (status history event + audit entry), made at the end of
    every send run and when the team marks a notice sent by hand. Returns the references closed.
    """
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
        if found.first_delivery + notice_delay(found) > now:
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
