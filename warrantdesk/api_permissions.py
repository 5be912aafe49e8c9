from rest_framework import permissions


class DenyAll(permissions.BasePermission):
    """The default: an API view that does not name its permissions is closed to everyone."""

    def has_permission(self, request, view) -> bool:
        return False


class LoggedIn(permissions.IsAuthenticated):
    """Signed in and active; case-level checks happen in the selectors and services. An auditor who
    does no other work reads only: any other method is refused before a view parses its input, with
    the 404 (recorded) every refusal answers, so that a write route says nothing of what it holds. A call
    with an API client's token must also hold the route's scope (warrantdesk/api_clients.py)."""

    def has_permission(self, request, view) -> bool:
        if not (super().has_permission(request, view) and request.user.is_active):
            return False
        from .api_clients import check_scope

        check_scope(request)  # an API client's token: only within its scopes
        if request.method not in permissions.SAFE_METHODS:
            from .access import deny
            from .roles import is_auditor_only

            if is_auditor_only(request.user):
                raise deny(request.user, object_type="api-write", object_id="", path=request.path)
        return True
