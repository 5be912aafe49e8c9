"""Web pages of follow-up de-anonymisation requests: logging one against a delivered warrant,
the two reviewers' decisions per pseudonym, and the identity sheet delivered like an export.

Every view finds the request through the warrant the user may see (404 otherwise, as for the
warrant itself). No page ever shows a revealed identity: the identity sheet is downloaded, not shown.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from requests_app import selectors
from requests_app.forms import is_confirmed
from requests_app.models import NOTE_MAX_LENGTH, FollowUpRequest, FollowUpToken, Warrant
from requests_app.page_hooks import Panel
from requests_app.permissions import can
from requests_app.services import latest_signature_check
from requests_app.shortcuts import warrant_or_404
from requests_app.verification import EXPLANATIONS
from requests_app.workflow import REVIEW
from warrantdesk import refusals
from warrantdesk.access import acting_user, deny
from warrantdesk.exceptions import DomainError
from warrantdesk.params import parse_id

from .. import keys
from .. import services as disclosure_services
from ..forms import DeliveryForm, LinkForm
from ..models import Delivery, Export
from ..tasks import run_export
from . import hooks
from . import services as followups
from .aliases import delivered_aliases
from .forms import FollowUpForm, too_long

DOCUMENT_ERRORS = {"not_pdf", "too_large", "unsafe_file_name", "upload_rejected", "duplicate_document"}
SIGNATURE_ERRORS = {"empty_signature", "not_signature"}
UNREADABLE_ALIASES = gettext_lazy(
    "The alias table of export #%(id)s could not be read: its pseudonyms are not listed below. "
    "Paste the ones the request names instead."
)


# --- logging a request -------------------------------------------------------------------------------


def followup_create(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    if reason := followups.followup_log_refusal(request.user, warrant):
        not_theirs = not can(request.user, "requests_app.add_document", warrant)
        refusals.refused(request, DomainError(reason, code="not_allowed" if not_theirs else "not_delivered"))
        return redirect(warrant)
    aliases = delivered_aliases(warrant)
    posted = request.method == "POST"
    if not posted:
        for export_pk in aliases.unreadable:
            messages.warning(request, UNREADABLE_ALIASES % {"id": export_pk})
    # Demo mode: a signed sample request to download, and the form filled in as it reads (?sample=1).
    sample = hooks.followup_form_sample(request, warrant, aliases) if not posted and aliases else None
    if sample and "sample" in request.GET:
        form = FollowUpForm(initial=sample.initial, aliases=aliases, initial_picks=sample.initial_picks)
    else:
        form = FollowUpForm(request.POST if posted else None, request.FILES if posted else None, aliases=aliases)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            follow_up = followups.followup_register(
                warrant=warrant,
                actor=acting_user(request),
                tokens=data["tokens"],
                upload=data["document"],
                signature_upload=data["signature"],
                received_at=data["received_at"],
                deadline=data["deadline"],
            )
        except DomainError as refusal:
            field = "document" if refusal.code in DOCUMENT_ERRORS else None
            field = "signature" if refusal.code in SIGNATURE_ERRORS else field
            form.add_error(field, refusal.message)
        else:
            refused = follow_up.tokens.exclude(validity=FollowUpToken.Validity.VALID).count()
            message = _("Follow-up request %(ref)s logged; its signature is checked in the background.") % {
                "ref": follow_up.reference
            }
            if refused:
                message += " " + ngettext(
                    "%(n)d pseudonym could not be accepted and was refused at once: see why below.",
                    "%(n)d pseudonyms could not be accepted and were refused at once: see why below.",
                    refused,
                ) % {"n": refused}
            messages.success(request, message)
            return redirect(follow_up)
    status = 400 if posted else 200
    return render(
        request,
        "disclosure/followups/form.html",
        {
            "warrant": warrant,
            "form": form,
            "max_tokens": settings.WARRANTDESK_FOLLOWUP_MAX_TOKENS,
            "demo_sample": sample,
        },
        status=status,
    )


# --- the request's page --------------------------------------------------------------------------------


def _followup_or_404(request: HttpRequest, pk) -> FollowUpRequest:
    follow_up = (
        FollowUpRequest.objects.select_related("document", "created_by").filter(pk=pk).first() if parse_id(pk) else None
    )
    warrant = selectors.warrant_get_visible(user=request.user, pk=follow_up.warrant_id) if follow_up else None
    if follow_up is None or warrant is None:
        raise deny(request.user, object_type="follow-up", object_id=pk, path=request.path)
    follow_up.warrant = warrant
    return follow_up


def _signature_context(follow_up: FollowUpRequest) -> dict:
    document = follow_up.document
    checks = (
        list(document.signature_checks.select_related("investigator", "checked_by").order_by("-checked_at", "-pk")[:20])
        if document is not None
        else []
    )
    latest = checks[0] if checks else None
    return {
        "current_document": document,
        "signature": latest,
        "signature_pending": document is not None and latest is None,
        "signature_explanation": EXPLANATIONS[latest.outcome] if latest else "",
        "can_recheck_signature": document is not None and follow_up.status in followups.RECHECKABLE,
        "earlier_checks": checks[1:],
    }


def _sheet_context(user, follow_up: FollowUpRequest) -> dict:

    sheets = list(
        follow_up.exports.select_related("requested_by").prefetch_related("deliveries", "links").order_by("-pk")
    )
    latest = sheets[0] if sheets else None
    decided = follow_up.status in {FollowUpRequest.Status.DECIDED, FollowUpRequest.Status.DISCLOSED}
    return {
        "sheets": sheets,
        "sheet_running": latest is not None and latest.status in {Export.Status.QUEUED, Export.Status.RUNNING},
        # Decided, and the build the decision queued has not reached a worker yet: follow it too.
        "sheet_waiting": latest is None and follow_up.status == FollowUpRequest.Status.DECIDED,
        "can_export": disclosure_services.can_export(user, follow_up.warrant),
        "can_build_sheet": follow_up.status == FollowUpRequest.Status.DECIDED
        and (latest is None or latest.status == Export.Status.FAILED),
        "sheet_expected": decided,
        "keys_destroyed_at": keys.warrant_keys_destroyed_at(follow_up.warrant),
        "delivery_channels": [c for c in Delivery.Channel if c != Delivery.Channel.LINK],
        "link_hours": settings.WARRANTDESK_EXPORT_LINK_HOURS,
    }


def _show_token(
    token: FollowUpToken, *, alias: str, error: str, posted_choice: str, posted_reason: str, approvals: int
) -> None:
    """Set on ``token`` what the request's page shows next to it: its alias in the delivered package, the
    error and the choice/reason posted for it (a refused form comes back filled in), its approvals so far.

    On the instance rather than in a wrapper row because the page also reaches the same tokens through
    ``decision.token`` (prefetched decisions point back at these instances); one typed place sets them.
    """
    vars(token).update(
        alias=alias, error=error, posted_choice=posted_choice, posted_reason=posted_reason, approvals=approvals
    )


def _detail_context(
    request: HttpRequest, follow_up: FollowUpRequest, *, errors: dict | None = None, posted: dict | None = None
) -> dict:
    tokens = list(follow_up.tokens.prefetch_related("decisions__reviewer").order_by("position"))
    aliases = {alias.token: alias for alias in delivered_aliases(follow_up.warrant)}
    errors, posted = errors or {}, posted or {}
    for token in tokens:
        _show_token(
            token,
            alias=aliases[token.token].alias if token.token in aliases else "",
            error=errors.get(token.pk, ""),
            posted_choice=posted.get(token.pk, {}).get("choice", ""),
            posted_reason=posted.get(token.pk, {}).get("reason", ""),
            approvals=sum(1 for decision in token.decisions.all() if decision.approve),
        )
    decisions = [decision for token in tokens for decision in token.decisions.all()]
    decisions.sort(key=lambda decision: (decision.at, decision.pk))
    refusal = followups.reviewer_refusal(follow_up, acting_user(request))
    open_statuses = {
        FollowUpRequest.Status.RECEIVED,
        FollowUpRequest.Status.SIGNATURE_FAILED,
        FollowUpRequest.Status.IN_REVIEW,
    }
    return {
        "follow_up": follow_up,
        "warrant": follow_up.warrant,
        "tokens": tokens,
        "pending_tokens": [token for token in tokens if token.decision == FollowUpToken.Decision.PENDING],
        "decisions": decisions,
        "warnings": followups.fishing_warnings(follow_up) if follow_up.status in open_statuses else [],
        "can_decide": not refusal,
        "decide_refusal": refusal if follow_up.status in open_statuses else "",
        "decision_errors": bool(errors),
        **_signature_context(follow_up),
        **_sheet_context(request.user, follow_up),
    }


@require_GET
def followup_detail(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = _followup_or_404(request, pk)
    return render(request, "disclosure/followups/detail.html", _detail_context(request, follow_up))


@require_GET
def followup_signature(request: HttpRequest, pk: int) -> HttpResponse:
    """The signature panel alone, polled by the request's page while the check runs."""
    follow_up = _followup_or_404(request, pk)
    context = {"follow_up": follow_up, **_signature_context(follow_up)}
    response = render(request, "disclosure/followups/_signature_panel.html", context)
    if not context["signature_pending"] and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # the verdict moved the request to review (or failed it): reload
    return response


