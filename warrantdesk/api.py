from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from rest_framework import parsers
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.response import Response

from .api_permissions import DenyAll, LoggedIn  # noqa: F401  (re-exported)
from .exceptions import DomainError
from .refusals import record_refusal
from .uploads import NameKeepingMultiPartParser


def exception_handler(exc, context):
    """DRF's handler, plus domain refusals as 400/409 with a readable ``detail`` and a ``code``; a refusal
    for permission reasons is recorded (``warrantdesk.refusals``); every 404 says the same "Not found."."""
    request = context.get("request")
    if request is not None:
        record_refusal(request, exc)
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = NotFound()  # one answer for every missing or hidden object, whatever the view's message
    from rest_framework.views import exception_handler as drf_exception_handler  # import cycle via settings

    return drf_exception_handler(exc, context)


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, keeping the client's raw file name (see warrantdesk.uploads)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            parser = NameKeepingMultiPartParser(
                meta, stream, request.upload_handlers, parsers.get_encoding(parser_context)
            )
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return parsers.DataAndFiles(data, files)


def not_found(request, exception=None):
    """handler404: under /api/v1/ the API's own 404 body (a path no route matches, a NUL in the path), so
    that a client reads JSON whatever the address; elsewhere Django's page."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path_info.startswith("/api/v1/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def bad_request(request, exception=None):
    """handler400: under /api/v1/ a JSON 400 (a body Django refused before any view, e.g. too many fields)."""
    from django.http import JsonResponse
    from django.views.defaults import bad_request as default_bad_request

    if request.path_info.startswith("/api/v1/"):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return default_bad_request(request, exception)
