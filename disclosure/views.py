import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from requests_app import selectors
from requests_app.forms import is_confirmed
from requests_app.page_hooks import Panel
from requests_app.permissions import can
from requests_app.services import signature_gate
from requests_app.shortcuts import warrant_or_404
from requests_app.workflow import Status
from warrantdesk import operator_keys
from warrantdesk.access import deny
from warrantdesk.exceptions import DomainError
from warrantdesk.params import parse_id
from warrantdesk.refusals import refused
from warrantdesk.views_checkpoints import published_key_pem

from . import keys, services, shredding
from .exports import verify_package
from .forms import DeliveryForm, LinkForm
from .models import Delivery, Export
from .retention import retention_gap
from .scope import warrant_scope


@require_GET
def warrant_scope_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The scope preview of a warrant, loaded into its page after the page itself."""
    warrant = warrant_or_404(request, pk)
    scope = warrant_scope(warrant)
    return render(
        request,
        "disclosure/_scope_panel.html",
        {
            "warrant": warrant,
            "scope": scope,
            "participant_count": len(scope.participant_ids),
            "non_target_count": len(scope.non_target_ids),
            "gap": retention_gap(warrant),
        },
    )


def scope_panel(request: HttpRequest, warrant) -> Panel:
    """The scope preview panel of the warrant page: it loads itself (``warrant_scope_panel``)."""
    return Panel("disclosure/_scope_panel.html", {"warrant": warrant, "scope": None})


def export_panel(request: HttpRequest, warrant) -> Panel:
    """The export panel of the warrant page; ``export_panel_view`` serves it alone while an export runs."""
    return Panel("disclosure/_export_panel.html", _export_panel_context(request, warrant))


def _export_panel_context(request: HttpRequest, warrant) -> dict:
    exports = list(
        warrant.exports.filter(kind=Export.Kind.CONVERSATIONS)
        .select_related("requested_by")
        .prefetch_related("deliveries", "links")
        .order_by("-pk")[:10]
    )
    latest = exports[0] if exports else None
    running = latest is not None and latest.status in {Export.Status.QUEUED, Export.Status.RUNNING}
    gate = signature_gate(warrant)
    package_life = dt.timedelta(days=settings.WARRANTDESK_PACKAGE_DAYS)
    for export in exports:  # when its file goes (package expiry): its first delivery + the package days
        first = min((delivery.delivered_at for delivery in export.deliveries.all()), default=None)
        export.expires_at = first + package_life if first and not export.purged_at else None
    return {
        "warrant": warrant,
        "exports": exports,
        "keys_destroyed_at": keys.warrant_keys_destroyed_at(warrant),
        "latest_export": latest,
        "export_running": running,
        "can_export": services.can_export(request.user, warrant),
        "can_start_export": warrant.status == Status.APPROVED and not gate and not running,
        "export_blocked_reason": gate
        or ("" if warrant.status == Status.APPROVED else _("Only an approved warrant can be exported.")),
        "can_retry": latest is not None and latest.status == Export.Status.FAILED and warrant.status == Status.APPROVED,
        "delivery_channels": [c for c in Delivery.Channel if c != Delivery.Channel.LINK],
        "link_hours": settings.WARRANTDESK_EXPORT_LINK_HOURS,
    }


def keys_panel(request: HttpRequest, warrant) -> Panel:
    """The warrant's keys and preservation orders: when its keys are (or were) destroyed, what
    postpones it, the orders recorded and, for who may add documents to the case, the form."""
    orders = warrant.preservation_orders.select_related("document", "recorded_by").order_by("-until", "-pk")
    return Panel(
        "disclosure/_keys_panel.html",
        {
            "warrant": warrant,
            "plan": shredding.key_plan(warrant),
            "orders": list(orders),
            "can_record_order": can(request.user, "requests_app.add_document", warrant),
        },
    )


@require_GET
def export_panel_view(request: HttpRequest, pk: int) -> HttpResponse:
    panel = export_panel(request, warrant_or_404(request, pk))
    response = HttpResponse(panel.render(request))
    if (
        request.headers.get("HX-Request")
        and not panel.context["export_running"]
        and request.GET.get("was") == "running"
    ):
        response["HX-Refresh"] = "true"  # finished: the status and actions of the page changed
    return response


@require_POST
def export_start(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    try:
        retry = request.POST.get("retry") == "1"
        export = (services.export_retry if retry else services.export_start)(warrant=warrant, actor=request.user)
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(request, _("Export #%(id)s started; its progress is shown below.") % {"id": export.pk})
    return redirect(warrant)


def _export_or_404(request: HttpRequest, pk) -> Export:
    export = Export.objects.select_related("warrant").filter(pk=pk).first() if parse_id(pk) else None
    if export is None or selectors.warrant_get_visible(user=request.user, pk=export.warrant_id) is None:
        raise deny(request.user, object_type="export", object_id=pk, path=request.path)
    return export


@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    export = _export_or_404(request, pk)
    try:
        handle = services.export_open(export=export, actor=request.user)
    except PermissionDenied as refusal:
        refused(request, refusal)
        return redirect(export.warrant)
    except DomainError as refusal:
        if refusal.code != "not_available":
            raise  # purged or key destroyed (410), altered (409): a page saying why (middleware)
        refused(request, refusal)
        return redirect(export.warrant)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=export.download_name,
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def export_manifest(request: HttpRequest, pk: int) -> HttpResponse:
    """The signed manifest of a package, kept after the package itself was purged; audited."""
    export = _export_or_404(request, pk)
    try:
        data = services.export_manifest_open(export=export, actor=request.user)
    except PermissionDenied as refusal:
        refused(request, refusal)
        return redirect(export.warrant)
    response = HttpResponse(data, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{export.download_name.removesuffix(".zip")}-manifest.json"'
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def export_deliver(request: HttpRequest, pk: int) -> HttpResponse:
    export = _export_or_404(request, pk)
    form = DeliveryForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the channel, the recipient and the time of the hand-over."))
        return redirect(export.warrant)
    try:
        services.export_record_delivery(export=export, actor=request.user, **form.cleaned_data)
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(request, _("Delivery recorded."))
    return redirect(export.warrant)


@require_POST
def export_link(request: HttpRequest, pk: int) -> HttpResponse:
    export = _export_or_404(request, pk)
    form = LinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Name the investigator who receives the link."))
        return redirect(export.warrant)
    if not is_confirmed(request, export.warrant.reference):
        messages.error(
            request,
            _("No link was issued: tick “I confirm” to confirm that you mean %(ref)s.")
            % {"ref": export.warrant.reference},
        )
        return redirect(export.warrant)
    try:
        link, token = services.export_issue_link(export=export, actor=request.user, **form.cleaned_data)
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        url = request.build_absolute_uri(reverse("link-download", args=[token]))
        messages.success(
            request,
            _("One-time link for %(recipient)s, valid until %(expires)s. It is shown only now: %(url)s")
            % {
                "recipient": link.recipient,
                "expires": f"{timezone.localtime(link.expires_at):%Y-%m-%d %H:%M}",
                "url": url,
            },
        )
    return redirect(export.warrant)


@login_not_required
@require_GET
def link_download(request: HttpRequest, token: str) -> HttpResponseBase:
    """The agency's investigator downloads the package, once, without an account."""
    try:
        export, handle = services.link_use(token=token, ip=request.META.get("REMOTE_ADDR"))
    except services.LinkRefused as refusal:
        return render(
            request,
            "disclosure/link_refused.html",
            {"reason": refusal.message, "code": refusal.status_code},
            status=refusal.status_code,
        )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=export.download_name,
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- the operator's public key, for anyone to pin (no account needed) ------------------------------


