"""Task workers on several machines against one PostgreSQL run every task exactly once.

django-tasks-db's worker takes a task with ``SELECT … FOR UPDATE SKIP LOCKED`` and marks it RUNNING in
the same transaction: a second worker skips the locked row instead of waiting for it and taking it too.
Two real ``manage.py db_worker`` processes drain N tasks here; each task's run is recorded in a file.
"""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
TASKS = 60
WORKER = [
    sys.executable,
    "manage.py",
    "db_worker",
    "--batch",
    "--no-startup-delay",
    "--interval",
    "0.05",
    "--queue-name",
    "*",
]

pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":", 1)[0] not in {"postgres", "postgresql"},
    reason="several workers against one server: PostgreSQL (make test-postgres)",
)


def database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'])}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{quote(db['NAME'])}"
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_run_each_of_n_tasks_exactly_once(settings, tmp_path):
    from django_tasks_db.models import DBTaskResult

    from tests.deployment.probe_tasks import record_run

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    log = tmp_path / "runs.log"
    for number in range(TASKS):
        record_run.enqueue(number, str(log))
    env = {**os.environ, "DATABASE_URL": database_url(), "WARRANTDESK_VAR_DIR": str(tmp_path / "var")}

    workers = [
        subprocess.Popen(
            [*WORKER, "--worker-id", name],
            cwd=ROOT,
            env={**env, "PROBE_WORKER": name},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("machine-a", "machine-b")
    ]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], errors
    runs = [line.split() for line in log.read_text().splitlines()]
    assert Counter(int(number) for number, _ in runs) == Counter(range(TASKS))  # each once, none missing
    results = DBTaskResult.objects.filter(task_path__endswith="record_run")
    assert results.count() == TASKS and set(results.values_list("status", flat=True)) == {"SUCCESSFUL"}
    by_worker = Counter(worker for _, worker in runs)
    assert set(by_worker) == {"machine-a", "machine-b"}, by_worker  # both took tasks: they ran side by side
