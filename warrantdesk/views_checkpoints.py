"""Signed checkpoints for auditors, and the audit key with its standalone checker for everyone."""

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import checkpoints, verify_checkpoint
from .models import Checkpoint
from .views import _auditor_only


@require_GET
def checkpoint_list(request: HttpRequest) -> HttpResponse:
    _auditor_only(request)
    page = Paginator(Checkpoint.objects.order_by("-tree_size"), 50).get_page(request.GET.get("page"))
    return render(request, "warrantdesk/audit_checkpoints.html", {"page": page})


@require_GET
def checkpoint_note(request: HttpRequest, size: int) -> HttpResponse:
    _auditor_only(request)
    checkpoint = Checkpoint.objects.filter(tree_size=size).first()
    if checkpoint is None:
        raise Http404
    response = HttpResponse(checkpoint.note, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="checkpoint-{checkpoint.tree_size}.txt"'
    return response


def _audit_key() -> tuple[str, str, str] | None:
    try:
        key = checkpoints.public_key()
        name = checkpoints.origin()
    except checkpoints.AuditKeyUnavailable:
        return None
    return checkpoints.public_key_pem(key).decode(), verify_checkpoint.key_fingerprint(key), name


@login_not_required
@require_GET
def audit_key(request: HttpRequest) -> HttpResponse:
    """The key that signs the audit checkpoints: public, so that an outside auditor can pin it."""
    found = _audit_key()
    context: dict = {
        "key_available": found is not None,
        "pem_url": request.build_absolute_uri(reverse("audit-key-pem")),
    }
    if found is not None:
        pem, fingerprint, name = found
        context |= {
            "pem": pem,
            "fingerprint_grouped": verify_checkpoint.format_fingerprint(fingerprint),
            "origin": name,
            "verifier_key": verify_checkpoint.verifier_key(name, checkpoints.public_key()),
        }
    return render(request, "warrantdesk/audit_key.html", context, status=200 if found else 503)


@login_not_required
@require_GET
def audit_key_pem(request: HttpRequest) -> HttpResponse:
    found = _audit_key()
    if found is None:
        return HttpResponse(_("No audit key is configured."), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(found[0], content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="audit-public-key.pem"'
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
