"""The legal team's notification pages: the list across their cases, a warrant's panel, the preview
of each e-mail, deferral (reviewers), paper letters and the resolution of unconfirmed sends."""

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.csp import CSP
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_POST

from requests_app.page_hooks import Panel
from requests_app.permissions import can
from requests_app.shortcuts import warrant_or_404
from requests_app.workflow import REVIEW, Status
from warrantdesk.access import acting_user, deny
from warrantdesk.exceptions import DomainError
from warrantdesk.params import bind_filters, error_text, filtered_by
from warrantdesk.refusals import refused

from . import notifications
from .filters import NotificationFilterForm
from .forms import DeferForm
from .models import Notification


def _notification_or_404(request: HttpRequest, pk) -> Notification:
    notification = notifications.notification_get_visible(user=request.user, pk=pk)
    if notification is None:
        raise deny(request.user, object_type="notification", object_id=pk, path=request.path)
    return notification


def warrant_list_context(request: HttpRequest) -> dict:
    """The count of overdue notices over the user's own cases, for the warrant list's banner
    (registered as a warrant-list hook)."""
    return {"overdue_notifications": notifications.overdue_count(user=request.user)}


def notifications_panel(request: HttpRequest, warrant) -> Panel | None:
    """The user notices panel of the warrant page once the export was delivered; it loads itself
    (``warrant_notifications``), the notices of a large warrant being many."""
    if warrant.status not in {Status.DELIVERED, Status.NOTIFYING, Status.CLOSED}:
        return None
    return Panel("disclosure/_notification_panel_loading.html", {"warrant": warrant})


@filtered_by(NotificationFilterForm)
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """Every notification of the user's cases; overdue first, filter by status or overdue."""
    now = timezone.now()
    form = bind_filters(NotificationFilterForm, request.GET)
    items = notifications.notifications_visible_to(user=request.user)
    if form.is_valid():
        if form.cleaned_data["status"]:
            items = items.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["overdue"]:
            items = items.filter(notifications.overdue_q(now))
    else:  # the page says what is wrong with the filters, and lists nothing that would seem to match them
        items = items.none()
    page = Paginator(items.order_by("due_at", "pk"), 100).get_page(form.cleaned_data.get("page"))
    counts = {"overdue": notifications.overdue_count(user=request.user, now=now)}
    return render(
        request,
        "disclosure/notification_list.html",
        {
            "page": page,
            "filter_form": form,
            "statuses": Notification.Status.choices,
            "status": request.GET.get("status", ""),
            "counts": counts,
        },
        status=200 if form.is_valid() else 400,
    )


@require_GET
def warrant_notifications(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    items = warrant.notifications.select_related("account").order_by("due_at", "pk")
    template = (
        "disclosure/notification_panel.html"
        if request.headers.get("HX-Request")
        else "disclosure/notification_warrant.html"
    )
    return render(
        request,
        template,
        {"warrant": warrant, "notifications": items, "can_defer": can(request.user, REVIEW, warrant)},
    )


@require_GET
def notification_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The notice exactly as it will go out, in the person's language: the e-mail (subject, plain text
    and, in a frame, the HTML part), or for a paper letter the address block and, in a frame, the letter."""
    notification = _notification_or_404(request, pk)
    context = {
        "notification": notification,
        "warrant": notification.warrant,
        "can_defer": can(request.user, REVIEW, notification.warrant),
        "letter": notifications.is_letter(notification),
        "letter_due": notifications.letter_may_be_posted(notification),
    }
    if context["letter"]:
        context["notice"] = notifications.notice_facts(notification)
    else:
        context["message"] = notifications.notice_message(notification)
    return render(request, "disclosure/notification_preview.html", context)


# The policy of a notice shown in the preview page's frame: its own inline styles (the e-mail's style
# attributes, the letter's <style>) and nothing else: no script, image, font, form, base or plug-in,
# sandboxed even when opened on its own, framed only by this site's pages. (``True``: a directive without
# a value, as django.utils.csp.build_policy renders it; django-stubs types the mapping without booleans.)
NOTICE_DOCUMENT_CSP: dict[str, Any] = {
    "default-src": [CSP.NONE],
    "style-src": [CSP.UNSAFE_INLINE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.NONE],
    "frame-ancestors": [CSP.SELF],
    "sandbox": True,
}


def _notice_document(html: str, locale: str) -> HttpResponse:
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    if locale:  # the person's language, not the reader's (LocaleMiddleware keeps a header set here)
        response["Content-Language"] = locale
    return response


@require_GET
@xframe_options_sameorigin
@csp_override(NOTICE_DOCUMENT_CSP)
def notification_email_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTML part of the notice e-mail, as the person receives it, for the preview page's frame. A
    frame given the e-mail in ``srcdoc`` would inherit the page's policy, which refuses inline styles."""
    notification = _notification_or_404(request, pk)
    facts = notifications.notice_facts(notification)
    message = notifications.notice_message(notification, facts)
    html = next(content for content, mimetype in message.alternatives if mimetype == "text/html")
    return _notice_document(str(html), facts.locale)


@require_GET
@xframe_options_sameorigin
@csp_override(NOTICE_DOCUMENT_CSP)
def notification_letter_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The paper letter as HTML (what the PDF prints), for the preview page's frame."""
    notification = _notification_or_404(request, pk)
    facts = notifications.notice_facts(notification)
    return _notice_document(notifications.letter_html(notification, facts), facts.locale)


@require_POST
def notification_defer(request: HttpRequest, pk: int) -> HttpResponse:
    notification = _notification_or_404(request, pk)
    form = DeferForm(request.POST)
    if not form.is_valid():
        messages.error(request, error_text(form) if form.data.get("until") else _("Give the date the deferral ends."))
        return redirect(notification)
    until, justification = form.cleaned_data["until"], form.cleaned_data["justification"]
    end = timezone.make_aware(dt.datetime.combine(until, dt.time.min))
    try:
        notifications.notification_defer(
            notification=notification, actor=acting_user(request), until=end, justification=justification
        )
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(request, _("Notification deferred until %(date)s.") % {"date": until.isoformat()})
    return redirect(notification)


@require_GET
def notification_letter(request: HttpRequest, pk: int) -> HttpResponseBase:
    notification = _notification_or_404(request, pk)
    try:
        pdf = notifications.letter_open(notification=notification, actor=acting_user(request))
    except PermissionDenied as refusal:
        refused(request, refusal)
        return redirect(notification)
    import io

    response = FileResponse(
        io.BytesIO(pdf),
        as_attachment=True,
        filename=f"{notification.warrant.reference}-notice-{notification.pk}.pdf",
        content_type="application/pdf",
    )
    response["Cache-Control"] = "no-store"
    return response


def _act(request: HttpRequest, pk: int, service, done: str) -> HttpResponse:
    """A legal-team action on one notice: the service decides and audits; refusals are shown."""
    notification = _notification_or_404(request, pk)
    try:
        service(notification=notification, actor=acting_user(request))
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(request, done)
    return redirect(notification)


@require_POST
def notification_mark_sent(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, notifications.notification_mark_sent, _("Notification marked as sent."))


@require_POST
def notification_requeue(request: HttpRequest, pk: int) -> HttpResponse:
    done = _("Notification queued to be sent again, with the same Message-ID.")
    return _act(request, pk, notifications.notification_requeue, done)


@require_POST
def notification_to_letter(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, notifications.notification_to_letter, _("The notice is now listed for a paper letter."))