@require_POST
def followup_recheck(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = _followup_or_404(request, pk)
    try:
        follow_up = followups.followup_recheck_signature(request=follow_up, actor=acting_user(request))
    except (DomainError, PermissionDenied) as refusal:
        refusals.refused(request, refusal)
    else:
        check = latest_signature_check(follow_up.document)
        assert check is not None, "a signature check that returned records its verdict"
        messages.success(request, _("Signature checked again: %(outcome)s.") % {"outcome": check.get_outcome_display()})
    return redirect(follow_up)


@require_GET
def followup_sheet_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The identity sheet panel alone, polled while the sheet is being built."""
    follow_up = _followup_or_404(request, pk)
    context = {"follow_up": follow_up, "warrant": follow_up.warrant, **_sheet_context(request.user, follow_up)}
    response = render(request, "disclosure/followups/_sheet_panel.html", context)
    if request.headers.get("HX-Request") and not context["sheet_running"] and request.GET.get("was") == "running":
        response["HX-Refresh"] = "true"
    return response


def _text_problem(text: str) -> str:
    """Why a typed text cannot be stored ("" when it can): a form field's own checks (NUL bytes)."""
    try:
        forms.CharField(required=False).clean(text)
    except forms.ValidationError as invalid:
        return " ".join(invalid.messages)
    return ""


@require_POST
def followup_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """One reviewer's decision on every pending pseudonym: approve, or refuse with a reason."""
    follow_up = _followup_or_404(request, pk)
    if refusal := followups.reviewer_refusal(follow_up, acting_user(request)):
        not_theirs = not can(request.user, REVIEW, follow_up.warrant) or request.user.pk == follow_up.created_by_id
        refusals.refused(request, DomainError(refusal, code="not_allowed" if not_theirs else "not_in_review"))
        return redirect(follow_up)
    pending = list(follow_up.tokens.filter(decision=FollowUpToken.Decision.PENDING).order_by("position"))
    decisions, errors, posted = {}, {}, {}
    for token in pending:
        choice = request.POST.get(f"decision-{token.pk}", "")
        reason = request.POST.get(f"reason-{token.pk}", "").strip()
        posted[token.pk] = {"choice": choice, "reason": reason}
        if problem := _text_problem(reason):
            errors[token.pk] = problem
            posted[token.pk]["reason"] = ""
        elif choice not in {"approve", "refuse"}:
            errors[token.pk] = _("Approve or refuse this pseudonym.")
        elif choice == "refuse" and not reason:
            errors[token.pk] = _("Give the reason for refusing.")
        elif len(reason) > NOTE_MAX_LENGTH:
            errors[token.pk] = too_long(reason)
        else:
            decisions[token.pk] = (choice == "approve", reason)
    unconfirmed = not is_confirmed(request, follow_up.reference)
    if not errors and not unconfirmed:
        try:
            follow_up = followups.followup_decide(request=follow_up, reviewer=acting_user(request), decisions=decisions)
        except DomainError as error:
            refusals.refused(request, error)
        else:
            approved = sum(1 for approve, _reason in decisions.values() if approve)
            messages.success(
                request,
                _("Your decision is recorded: %(approved)d approved, %(refused)d refused.")
                % {"approved": approved, "refused": len(decisions) - approved},
            )
            return redirect(follow_up)
    follow_up = _followup_or_404(request, pk)
    context = _detail_context(request, follow_up, errors=errors, posted=posted)
    context["confirm_error"] = unconfirmed
    context["decision_row_errors"] = bool(errors)
    context["decision_errors"] = bool(errors) or unconfirmed
    return render(request, "disclosure/followups/detail.html", context, status=400)


# --- the identity sheet ----------------------------------------------------------------------------


@require_POST
def followup_sheet_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Build the identity sheet (again, after a failure); it runs in the background."""

    follow_up = _followup_or_404(request, pk)
    try:
        if not disclosure_services.can_export(request.user, follow_up.warrant):
            raise PermissionDenied
        known = set(follow_up.exports.values_list("pk", flat=True))
        export = disclosure_services.identity_sheet_start(follow_up=follow_up, actor=request.user)
    except (DomainError, PermissionDenied) as refusal:
        refusals.refused(request, refusal)
    else:
        if export.pk not in known:  # a new sheet (a second click finds the one already on its way)
            run_export.enqueue(export.pk)
        messages.success(request, _("The identity sheet is being built."))
    return redirect(follow_up)


def _ready_sheet(follow_up: FollowUpRequest):

    return follow_up.exports.filter(status=Export.Status.READY).order_by("-pk").first()


@require_POST
def followup_sheet_deliver(request: HttpRequest, pk: int) -> HttpResponse:

    follow_up = _followup_or_404(request, pk)
    form = DeliveryForm(request.POST)
    sheet = _ready_sheet(follow_up)
    if sheet is None:
        messages.error(request, _("The identity sheet is not ready."))
    elif not form.is_valid():
        messages.error(request, _("Give the channel, the recipient and the time of the hand-over."))
    else:
        try:
            disclosure_services.export_record_delivery(export=sheet, actor=request.user, **form.cleaned_data)
        except (DomainError, PermissionDenied) as refusal:
            refusals.refused(request, refusal)
        else:
            messages.success(request, _("Delivery of the identity sheet recorded."))
    return redirect(follow_up)


@require_POST
def followup_sheet_link(request: HttpRequest, pk: int) -> HttpResponse:

    follow_up = _followup_or_404(request, pk)
    form = LinkForm(request.POST)
    sheet = _ready_sheet(follow_up)
    if sheet is None:
        messages.error(request, _("The identity sheet is not ready."))
    elif not form.is_valid():
        messages.error(request, _("Name the investigator who receives the link."))
    elif not is_confirmed(request, follow_up.reference):
        messages.error(
            request,
            _("No link was issued: tick “I confirm” to confirm that you mean %(ref)s.") % {"ref": follow_up.reference},
        )
    else:
        try:
            link, token = disclosure_services.export_issue_link(export=sheet, actor=request.user, **form.cleaned_data)
        except (DomainError, PermissionDenied) as refusal:
            refusals.refused(request, refusal)
        else:
            url = request.build_absolute_uri(reverse("link-download", args=[token]))
            messages.success(
                request,
                _("One-time link for %(recipient)s, valid until %(expires)s. It is shown only now: %(url)s")
                % {"recipient": link.recipient, "expires": f"{link.expires_at:%Y-%m-%d %H:%M} UTC", "url": url},
            )
    return redirect(follow_up)


# --- the panel on the warrant's page -----------------------------------------------------------------


def followups_panel(request: HttpRequest, warrant: Warrant) -> Panel:
    """The follow-up requests panel of the warrant page (a requests_app.page_hooks provider)."""
    follow_ups = warrant.follow_ups.annotate(
        token_count=Count("tokens"),
        approved_count=Count("tokens", filter=Q(tokens__decision=FollowUpToken.Decision.APPROVED)),
    ).order_by("-received_at", "-pk")
    return Panel(
        "disclosure/followups/_panel.html",
        {
            "warrant": warrant,
            "follow_ups": list(follow_ups),
            "followup_blocked_reason": followups.followup_log_refusal(request.user, warrant),
        },
    )
