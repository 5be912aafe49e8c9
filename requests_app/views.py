from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from warrantdesk.access import deny
from warrantdesk.exceptions import DomainError
from warrantdesk.models import AuditAction, AuditEntry
from warrantdesk.params import bind_filters, filtered_by
from warrantdesk.refusals import refused

from . import duplicates, page_hooks, selectors, services
from .filters import WarrantFilterForm
from .forms import AssignForm, DocumentForm, TransitionForm, WarrantForm, is_confirmed
from .models import Agency, Warrant
from .permissions import can, can_recheck_signature
from .shortcuts import warrant_or_404
from .verification import EXPLANATIONS
from .workflow import Status, manual_moves


@filtered_by(WarrantFilterForm)
@require_GET
def warrant_list(request: HttpRequest) -> HttpResponse:
    form = bind_filters(WarrantFilterForm, request.GET)
    if form.is_valid():
        warrants = selectors.warrant_list_filtered(user=request.user, **form.filters()).order_by(form.ordering())
        page = Paginator(warrants, 50).get_page(form.cleaned_data["page"])
    else:  # the page shows what is wrong with the filters, and no result that would seem to match them
        page = Paginator(Warrant.objects.none(), 50).get_page(1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "requests_app/warrant_list.html",
        {
            "page": page,
            "filter_form": form,
            "statuses": Status.choices,
            "agencies": Agency.objects.all(),
            "filters": request.GET,
            "query": query.urlencode(),
            "can_create": request.user.has_perm("requests_app.add_warrant"),
            "now": timezone.now(),
            **page_hooks.warrant_list_context(request),  # disclosure: overdue user notices
        },
        status=200 if form.is_valid() else 400,
    )


def warrant_create(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("requests_app.add_warrant"):
        raise PermissionDenied
    # Demo mode: a signed sample warrant to download, and the form filled in as it reads (?sample=).
    sample = page_hooks.warrant_form_sample(request) if request.method == "GET" else None
    initial = sample.initial if sample else None
    form = WarrantForm(request.POST or None, request.FILES or None, initial=initial)
    possible_duplicates = []
    if request.method == "POST" and form.is_valid():
        try:
            warrant = services.warrant_register(actor=request.user, **form.service_kwargs())
        except duplicates.PossibleDuplicate as warning:
            form.offer_duplicate_confirmation()
            possible_duplicates = warning.duplicates
        except DomainError as refusal:
            form.add_error(
                "document" if refusal.code in {"not_pdf", "too_large", "unsafe_file_name"} else None, refusal.message
            )
        else:
            messages.success(request, _("Warrant %(ref)s logged.") % {"ref": warrant.reference})
            return redirect(warrant)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "requests_app/warrant_form.html",
        {"form": form, "demo_sample": sample, "duplicates": possible_duplicates},
        status=status,
    )


def _move_options(user, warrant: Warrant) -> list[dict]:
    options = []
    for target, rule in manual_moves(warrant.status).items():
        reason = ""
        if not can(user, rule.by, warrant):
            reason = _("Only a reviewer assigned to this case can do this.")
        elif rule.four_eyes and user.pk == warrant.created_by_id:
            reason = _("You logged this warrant; another reviewer must approve it (four-eyes rule).")
        elif target == Status.APPROVED:
            reason = services.signature_gate(warrant)
        options.append({"to": target, "label": rule.label, "reason": reason, "note_required": rule.note_required})
    return options


def _signature_context(user, warrant: Warrant) -> dict:
    document = services.current_warrant_document(warrant)
    checks = list(selectors.warrant_signature_checks(warrant=warrant)[:20])
    latest = next((check for check in checks if check.document_id == getattr(document, "pk", None)), None)
    pending = document is not None and latest is None
    if document is not None and latest is not None:
        # A re-check was asked for after the latest verdict: it is still running.
        asked = AuditEntry.objects.filter(
            action=AuditAction.SIGNATURE_RECHECK_REQUESTED,
            object_type="requests_app.document",
            object_id=str(document.pk),
        ).aggregate(last=Max("at"))["last"]
        pending = asked is not None and asked > latest.checked_at
    return {
        "current_document": document,
        "signature": latest,
        "signature_pending": pending,
        "signature_explanation": EXPLANATIONS[latest.outcome] if latest else "",
        "earlier_checks": [check for check in checks if check is not latest],
        "can_recheck": can_recheck_signature(user, warrant),
    }