def _operator_keys() -> list[operator_keys.OperatorKey] | None:
    """The configured operator key first, then the retired ones; None when no key is configured."""
    found = keys.verification_keys()
    return found if found and found[0].current else None


@login_not_required
@require_GET
def operator_key(request: HttpRequest) -> HttpResponse:
    """The key that signs every package, its fingerprint and how to check a package with it, and the
    retired keys that signed older ones: public, so that a receiving agency without an account can pin
    them."""
    found = _operator_keys()
    context: dict = {
        "key_available": found is not None,
        "api_url": request.build_absolute_uri(reverse("operator-key-api")),
    }
    if found is not None:
        current, *retired = found
        pem_url = reverse("operator-key-pem")
        context |= {
            "pem": current.pem.decode(),
            "fingerprint": current.fingerprint,
            "fingerprint_grouped": current.fingerprint_grouped,
            "retired_keys": [
                {"key": key, "pem": key.pem.decode(), "pem_url": f"{pem_url}?fingerprint={key.fingerprint}"}
                for key in retired
            ],
        }
    return render(request, "disclosure/operator_key.html", context, status=200 if found else 503)


@login_not_required
@require_GET
def operator_key_pem(request: HttpRequest) -> HttpResponse:
    """The current operator key (PEM); ``?fingerprint=`` one of the published keys, current or retired."""
    found = _operator_keys()
    if found is None:
        return HttpResponse(_("No operator key is configured."), status=503, content_type="text/plain; charset=utf-8")
    return published_key_pem(request, found, stem="operator-public-key")


@login_not_required
@require_GET
def verify_script(request: HttpRequest) -> HttpResponseBase:
    """The standalone checker (Python 3 + cryptography), as the agency runs it."""
    return FileResponse(
        open(verify_package.__file__, "rb"),  # FileResponse closes it
        as_attachment=True,
        filename="verify_package.py",
        content_type="text/x-python; charset=utf-8",
    )
