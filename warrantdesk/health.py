"""Liveness and readiness probes for load balancers and systemd (README "Deployment").

``/healthz``: the process answers (no database). ``/readyz``: the database answers, every migration is
applied, the key store can be read, the file storage can be reached (the media directory writable, or the S3
bucket answering) and the task backend's queue can be reached; 200 when all hold, else 503.
Both are public, answer JSON naming each check "ok" or "failed" and nothing more (no error text, host,
path or version: an outsider learns only that the service is up). They answer before every other
middleware: a load balancer probes the machine's own address over plain HTTP, which the host check and
the HTTPS redirect would refuse.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

_migrations_applied = False  # once true, true until the next deployment (a restart) brings new ones


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_migrations() -> None:
    global _migrations_applied
    if _migrations_applied:
        return
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise RuntimeError("unapplied migrations")
    _migrations_applied = True


def check_keystore() -> None:
    from . import keystore

    if not settings.WARRANTDESK_KEKS:
        raise RuntimeError("no key-encryption key")
    backend = keystore.backend()
    if isinstance(backend, keystore.DirectoryBackend):
        _usable_directory(Path(backend.root), os.R_OK | os.W_OK | os.X_OK, "key store directory not usable")
    next(iter(backend.names()), None)


def _usable_directory(root: Path, mode: int, problem: str) -> None:
    """``root``, or its parent while it is not created yet (it is with the first file), is a directory
    this process may use with ``mode``; else PermissionError(``problem``)."""
    where = root if root.exists() else root.parent
    if not where.is_dir() or not os.access(where, mode):
        raise PermissionError(problem)


def check_storage() -> None:
    from django.core.files.storage import FileSystemStorage, storages

    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        _usable_directory(Path(storage.location), os.W_OK | os.X_OK, "media directory not usable")
        return
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:  # S3 (django-storages): the bucket itself, one HEAD request
        bucket.meta.client.head_bucket(Bucket=bucket.name)
        return
    storage.exists(".readyz")  # another backend: one round trip that raises when it cannot be reached


def check_tasks() -> None:
    from django.tasks import task_backends

    backend = task_backends["default"]
    if type(backend).__module__.startswith("django_tasks_db"):
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.order_by().values_list("pk")[:1].exists()


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "migrations": check_migrations,
    "keystore": check_keystore,
    "storage": check_storage,
    "tasks": check_tasks,
}


def readiness() -> dict[str, str]:
    results: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        if name in {"migrations", "tasks"} and results.get("database") != "ok":
            results[name] = "failed"  # cannot be known without the database
            continue
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = "failed"
    return results


def _json(body: dict, status: int) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class HealthCheckMiddleware:
    PATHS = {"/healthz", "/healthz/", "/readyz", "/readyz/"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in self.PATHS:
            return self.get_response(request)
        if request.method not in {"GET", "HEAD"}:
            response = _json({"status": "method not allowed"}, 405)
            response["Allow"] = "GET, HEAD"
            return response
        if request.path_info.startswith("/healthz"):
            return _json({"status": "ok"}, 200)
        checks = readiness()
        ready = all(value == "ok" for value in checks.values())
        return _json({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)
