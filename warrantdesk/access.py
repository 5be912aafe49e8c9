"""Access refusals shared by every app: an object the user may not see answers 404, recorded.

Lives in the project shell so that any app (and the audit pages of ``warrantdesk`` itself) can refuse
the same way without importing an app: ids must leak nothing, so "not yours" and "not there" look alike.
"""

import functools

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from rest_framework.request import Request

from warrantdesk.refusals import audit_denied


def deny(user, *, object_type: str, object_id, path: str = "") -> Http404:
    """Record a refused access (``access.denied``) and return the 404 to raise."""
    audit_denied(actor=user, path=path, object_type=object_type, object_id=object_id)
    return Http404("No such page.")


def acting_user(request: HttpRequest | Request) -> User:
    """The signed-in staff member acting in ``request``, typed as a ``User`` for the services' ``actor: User``.

    Only for views that need a signed-in user: every page is (``LoginRequiredMiddleware``) unless marked
    ``login_not_required``, and every API view has an authenticated permission class (``LoggedIn``), so
    there ``request.user`` is never anonymous. Reaching it anonymously anyway is a programming error (a
    view marked open by mistake): it raises ``PermissionDenied`` (a 403) rather
    than ``assert``, because asserts vanish under ``python -O`` and the quality bar is a clear 4xx, never a
    500 and never a service running with an ``AnonymousUser`` as its actor. Works for a DRF ``Request`` too
    (its ``user`` is the same object).
    """
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied
    return user


def refuse_auditors(view):
    """Refuse (404, recorded) a view to auditors who do no other work, whatever else would let them in:
    for routes open without an account whose token is the key (the agency's one-time package link), so
    that a signed-in auditor who holds a link still takes no file of a case."""
    from .roles import is_auditor_only

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if is_auditor_only(request.user):
            # The pattern, not the path: the path holds the token, a secret the log must not keep.
            match = request.resolver_match
            path = f"/{match.route}" if match and match.route else ""
            raise deny(request.user, object_type="auditor-refused", object_id="", path=path)
        return view(request, *args, **kwargs)

    return wrapped
