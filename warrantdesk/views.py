import csv
import json

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST, require_safe

from warrantdesk.access import deny

from . import audit, selectors
from .filters import TOPICS, AuditFilterForm
from .models import AuditAction, AuditEntry
from .params import FilterForm, bind_filters, filtered_by
from .roles import Role, user_roles

AUDIT_PERMISSION = "warrantdesk.view_auditentry"


def _auditor_only(request: HttpRequest) -> None:
    if not request.user.has_perm(AUDIT_PERMISSION):
        raise deny(request.user, object_type="audit", object_id="", path=request.path)


@require_safe
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


def _audit_log_page(request: HttpRequest, form: FilterForm) -> HttpResponse:
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
            "topics": [(key, label) for key, (label, _actions) in TOPICS.items()],
            "saved_link": request.build_absolute_uri(f"{request.path}?{query.urlencode()}" if query else request.path),
        },
        status=200 if form.is_valid() else 400,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


AUDIT_EXPORT_FIELDS = [
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


def _export_row(entry: AuditEntry) -> dict:
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor_label,
        "action": entry.action,
        "warrant": entry.warrant_ref,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "ip": entry.ip or "",
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _audit_export(request: HttpRequest, *, kind: str) -> HttpResponse | StreamingHttpResponse:
    """The filtered log as a file (CSV or JSON), oldest first; the download is itself recorded, with
    the filters as the auditor wrote them. What the log holds is already free of content (no message
    text, identity or address: see warrantdesk/audit.py), so the file is too."""
    _auditor_only(request)
    form = bind_filters(AuditFilterForm, request.GET)
    if not form.is_valid():  # nothing is exported: the log page says what is wrong with the filters
        return _audit_log_page(request, form)
    written = {name: str(value) for name, value in form.cleaned_data.items() if value and name != "page"}
    if kind != "csv":  # (the CSV download, the first there was, records the filters alone)
        written["format"] = kind
    audit.audit_record(action=AuditAction.AUDIT_EXPORTED, actor=request.user, details=written)
    entries = selectors.audit_entries_filtered(**form.filters()).order_by("seq").iterator(chunk_size=2000)
    if kind == "csv":
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow(AUDIT_EXPORT_FIELDS)
            for entry in entries:
                row = _export_row(entry)
                row["details"] = json.dumps(entry.details, ensure_ascii=False, sort_keys=True)
                yield writer.writerow([row[name] for name in AUDIT_EXPORT_FIELDS])

        content_type = "text/csv; charset=utf-8"
    else:

        def rows():
            # A JSON array streamed entry by entry, so the memory used does not grow with the log.
            yield "["
            for number, entry in enumerate(entries):
                yield (
                    ("," if number else "") + "\n" + json.dumps(_export_row(entry), ensure_ascii=False, sort_keys=True)
                )
            yield "\n]\n"

        content_type = "application/json; charset=utf-8"
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{kind}"'
    return response


@filtered_by(AuditFilterForm)
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    return _audit_export(request, kind="csv")


@filtered_by(AuditFilterForm)
@require_GET
def audit_export_json(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    return _audit_export(request, kind="json")


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
