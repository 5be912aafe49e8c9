"""Structured logs without secrets or identities (README "Deployment", docs/design-notes.md "Logs").

Every line of a request carries its request id (the client's ``X-Request-ID`` when it looks like one,
else a fresh one, echoed in the response) and the signed-in user's numeric id, never a name or an
address. ``RequestLogMiddleware`` writes one line per request with the *route* (``d/<str:token>/``),
never the URL itself: paths and query strings can carry one-time tokens. ``ScrubFilter`` rewrites every
record before it is formatted: values under sensitive keys (password, token, e-mail, phone...) in the
record's extras and arguments, and e-mail addresses, phone numbers, ``key=value`` secrets and long
token-like strings in the message and the traceback, become ``[scrubbed]``.

JSON lines come from python-json-logger (a well-kept formatter: extras become fields, exceptions a
string field) rather than a hand-written one.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

SCRUBBED = "[scrubbed]"
_request_var: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("log_request", default=None)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
SENSITIVE_KEY = re.compile(
    r"pass|secret|token|auth|cookie|session|csrf|key|otp|^code$|recovery|mail|phone|msisdn|name|address|identifier",
    re.IGNORECASE,
)
# Extras the logging machinery and Django set, whose names match SENSITIVE_KEY but hold no secret.
_SAFE_ATTRS = {"name", "filename", "funcName", "module", "pathname", "processName", "threadName", "taskName"}
_TEXT_PATTERNS = [
    # key=value / key: value / "key": "value" for sensitive keys
    (
        re.compile(
            r"""(?i)(["']?\b[\w-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|authorization|cookie|sessionid|"""
            r"""csrf[\w-]*|otp)\b["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s&,;'"}]+)"""
        ),
        r"\1" + SCRUBBED,
    ),
    (re.compile(r"(?i)\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + SCRUBBED),
    # e-mail addresses; a match starts only where a run of address characters starts (the same matches:
    # a leftmost match always does), else a long run of letters or digits (a 5,000-digit id in a URL)
    # is tried from every position in it, quadratic: 290 ms for one line of 8,000 characters, now 0.3 ms
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), SCRUBBED),
    (re.compile(r"(?<![\w.])\+?\d[\d ()-]{7,}\d(?![\w.])"), SCRUBBED),  # phone numbers (and other long numbers)
    # long random-looking strings (one-time link tokens in paths): letters and digits mixed, 24+ characters
    # (a UUID, such as a task's id, is kept)
    (
        re.compile(
            r"(?<![\w-])(?![0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-)(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{24,}(?![\w-])"
        ),
        SCRUBBED,
    ),
]


def scrub_text(text: str) -> str:
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_value(value: Any, *, key: str = "") -> Any:
    if key and SENSITIVE_KEY.search(key):
        return SCRUBBED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: scrub_value(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(v) for v in value)
    if isinstance(value, HttpRequest):
        return describe_request(value)
    if value is None or isinstance(value, int | float | bool):
        return value
    return scrub_text(str(value))


def describe_request(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return f"{request.method} {match.route if match else '-'}"


def _user_id(request: HttpRequest | None) -> str:
    user = getattr(request, "_cached_user", None)  # only a user already loaded: logging never queries
    return str(user.pk) if user is not None and user.is_authenticated else "-"


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``user_id`` (numeric, or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request_var.get()
        if not hasattr(record, "request_id"):
            record.request_id = getattr(request, "request_id", "-")
        if not hasattr(record, "user_id"):
            record.user_id = _user_id(request)
        return True


class ScrubFilter(logging.Filter):
    """Rewrites the record in place: message formatted and scrubbed, sensitive extras replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        if isinstance(record.args, Mapping):
            message = str(record.msg) % scrub_value(record.args) if record.args else message
        record.msg = scrub_text(message)
        record.args = None
        for attr, value in list(vars(record).items()):
            if attr in _RECORD_ATTRS or attr in _SAFE_ATTRS or attr in {"request_id", "user_id"}:
                continue
            setattr(record, attr, scrub_value(value, key=attr))
        return True


_RECORD_ATTRS = set(vars(logging.LogRecord("x", 0, "", 0, "", None, None))) | {"message", "asctime"}


class _ScrubbedExceptions:
    def formatException(self, ei) -> str:
        return scrub_text(super().formatException(ei))  # type: ignore[misc]

    def formatStack(self, stack_info: str) -> str:
        return scrub_text(super().formatStack(stack_info))  # type: ignore[misc]


class PlainFormatter(_ScrubbedExceptions, logging.Formatter):
    pass


class JsonFormatter(_ScrubbedExceptions, _JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")  # ISO 8601 in UTC
        super().__init__(*args, **kwargs)


access_logger = logging.getLogger("warrantdesk.access")


class RequestLogMiddleware:
    """Request id in, request id out, and one access line per request: method, route, status, time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex  # type: ignore[attr-defined]
        token = _request_var.set(request)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
            access_logger.info(
                "%s %s %s",
                request.method,
                describe_request(request).split(" ", 1)[1],
                response.status_code,
                extra={
                    "method": request.method,
                    "route": describe_request(request).split(" ", 1)[1],
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            _request_var.reset(token)
