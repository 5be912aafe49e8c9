import datetime as dt
import json
from collections.abc import Iterable

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from .models import AuditAction, AuditEntry
from .working_hours import after_hours as outside_working_hours


def audit_entries_filtered(
    *,
    actor: str = "",
    action: str = "",
    warrant_ref: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    search: str = "",
    actions: Iterable[str] = (),
    after_hours: bool = False,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.order_by("-seq")
    if actor:
        entries = entries.filter(actor_label__iexact=actor)
    if action:
        entries = entries.filter(action=action)
    if actions:
        entries = entries.filter(action__in=list(actions))
    if warrant_ref:
        entries = entries.filter(warrant_ref__iexact=warrant_ref)
    if since:
        entries = entries.filter(at__gte=timezone.make_aware(dt.datetime.combine(since, dt.time.min)))
    if until:
        entries = entries.filter(at__lte=timezone.make_aware(dt.datetime.combine(until, dt.time.max)))
    if search:
        entries = audit_search(entries, search)
    if after_hours:
        entries = outside_working_hours(entries)
    return entries


def audit_search(entries: QuerySet[AuditEntry], text: str) -> QuerySet[AuditEntry]:
    """Full-text search over an entry's action (its code and its label in the reader's language), its
    actor, warrant, object and details, case-insensitively.

    The details are searched as the text the database holds: on SQLite that text escapes non-ASCII
    characters (``\\ud55c``), so a Korean word is looked for both as written and as escaped."""
    spellings = {text, json.dumps(text)[1:-1]}
    details = Cast("details", output_field=TextField())
    query = Q()
    for spelling in spellings:
        query |= Q(_details_text__icontains=spelling)
    query |= (
        Q(action__icontains=text)
        | Q(actor_label__icontains=text)
        | Q(warrant_ref__icontains=text)
        | Q(object_type__icontains=text)
        | Q(object_id__icontains=text)
    )
    labelled = [value for value, label in AuditAction.choices if text.casefold() in str(label).casefold()]
    if labelled:
        query |= Q(action__in=labelled)
    return entries.annotate(_details_text=details).filter(query)
