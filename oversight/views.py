"""The auditor's workspace: read-only pages over every case, about the process and never its content.

Auditors are assigned no case; they read every case's history (who did what, when, with which verdict)
and no target, message, identity, address, document or package. Every view here is GET only, and
answers 404 (recorded) to anyone without the audit permission, as the audit log does.
"""

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from requests_app.selectors import warrant_for_audit
from warrantdesk.access import deny
from warrantdesk.models import AuditEntry
from warrantdesk.params import bind_filters, filtered_by
from warrantdesk.working_hours import working_hours

from . import selectors
from .forms import DashboardFilterForm

TIMELINE_LIMIT = 500


def _auditor_only(request: HttpRequest, *, object_type: str = "audit", object_id: str = "") -> None:
    if not selectors.is_auditor(request.user):
        raise deny(request.user, object_type=object_type, object_id=object_id, path=request.path)


@require_GET
def audit_case(request: HttpRequest, reference: str) -> HttpResponse:
    """One case's process: registry facts, status history, signature verdicts, exports with their kept
    manifests (never the package), reveal decisions (never the identities), notices and deferrals
    (never the addresses), the preservation hold, and its audit timeline."""
    warrant = warrant_for_audit(user=request.user, reference=reference)
    if warrant is None:
        raise deny(request.user, object_type="audit-case", object_id=reference[:40], path=request.path)
    entries = AuditEntry.objects.filter(warrant_ref=warrant.reference).select_related("actor").order_by("-seq")
    process = selectors.case_process(warrant=warrant)
    for item in process["exports"]:
        item["manifest_text"] = _pretty(item["manifest"])
    return render(
        request,
        "oversight/audit_case.html",
        {
            "warrant": warrant,
            "target_count": warrant.targets.count(),
            "events": warrant.events.select_related("actor"),
            "follow_ups": warrant.follow_ups.order_by("received_at", "pk"),
            "timeline": entries[:TIMELINE_LIMIT],
            "timeline_count": entries.count(),
            "timeline_limit": TIMELINE_LIMIT,
            **process,
        },
    )


def _pretty(manifest: str) -> str:
    if not manifest:
        return ""
    try:
        return json.dumps(json.loads(manifest), ensure_ascii=False, indent=2, sort_keys=True)
    except ValueError:
        return manifest


@filtered_by(DashboardFilterForm)
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    _auditor_only(request)
    form = bind_filters(DashboardFilterForm, request.GET)
    valid = form.is_valid()
    figures = selectors.dashboard(**form.filters()) if valid else None
    hours = working_hours()
    return render(
        request,
        "oversight/dashboard.html",
        {
            "filter_form": form,
            "filters": request.GET,
            "figures": figures,
            "hours": hours,
            "since": form.cleaned_data.get("since") if valid else None,
            "until": form.cleaned_data.get("until") if valid else None,
        },
        status=200 if valid else 400,
    )
