"""The server-error handler (``handler500``): a database that cannot be reached is a clean 503.

When PostgreSQL restarts or the network to it drops, the first query of a request (often the session's, in
a middleware) raises ``OperationalError``/``InterfaceError``. Django would answer its generic 500; this
handler answers 503 with ``Retry-After`` instead: an HTML page that needs no database, or JSON under
``/api/``. Nothing of the error goes to the client; the log names only its type. The app needs no restart
afterwards: a broken connection is dropped at the end of the request, and with persistent connections
(``DB_CONN_MAX_AGE``) ``CONN_HEALTH_CHECKS`` tests one before reusing it (tests/test_faults.py).
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views import defaults

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    exc = sys.exception()
    if not isinstance(exc, OperationalError | InterfaceError):
        return defaults.server_error(request)
    logger.error("database unavailable (%s): answered 503", type(exc).__name__)
    response: HttpResponse
    if request.path_info.startswith("/api/"):
        detail = _("The database cannot be reached right now. Try again in a minute.")
        response = JsonResponse({"detail": detail, "code": "database_unavailable"}, status=503)
    else:
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
