from urllib.parse import unquote

from django.core.exceptions import BadRequest
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .audit import request_ip
from .exceptions import DomainError
from .refusals import record_refusal


class RequestContextMiddleware:
    """Make the client address available to audit entries written during this request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)

    def process_exception(self, request, exception):
        """A web view that lets ``PermissionDenied`` through (403): recorded like a refused action. A
        domain refusal that escapes a view (a download whose key was destroyed, a stored file that no
        longer decrypts) becomes a page saying why, with its status code, never a 500."""
        record_refusal(request, exception)
        if isinstance(exception, DomainError):
            return render(
                request,
                "refused.html",
                {"reason": exception.message, "code": exception.status_code},
                status=exception.status_code,
            )
        return None


class NulByteGuardMiddleware:
    """No NUL character reaches a view through the URL: a path with one names no page (404), a query
    string with one is a bad request (400). PostgreSQL refuses NUL in any text value, even as a lookup
    parameter, so without this a ``?warrant=1%00`` or ``/audit/cases/1%00/`` became a database error
    (500) there while SQLite answered it. Form and JSON fields are refused by their own validators."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "\x00" in request.path_info:
            raise Http404("No such page.")
        bad = sorted({name for name, values in request.GET.lists() if any("\x00" in v for v in [name, *values])})
        if bad or "\x00" in unquote(request.META.get("QUERY_STRING", "")):
            message = _("A NUL character is not allowed here.")
            if request.path_info.startswith("/api/"):  # the API's usual 400: the fields and what is wrong
                return JsonResponse(
                    {name.replace("\x00", "\ufffd"): [message] for name in bad or ["query"]}, status=400
                )
            raise BadRequest(message)
        return self.get_response(request)
