"""Working hours, for the auditor's "after-hours activity" (the audit log filter and the dashboard).

Configured in settings (all optional):
``WARRANTDESK_WORKING_HOURS`` ``(start_hour, end_hour)``, default ``(9, 18)``: an action at 09:00-17:59 is
in hours; ``WARRANTDESK_WORKING_DAYS`` ISO weekdays, default ``(1, 2, 3, 4, 5)`` (Monday to Friday);
``WARRANTDESK_WORKING_TIMEZONE``, default the site's ``TIME_ZONE``. The hour and weekday are taken in
the database (``Extract`` with the zone), so the filter pages like any other.
"""

import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay


@dataclass(frozen=True)
class WorkingHours:
    start: int
    end: int
    days: tuple[int, ...]
    zone: zoneinfo.ZoneInfo


def working_hours() -> WorkingHours:
    start, end = getattr(settings, "WARRANTDESK_WORKING_HOURS", (9, 18))
    days = tuple(getattr(settings, "WARRANTDESK_WORKING_DAYS", (1, 2, 3, 4, 5)))
    zone = zoneinfo.ZoneInfo(getattr(settings, "WARRANTDESK_WORKING_TIMEZONE", settings.TIME_ZONE))
    if not (0 <= int(start) < int(end) <= 24) or not set(days) <= set(range(1, 8)):
        raise ValueError("WARRANTDESK_WORKING_HOURS must be (start, end) with 0 <= start < end <= 24, days 1-7")
    return WorkingHours(int(start), int(end), days, zone)


def after_hours(queryset: QuerySet, *, field: str = "at") -> QuerySet:
    """The rows whose ``field`` falls outside the working hours or on a day off (in the working zone)."""
    hours = working_hours()
    annotated = queryset.annotate(
        _local_hour=ExtractHour(field, tzinfo=hours.zone), _local_day=ExtractIsoWeekDay(field, tzinfo=hours.zone)
    )
    in_hours = Q(_local_hour__gte=hours.start, _local_hour__lt=hours.end, _local_day__in=hours.days)
    return annotated.exclude(in_hours)
