"""What the auditor reads: figures over every case (auditors are assigned none, and read all of them)
about the process only. Nothing here returns a message, an account, a pseudonym or an address:
accounts are counted, never listed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from disclosure.models import Disclosure, Export, Notification, PreservationHold
from disclosure.notifications.selectors import overdue_q
from requests_app.models import FollowUpToken, SignatureCheck, SignatureOutcome, Warrant
from warrantdesk.models import AuditEntry
from warrantdesk.working_hours import after_hours

AUDIT_PERMISSION = "warrantdesk.view_auditentry"


def is_auditor(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm(AUDIT_PERMISSION))


def _day_bounds(since: dt.date | None, until: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min)) if since else None
    end = timezone.make_aware(dt.datetime.combine(until, dt.time.max)) if until else None
    return start, end


def _within(queryset: QuerySet, field: str, start, end) -> QuerySet:
    if start:
        queryset = queryset.filter(**{f"{field}__gte": start})
    if end:
        queryset = queryset.filter(**{f"{field}__lte": end})
    return queryset


def deferral_warning_days() -> int:
    return int(getattr(settings, "WARRANTDESK_DEFERRAL_WARNING_DAYS", 14))


@dataclass
class Dashboard:
    approval_pairs: list[dict]
    reveals: list[dict]
    deferrals_ending: list[dict]
    overdue: list[dict]
    signature_failures: list[dict]
    after_hours: list[dict]
    warning_days: int


def dashboard(*, since: dt.date | None = None, until: dt.date | None = None, now: dt.datetime | None = None):
    """The figures an auditor looks at first. ``since``/``until`` bound the period of the approvals,
    reveals, signature failures and after-hours actions; deferrals and overdue notices are as of ``now``."""
    now = now or timezone.now()
    start, end = _day_bounds(since, until)
    warning_days = deferral_warning_days()
    return Dashboard(
        approval_pairs=approval_pairs(start, end),
        reveals=reveals_per_warrant(start, end),
        deferrals_ending=deferrals_ending(now, days=warning_days),
        overdue=overdue_per_warrant(now),
        signature_failures=signature_failures_by_agency(start, end),
        after_hours=after_hours_by_actor(start, end),
        warning_days=warning_days,
    )


def approval_pairs(start=None, end=None) -> list[dict]:
    """Warrants approved, counted by (officer who logged it, officer who approved it): the same pair
    approving again and again is what the four-eyes rule is meant to prevent."""
    approved = _within(Warrant.objects.filter(approved_by__isnull=False), "approved_at", start, end)
    rows = (
        approved.values("created_by__username", "approved_by__username")
        .annotate(count=Count("pk"), last=Max("approved_at"))
        .order_by("-count", "created_by__username", "approved_by__username")
    )
    return [
        {
            "registered_by": row["created_by__username"],
            "approved_by": row["approved_by__username"],
            "count": row["count"],
            "last": row["last"],
        }
        for row in rows
    ]


def reveals_per_warrant(start=None, end=None) -> list[dict]:
    """Per warrant: pseudonyms asked for on follow-up requests, approved and refused, and the people
    whose identity was revealed (counted, never named)."""
    tokens = _within(FollowUpToken.objects.all(), "request__received_at", start, end)
    asked = tokens.values("request__warrant__reference").annotate(
        asked=Count("pk"),
        approved=Count("pk", filter=Q(decision=FollowUpToken.Decision.APPROVED)),
        refused=Count("pk", filter=Q(decision=FollowUpToken.Decision.REFUSED)),
        requests=Count("request", distinct=True),
    )
    revealed = _within(Disclosure.objects.filter(role=Disclosure.Role.REVEALED), "export__requested_at", start, end)
    people = dict(
        revealed.values("export__warrant__reference")
        .annotate(people=Count("account", distinct=True))
        .values_list("export__warrant__reference", "people")
    )
    rows = {
        row["request__warrant__reference"]: {
            "warrant": row["request__warrant__reference"],
            "requests": row["requests"],
            "asked": row["asked"],
            "approved": row["approved"],
            "refused": row["refused"],
            "revealed": 0,
        }
        for row in asked
    }
    for reference, count in people.items():
        rows.setdefault(
            reference, {"warrant": reference, "requests": 0, "asked": 0, "approved": 0, "refused": 0, "revealed": 0}
        )["revealed"] = count
    return sorted(rows.values(), key=lambda row: (-row["revealed"], -row["approved"], row["warrant"]))


def deferrals_ending(now: dt.datetime, *, days: int) -> list[dict]:
    """Deferred notices whose deferral ends within ``days``: the notice (or a new deferral) is due soon."""
    ending = Notification.objects.filter(
        status=Notification.Status.DEFERRED, deferred_until__gte=now, deferred_until__lte=now + dt.timedelta(days=days)
    )
    rows = (
        ending.values("warrant__reference", "deferred_by__username")
        .annotate(count=Count("pk"), first_end=Min("deferred_until"))
        .order_by("first_end", "warrant__reference")
    )
    return [
        {
            "warrant": row["warrant__reference"],
            "deferred_by": row["deferred_by__username"] or "",
            "count": row["count"],
            "ends": row["first_end"],
            "days_left": max(0, (row["first_end"] - now).days),
        }
        for row in rows
    ]


def overdue_per_warrant(now: dt.datetime) -> list[dict]:
    rows = (
        Notification.objects.filter(overdue_q(now))
        .values("warrant__reference")
        .annotate(count=Count("pk"), oldest=Min("due_at"))
        .order_by("oldest", "warrant__reference")
    )
    return [
        {
            "warrant": row["warrant__reference"],
            "count": row["count"],
            "oldest_due": row["oldest"],
            "days_late": (now - row["oldest"]).days,
        }
        for row in rows
    ]


def signature_failures_by_agency(start=None, end=None) -> list[dict]:
    """Failed signature checks (warrants and follow-up requests), by agency and outcome."""
    failed = SignatureCheck.objects.exclude(outcome__in=[SignatureOutcome.VALID, SignatureOutcome.PENDING])
    rows = (
        _within(failed, "checked_at", start, end)
        .values("document__warrant__agency__name", "outcome")
        .annotate(count=Count("pk"), warrants=Count("document__warrant", distinct=True))
        .order_by("document__warrant__agency__name", "-count", "outcome")
    )
    labels = dict(SignatureOutcome.choices)
    return [
        {
            "agency": row["document__warrant__agency__name"],
            "outcome": row["outcome"],
            "outcome_label": labels.get(row["outcome"], row["outcome"]),
            "count": row["count"],
            "warrants": row["warrants"],
        }
        for row in rows
    ]


def after_hours_by_actor(start=None, end=None) -> list[dict]:
    """Actions by people (not the system) outside working hours or on days off, by actor."""
    entries = _within(AuditEntry.objects.exclude(actor_label=""), "at", start, end)
    rows = (
        after_hours(entries)
        .values("actor_label")
        .annotate(count=Count("pk"), first=Min("at"), last=Max("at"))
        .order_by("-count", "actor_label")
    )
    return [
        {"actor": row["actor_label"], "count": row["count"], "first": row["first"], "last": row["last"]} for row in rows
    ]


# --- one case ------------------------------------------------------------------------------------


def case_process(*, warrant: Warrant) -> dict:
    """The process facts of one case that live outside the audit log: signature verdicts, exports
    with their kept manifests, reveal decisions, notices and holds, all counted or dated, none named."""
    roles = dict(Disclosure.Role.choices)
    decisions = dict(FollowUpToken.Decision.choices)
    statuses = dict(Notification.Status.choices)
    exports = []
    for export in Export.objects.filter(warrant=warrant).order_by("requested_at", "pk"):
        exports.append(
            {
                "export": export,
                "people": [
                    (roles.get(role, role), count)
                    for role, count in export.disclosures.values("role")
                    .annotate(n=Count("account", distinct=True))
                    .order_by("role")
                    .values_list("role", "n")
                ],
                "manifest": export.manifest,
            }
        )
    tokens = FollowUpToken.objects.filter(request__warrant=warrant)
    notifications = Notification.objects.filter(warrant=warrant)
    return {
        "signature_checks": SignatureCheck.objects.filter(document__warrant=warrant)
        .select_related("document", "checked_by")
        .order_by("-checked_at", "-pk"),
        "exports": exports,
        "reveal_decisions": [
            {**row, "label": decisions.get(row["decision"], row["decision"])}
            for row in tokens.values("request__reference", "decision")
            .annotate(n=Count("pk"))
            .order_by("request__reference", "decision")
        ],
        "notification_counts": [
            {**row, "label": statuses.get(row["status"], row["status"])}
            for row in notifications.values("status").annotate(n=Count("pk")).order_by("status")
        ],
        "deferrals": notifications.filter(deferred_until__isnull=False)
        .select_related("deferred_by")
        .order_by("deferred_until", "pk"),
        "overdue_notices": notifications.filter(overdue_q(timezone.now())).count(),
        "hold": PreservationHold.objects.filter(warrant=warrant).first(),
    }
