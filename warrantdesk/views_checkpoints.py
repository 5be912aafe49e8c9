"""Signed checkpoints for auditors, and the audit key with its standalone checker for everyone."""

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import checkpoints, operator_keys, verify_checkpoint
from .models import Checkpoint
from .views import _auditor_only


@require_GET
def checkpoint_list(request: HttpRequest) -> HttpResponse:
    _auditor_only(request)
    page = Paginator(Checkpoint.objects.order_by("-tree_size"), 50).get_page(request.GET.get("page"))
    # Which published key signed each checkpoint: after a rotation the list shows where the key changed.
    found = _audit_keys()
    published = {key.fingerprint: key for key in found[0]} if found else {}
    rows = [(checkpoint, published.get(checkpoint.key_fingerprint)) for checkpoint in page.object_list]
    return render(request, "warrantdesk/audit_checkpoints.html", {"page": page, "rows": rows})


@require_GET
def checkpoint_note(request: HttpRequest, size: int) -> HttpResponse:
    _auditor_only(request)
    checkpoint = Checkpoint.objects.filter(tree_size=size).first()
    if checkpoint is None:
        raise Http404
    response = HttpResponse(checkpoint.note, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="checkpoint-{checkpoint.tree_size}.txt"'
    return response


def _audit_keys() -> tuple[list[operator_keys.OperatorKey], str] | None:
    """The current audit key then the retired ones, and the log's origin; None when no key is configured."""
    try:
        return checkpoints.verification_keys(), checkpoints.origin()
    except checkpoints.AuditKeyUnavailable:
        return None


@login_not_required
@require_GET
def audit_key(request: HttpRequest) -> HttpResponse:
    """The key that signs the audit checkpoints, and the retired keys that signed the older ones:
    public, so that an outside auditor can pin them."""
    found = _audit_keys()
    pem_url = reverse("audit-key-pem")
    context: dict = {"key_available": found is not None, "pem_url": request.build_absolute_uri(pem_url)}
    if found is not None:
        (current, *retired), name = found
        context |= {
            "pem": current.pem.decode(),
            "fingerprint_grouped": current.fingerprint_grouped,
            "origin": name,
            "verifier_key": verify_checkpoint.verifier_key(name, current.public_key),
            "retired_keys": [
                {
                    "key": key,
                    "pem": key.pem.decode(),
                    "verifier_key": verify_checkpoint.verifier_key(name, key.public_key),
                    "pem_url": f"{pem_url}?fingerprint={key.fingerprint}",
                }
                for key in retired
            ],
        }
    return render(request, "warrantdesk/audit_key.html", context, status=200 if found else 503)


@login_not_required
@require_GET
def audit_key_pem(request: HttpRequest) -> HttpResponse:
    """The current audit key (PEM); ``?fingerprint=`` one of the published keys, current or retired."""
    found = _audit_keys()
    if found is None:
        return HttpResponse(_("No audit key is configured."), status=503, content_type="text/plain; charset=utf-8")
    return published_key_pem(request, found[0], stem="audit-public-key")


def published_key_pem(request: HttpRequest, keys: list[operator_keys.OperatorKey], *, stem: str) -> HttpResponse:
    """One published key as a PEM download: the current one (``keys[0]``, ``<stem>.pem``), or with
    ``?fingerprint=`` the published key it names, current or retired (404 for any other)."""
    key = keys[0]
    if "fingerprint" in request.GET:
        named = operator_keys.lookup(keys, request.GET["fingerprint"])
        if named is None:
            raise Http404
        key = named
    filename = f"{stem}.pem" if key.current else f"{stem}-retired-{key.fingerprint[:16]}.pem"
    response = HttpResponse(key.pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_not_required
@require_GET
def verify_script(request: HttpRequest) -> FileResponse:
    """The standalone checker (Python 3 + cryptography), as the auditor runs it."""
    return FileResponse(
        open(verify_checkpoint.__file__, "rb"),  # FileResponse closes it
        as_attachment=True,
        filename="verify_checkpoint.py",
        content_type="text/x-python; charset=utf-8",
    )
