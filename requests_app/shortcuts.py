"""Shortcuts other apps' views use to reach a case: the one way to fetch a warrant for a request."""

from django.http import HttpRequest

from warrantdesk.access import deny

from . import selectors
from .models import Warrant


def warrant_or_404(request: HttpRequest, pk) -> Warrant:
    """The warrant ``pk`` if the requesting user may see it; else a recorded refusal raised as 404
    (``access.denied``), the same answer as for a warrant that does not exist."""
    warrant = selectors.warrant_get_visible(user=request.user, pk=pk)
    if warrant is None:
        raise deny(request.user, object_type="warrant", object_id=pk, path=request.path)
    return warrant
