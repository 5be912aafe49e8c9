import csv
import json

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from warrantdesk.access import deny

from . import audit, selectors
from .filters import AuditFilterForm
from .models import AuditAction, AuditEntry
from .params import bind_filters, filtered_by
from .roles import Role, user_roles

AUDIT_PERMISSION = "warrantdesk.view_auditentry"


def _auditor_only(request: HttpRequest) -> None:
    if not request.user.has_perm(AUDIT_PERMISSION):
        raise deny(request.user, object_type="audit", object_id="", path=request.path)


def home(request: HttpRequest) -> HttpResponse:
    """Where signing in lands: the audit log for an auditor (who is assigned no case), else the warrants."""
    roles = user_roles(request.user)
    if Role.AUDITOR in roles and not roles & {Role.INTAKE_OFFICER, Role.REVIEWER, Role.ADMINISTRATOR}:
        return redirect("audit-log")
    return redirect("requests_app:warrant-list")


@filtered_by(AuditFilterForm)
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    _auditor_only(request)
    return _audit_log_page(request, bind_filters(AuditFilterForm, request.GET))


def _audit_log_page(request: HttpRequest, form: AuditFilterForm) -> HttpResponse:
    """The log filtered by ``form``; when the filters are invalid, their errors and no entry (400)."""
    if form.is_valid():
        entries = selectors.audit_entries_filtered(**form.filters()).select_related("actor")
        page = Paginator(entries, 100).get_page(form.cleaned_data["page"])
    else:
        page = Paginator(AuditEntry.objects.none(), 100).get_page(1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "warrantdesk/audit_log.html",
        {
            "page": page,
            "filter_form": form,
            "actions": AuditAction.choices,
            "filters": request.GET,
            "query": query.urlencode(),
        },
        status=200 if form.is_valid() else 400,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@filtered_by(AuditFilterForm)
@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    _auditor_only(request)
    form = bind_filters(AuditFilterForm, request.GET)
    if not form.is_valid():  # nothing is exported: the log page says what is wrong with the filters
        return _audit_log_page(request, form)
    filters = form.filters()
    audit.audit_record(
        action=AuditAction.AUDIT_EXPORTED,
        actor=request.user,
        details={key: str(value) for key, value in filters.items() if value},
    )
    entries = selectors.audit_entries_filtered(**filters).order_by("seq")
    writer = csv.writer(_Echo())
    header = [
        "seq",
        "at",
        "actor",
        "action",
        "warrant",
        "object_type",
        "object_id",
        "ip",
        "details",
        "prev_hash",
        "hash",
    ]

    def rows():
        yield writer.writerow(header)
        for entry in entries.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    entry.seq,
                    entry.at.isoformat(),
                    entry.actor_label,
                    entry.action,
                    entry.warrant_ref,
                    entry.object_type,
                    entry.object_id,
                    entry.ip or "",
                    json.dumps(entry.details, ensure_ascii=False, sort_keys=True),
                    entry.prev_hash,
                    entry.hash,
                ]
            )

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    _auditor_only(request)
    report = audit.verify_chain()
    audit.audit_record(
        action=AuditAction.AUDIT_VERIFIED,
        actor=request.user,
        details={"ok": report.ok, "count": report.count, "problem": report.problem.kind if report.problem else ""},
    )
    return render(request, "warrantdesk/audit_verify.html", {"report": report})
