"""Access refusals shared by every app: an object the user may not see answers 404, recorded.

Lives in the project shell so that any app (and the audit pages of ``warrantdesk`` itself) can refuse
the same way without importing an app: ids must leak nothing, so "not yours" and "not there" look alike.
"""

import functools

from django.http import Http404

from warrantdesk.refusals import audit_denied


def deny(user, *, object_type: str, object_id, path: str = "") -> Http404:
    """Record a refused access (``access.denied``) and return the 404 to raise."""
    audit_denied(actor=user, path=path, object_type=object_type, object_id=object_id)
    return Http404("No such page.")


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
