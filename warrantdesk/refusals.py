"""Refusals for permission reasons, recorded as ``access.denied`` wherever they happen.

A page or object the user may not see answers 404 and is recorded by ``warrantdesk.access.deny``;
an action the user may not take (an officer posting an approval, someone else's case being exported,
a registry change by a non-administrator, the logger of a warrant approving it) is refused by the
service with ``PermissionDenied`` or a domain error whose code says "not yours to do". Both end in
``audit_denied``: the route, the method, the object id and the reason code, and nothing of what was
sent (no note, no file name, no identifier), since refused input is exactly what must not be kept.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf_exceptions

from .audit import audit_record
from .models import AuditAction

# Domain refusals that are about who asks, not about the state of the case.
PERMISSION_CODES = frozenset({"four_eyes", "not_allowed", "system_transition", "permission_denied"})


def audit_denied(
    *, actor, path: str, method: str = "", route: str = "", object_type: str = "", object_id="", reason: str = ""
) -> None:
    """Append one ``access.denied`` entry (the one helper every refusal goes through)."""
    # NUL cannot be stored in PostgreSQL text or JSON: shown as U+FFFD, like any undecodable byte.
    details = {
        "object_type": object_type,
        "object_id": str(object_id)[:40].replace("\x00", "\ufffd"),
        "path": path[:300].replace("\x00", "\ufffd"),
    }
    details.update({key: value for key, value in {"method": method, "route": route, "reason": reason}.items() if value})
    audit_record(action=AuditAction.ACCESS_DENIED, actor=actor, details=details)


def reason_of(refusal: BaseException) -> str:
    """The refusal's code when it is one for permission reasons, else "" (a state conflict, bad input)."""
    if isinstance(refusal, PermissionDenied | drf_exceptions.PermissionDenied):
        return "permission_denied"
    code = getattr(refusal, "code", "")
    return code if code in PERMISSION_CODES else ""


def record_refusal(request: HttpRequest, refusal: BaseException) -> bool:
    """Record ``refusal`` of this request if it is one for permission reasons; says whether it was."""
    reason = reason_of(refusal)
    user = getattr(request, "user", None)
    if not reason or user is None or not user.is_authenticated:
        return False  # an anonymous caller is sent to sign in, not refused
    match = getattr(request, "resolver_match", None)
    audit_denied(
        actor=user,
        path=request.path,
        method=request.method or "",
        route=match.view_name if match else "",
        object_id=match.kwargs.get("pk", "") if match else "",
        reason=reason,
    )
    return True


def refused(request: HttpRequest, refusal: BaseException) -> None:
    """A web action refused by its service: recorded when it is for permission reasons, and shown."""
    record_refusal(request, refusal)
    messages.error(request, getattr(refusal, "message", None) or _("You do not have permission to do this."))
