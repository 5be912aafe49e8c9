"""Access refusals shared by every app: an object the user may not see answers 404, recorded.

Lives in the project shell so that any app (and the audit pages of ``warrantdesk`` itself) can refuse
the same way without importing an app: ids must leak nothing, so "not yours" and "not there" look alike.
"""

from django.http import Http404

from warrantdesk.refusals import audit_denied


def deny(user, *, object_type: str, object_id, path: str = "") -> Http404:
    """Record a refused access (``access.denied``) and return the 404 to raise."""
    audit_denied(actor=user, path=path, object_type=object_type, object_id=object_id)
    return Http404("No such page.")
