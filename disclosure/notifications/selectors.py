"""Reading notifications for the pages: what a user may see, and what is overdue.

Every list starts from the warrants the user may see (``requests_app.selectors``), so a page or a
count never reaches the notices of another case.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from requests_app.selectors import warrant_list_visible_to
from warrantdesk.params import parse_id

from ..models import Notification


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
    """The notifications of the warrants ``user`` may see, with their warrant and account."""
    return Notification.objects.filter(warrant__in=warrant_list_visible_to(user=user).values("pk")).select_related(
        "warrant", "account"
    )


def notification_get_visible(*, user, pk) -> Notification | None:
    """One notification ``user`` may see, or None (also for a malformed ``pk``)."""
    if parse_id(pk) is None:
        return None
    try:
        return notifications_visible_to(user=user).select_related("warrant__agency").get(pk=pk)
    except (Notification.DoesNotExist, ValueError, TypeError):
        return None
