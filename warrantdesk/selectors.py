import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from .models import AuditEntry


def audit_entries_filtered(
    *,
    actor: str = "",
    action: str = "",
    warrant_ref: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.order_by("-seq")
    if actor:
        entries = entries.filter(actor_label__iexact=actor)
    if action:
        entries = entries.filter(action=action)
    if warrant_ref:
        entries = entries.filter(warrant_ref__iexact=warrant_ref)
    if since:
        entries = entries.filter(at__gte=timezone.make_aware(dt.datetime.combine(since, dt.time.min)))
    if until:
        entries = entries.filter(at__lte=timezone.make_aware(dt.datetime.combine(until, dt.time.max)))
    return entries
