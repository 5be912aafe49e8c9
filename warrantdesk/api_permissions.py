from rest_framework import permissions


class DenyAll(permissions.BasePermission):
    """The default: an API view that does not name its permissions is closed to everyone."""

    def has_permission(self, request, view) -> bool:
        return False


class LoggedIn(permissions.IsAuthenticated):
    """Signed in and active; case-level checks happen in the selectors and services."""

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.user.is_active