@require_GET
def warrant_signature(request: HttpRequest, pk: int) -> HttpResponse:
    """The signature panel alone, polled by the detail page while a check runs."""
    warrant = warrant_or_404(request, pk)
    context = {"warrant": warrant, **_signature_context(request.user, warrant)}
    response = render(request, "requests_app/_signature_panel.html", context)
    if not context["signature_pending"] and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # the verdict may have changed the status and the actions: reload
    return response


@require_POST
def warrant_recheck(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    try:
        services.warrant_recheck_signature(warrant=warrant, actor=request.user)
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(request, _("The signature is being checked again."))
    return redirect(warrant)


@require_GET
def warrant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    timeline = AuditEntry.objects.filter(warrant_ref=warrant.reference).order_by("-seq")[:200]
    return render(
        request,
        "requests_app/warrant_detail.html",
        {
            **_signature_context(request.user, warrant),
            "panels": page_hooks.warrant_panels(request, warrant),  # disclosure: scope, export, follow-ups, notices
            "warrant": warrant,
            "targets": warrant.targets.all(),
            "documents": warrant.documents.select_related("uploaded_by"),
            "duplicates": duplicates.of_warrant(warrant, user=request.user),
            "events": warrant.events.select_related("actor"),
            "timeline": timeline,
            "moves": _move_options(request.user, warrant),
            "officers": selectors.warrant_officers(warrant=warrant),
            "can_upload": can(request.user, "requests_app.add_document", warrant)
            and warrant.status in {Status.RECEIVED, Status.SIGNATURE_FAILED, Status.VERIFIED},
            "can_assign": can(request.user, "requests_app.assign_warrant", warrant),
            "document_form": DocumentForm(),
            "assign_form": AssignForm(officers=selectors.warrant_assignable_officers(warrant=warrant))
            if can(request.user, "requests_app.assign_warrant", warrant)
            else None,
        },
    )


@require_POST
def warrant_transition(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    form = TransitionForm(request.POST)
    if form.has_error("note"):
        messages.error(request, " ".join(str(error) for error in form.errors["note"]))
        return redirect(warrant)
    if not form.is_valid() or form.cleaned_data["to"] not in Status.values:
        messages.error(request, _("Unknown action."))
        return redirect(warrant)
    if not is_confirmed(request, warrant.reference):
        messages.error(
            request,
            _("Nothing was changed: tick “I confirm” to confirm that you mean %(ref)s.") % {"ref": warrant.reference},
        )
        return redirect(warrant)
    try:
        warrant = services.warrant_transition(
            warrant=warrant, to=form.cleaned_data["to"], actor=request.user, note=form.cleaned_data["note"]
        )
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(request, _("Status is now “%(status)s”.") % {"status": warrant.get_status_display()})
    return redirect(warrant)


@require_POST
def warrant_assign(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    form = AssignForm(request.POST, officers=selectors.warrant_assignable_officers(warrant=warrant))
    if not form.is_valid():
        messages.error(
            request,
            _(
                "Choose a colleague from the list: only intake officers and reviewers who do not have access "
                "to this case yet can be given access."
            ),
        )
        return redirect(warrant)
    officer = form.officers[form.cleaned_data["username"]]
    try:
        services.warrant_assign(warrant=warrant, user=officer, actor=request.user)
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(request, _("%(user)s now has access to this case.") % {"user": officer.get_username()})
    return redirect(warrant)


@require_POST
def document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a PDF file to upload."))
        return redirect(warrant)
    try:
        document = services.document_upload(
            warrant=warrant,
            upload=form.cleaned_data["file"],
            signature_upload=form.cleaned_data["signature"],
            actor=request.user,
            kind=form.cleaned_data["kind"],
            confirm_duplicate=form.cleaned_data["confirm_duplicate"],
        )
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(request, _("“%(name)s” uploaded.") % {"name": document.original_name})
    return redirect(warrant)


@require_GET
def document_download(request: HttpRequest, pk: int) -> FileResponse:
    document = selectors.document_get_visible(user=request.user, pk=pk)
    if document is None:
        raise deny(request.user, object_type="document", object_id=pk, path=request.path)
    handle = services.document_open(document=document, actor=request.user)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"{document.warrant.reference}-{document.pk}.pdf",
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
