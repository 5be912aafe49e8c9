"""Preservation holds as the legal team sees them: a panel on the warrant page and a list of them all."""

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from requests_app import selectors
from requests_app.page_hooks import Panel

from . import retention
from .models import PreservationHold


@dataclass(frozen=True)
class HoldView:
    """A hold with what the pages say of it: active or not, and until when."""

    hold: PreservationHold
    active: bool
    until: dt.datetime | None  # None while the warrant is open (or the hold released)

    @classmethod
    def of(cls, hold: PreservationHold) -> "HoldView":
        until = retention.hold_active_until(hold)
        active = hold.released_at is None and (until is None or until > timezone.now())
        return cls(hold=hold, active=active, until=until)


def hold_panel(request: HttpRequest, warrant) -> Panel:
    """The preservation hold panel of the warrant page (also when the warrant has none: it says so)."""
    hold = PreservationHold.objects.filter(warrant=warrant).prefetch_related("ranges__room").first()
    return Panel(
        "disclosure/_hold_panel.html",
        {
            "warrant": warrant,
            "item": HoldView.of(hold) if hold else None,
            "ranges": list(hold.ranges.all().order_by("room__external_id", "start")) if hold else [],
            "retention_days": retention.retention().days,
        },
    )


@require_GET
def hold_list(request: HttpRequest) -> HttpResponse:
    """Every preservation hold of the user's cases (only warrants the user may see), active first."""
    visible = selectors.warrant_list_visible_to(user=request.user)
    holds = (
        PreservationHold.objects.filter(warrant__in=visible.values("pk"))
        .select_related("warrant", "warrant__agency")
        .annotate(
            released=Case(When(released_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        .order_by("released", "-placed_at", "-pk")
    )
    page = Paginator(holds, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "disclosure/hold_list.html",
        {
            "page": page,
            "items": [HoldView.of(hold) for hold in page.object_list],
            "retention_days": retention.retention().days,
        },
    )
