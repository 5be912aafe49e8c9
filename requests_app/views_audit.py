"""The auditor's read-only view of one case: its process, never its content.

Reached from a warrant reference in the audit log. It shows what an auditor needs to check that the
process was followed (the warrant's registry facts, its status history and its audit timeline) and
nothing that names a person or leads to one: no target, no free-text notes of the warrant, no room,
no document (file names can carry names) and no package or download link. The status history notes
and the timeline's details are shown as the audit log itself shows them to auditors.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from warrantdesk.access import deny
from warrantdesk.models import AuditEntry

from . import selectors

TIMELINE_LIMIT = 500


@require_GET
def audit_case(request: HttpRequest, reference: str) -> HttpResponse:
    warrant = selectors.warrant_for_audit(user=request.user, reference=reference)
    if warrant is None:
        raise deny(request.user, object_type="audit-case", object_id=reference[:40], path=request.path)
    entries = AuditEntry.objects.filter(warrant_ref=warrant.reference).select_related("actor").order_by("-seq")
    return render(
        request,
        "warrantdesk/audit_case.html",
        {
            "warrant": warrant,
            "target_count": warrant.targets.count(),
            "events": warrant.events.select_related("actor"),
            "follow_ups": warrant.follow_ups.order_by("received_at", "pk"),
            "timeline": entries[:TIMELINE_LIMIT],
            "timeline_count": entries.count(),
            "timeline_limit": TIMELINE_LIMIT,
        },
    )
