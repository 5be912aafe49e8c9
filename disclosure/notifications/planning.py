"""Who is notified, and when.

Who. Every target of a delivered export and every non-target whose identity was revealed on a
follow-up request (an identity sheet's REVEALED rows). Pseudonymised non-targets who were never
revealed are not notified unless ``WARRANTDESK_NOTIFY_PSEUDONYMISED`` is on: their identity never left
the operator, and a notice would tell them (and whoever reads their mail) that they were caught up
in an investigation of someone else. One ``Notification`` per (warrant, account), planned by
``notifications_plan`` inside the delivery's transaction, with its Message-ID; a person without an
e-mail address is planned as a paper letter (``NEEDS_LETTER``).

When. ``due_at`` is the first delivery of an export naming the person plus ``notice_delay``
(``WARRANTDESK_NOTIFY_AFTER_DAYS``, ``..._EMERGENCY`` for emergency warrants). A reviewer assigned to
the warrant may defer a notice with a written justification and an end date
(``services.notification_defer``); once the end date has passed the notice is due again
(``due_q``) and the next run sends it. A paper letter may be posted only once it is due
(``letter_may_be_posted``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from requests_app.models import Warrant
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from ..models import Account, Disclosure, Export, Notification
from .messages import new_message_id


def notice_delay(warrant: Warrant) -> dt.timedelta:
    """How long after the first delivery naming a person their notice is due: the warrant's
    ``WARRANTDESK_NOTIFY_AFTER_DAYS`` (``..._EMERGENCY`` for an emergency warrant)."""
    days = (
        settings.WARRANTDESK_NOTIFY_AFTER_DAYS_EMERGENCY
        if warrant.is_emergency
        else settings.WARRANTDESK_NOTIFY_AFTER_DAYS
    )
    return dt.timedelta(days=days)


def due_q(now: dt.datetime) -> Q:
    """Due to be sent: pending and due, deferred with the deferral over, failed with a retry due.

    ``SENDING`` is deliberately absent: a row left in SENDING is never sent again automatically (see
    ``sender``)."""
    return (
        Q(status=Notification.Status.PENDING, due_at__lte=now)
        | Q(status=Notification.Status.DEFERRED, deferred_until__lte=now, due_at__lte=now)
        | Q(status=Notification.Status.FAILED, next_attempt_at__lte=now)
    )


def letter_may_be_posted(notification: Notification, now: dt.datetime | None = None) -> bool:
    """A paper letter may be posted (and so marked posted) only once its notice is due.

    The delay after the disclosure, and a reviewer's deferral, hold the notice back for a reason (an
    investigation that telling the person would compromise): a letter posted early breaks that rule
    just as an e-mail sent early would, so there is no "post it anyway"."""
    return notification.status == Notification.Status.NEEDS_LETTER and notification.effective_due_at <= (
        now or timezone.now()
    )


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
    delay = notice_delay(warrant)
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
