"""The error responses of the API in its OpenAPI schema (a drf-spectacular postprocessing hook).

Every refusal the API gives has one of two JSON bodies (``warrantdesk.api.exception_handler``):
``Error`` (``{"detail": "…", "code": "…"}``: authentication, refusals, missing objects, conflicts,
throttling, unavailable keys or storage) or ``ValidationError`` (``{"<field>": ["…"]}``: what is wrong
with which input). Which status an operation can give follows from what it is, by the rules below, so
that a route added later is described without anyone remembering to: tests/test_api_fuzz.py calls every
operation as every role and fails on a status or a body the schema does not give.
"""

from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.urls import Resolver404, resolve
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

if TYPE_CHECKING:
    from rest_framework.authentication import BaseAuthentication

ERROR = {
    "type": "object",
    "description": "A refusal: ``detail`` is for people, ``code`` (when given) for programs.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "duplicates": {
            "type": "array",
            "items": {"type": "object"},
            "description": "409 possible_duplicate only: the cases (that the caller may see) it may repeat.",
        },
    },
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "type": "object",
    "description": "Bad input: each field (or ``query``, ``non_field_errors``) with what is wrong with it; "
    "a body that could not be parsed at all gives ``detail`` instead.",
    "additionalProperties": {},
}

# The warrant's id in /api/v1/warrants/{id}/...: the routes outside the warrant viewset (scope, exports,
# follow-ups) say its type themselves, as the viewset's own routes get it from the model.
WARRANT_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The warrant's id.")


class SessionScheme(OpenApiAuthenticationExtension):
    """Staff: the web UI's session cookie, once past the second factor (unsafe methods need the CSRF token)."""

    target_class = "warrantdesk.two_factor.VerifiedSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


class ClientTokenScheme(OpenApiAuthenticationExtension):
    """Scripts and systems: an API client's token with its scopes (warrantdesk/api_clients.py)."""

    target_class = "warrantdesk.api_clients.ClientTokenAuthentication"
    name = "clientToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "wdk_<prefix>_<secret>"}


_DESCRIPTIONS = {
    400: "Bad input (nothing was stored).",
    401: "Not signed in, or the API client's token was refused.",
    403: "Not signed in (past the second factor), or the token lacks the route's scope.",
    404: "No such object, or not one the caller may see (every refusal of a case says the same; recorded).",
    409: "The case is not in a state that allows this (or a possible duplicate: confirm to go on).",
    410: "Gone for good: the warrant's keys were destroyed, or the package expired.",
    415: "The request body's content type is not one the operation reads.",
    429: "Too many of these actions for now (see the Retry-After header).",
    503: "The key store or the file store is not reachable, or not configured.",
}
# Operations under these prefixes read or write a case's sealed files or keys: 410 and 503 are possible.
_CASE_FILES = ("/api/v1/warrants/{id}/", "/api/v1/documents/", "/api/v1/exports/", "/api/v1/follow-ups/")
_WRITE_METHODS = {"post", "put", "patch", "delete"}


def _challenge() -> bool:
    """DRF answers 401 (with WWW-Authenticate) to an unauthenticated call only when the first
    authentication class has a challenge to give; otherwise 403."""
    from rest_framework.settings import api_settings

    # The stub types the setting as the dotted paths it is written as; api_settings hands back the classes.
    first = cast("type[BaseAuthentication]", api_settings.DEFAULT_AUTHENTICATION_CLASSES[0])
    return bool(first().authenticate_header(None)) if api_settings.DEFAULT_AUTHENTICATION_CLASSES else False


def _throttled(path: str, method: str) -> bool:
    try:
        from .api_clients import _THROTTLED
    except ImportError:  # no throttled actions
        return False
    try:
        match = resolve(path.replace("{id}", "1").replace("{size}", "1"))
    except Resolver404:
        return False
    return (match.url_name, method.upper()) in _THROTTLED


def error_statuses(path: str, method: str, operation: dict) -> set[int]:
    """The error statuses an operation can give (its own declared ones aside)."""
    statuses: set[int] = set()
    public = not any(requirement for requirement in operation.get("security", []))
    has_body = "requestBody" in operation
    query = {parameter["name"] for parameter in operation.get("parameters", []) if parameter.get("in") == "query"}
    has_query = bool(query)
    if has_body or query - {"page"} or method in _WRITE_METHODS:
        statuses.add(400)
    if not public:
        statuses |= {401, 403} if _challenge() else {403}
        statuses.add(404)  # refusals, including an auditor's write, answer 404
    if "{" in path or has_query:
        statuses.add(404)  # a missing object; a page past the last
    if method in _WRITE_METHODS:
        statuses.add(409)
    if has_body:
        statuses.add(415)
    if (method in _WRITE_METHODS and not public) or path.startswith(_CASE_FILES):
        statuses |= {410, 503}
    if _throttled(path, method):
        statuses.add(429)
    return statuses


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the components Error and ValidationError, and on every
    operation the error responses it can give (a response the view declared itself is kept)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationError", VALIDATION_ERROR)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(path, method, operation)):
                component = "ValidationError" if status == 400 else "Error"
                declared = responses.get(str(status))
                if declared is not None and "content" in declared:
                    continue
                responses[str(status)] = {
                    "description": (declared or {}).get("description") or _DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
                }
                if status == 429:
                    responses[str(status)]["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                    }
            # A response the view declared without a body (503 of the operator key) gets the Error body.
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400 and "content" not in response:
                    response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return result
