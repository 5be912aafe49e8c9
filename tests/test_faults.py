"""A worker killed outright (SIGKILL) in the middle of its work: after a restart the work completes exactly once.

The real processes run: ``manage.py task_worker`` (django-tasks-db's ``db_worker`` that takes back what a dead
worker of the same id left running) and ``manage.py run_periodic``. Each is stopped at a named step
(``warrantdesk.faults.checkpoint``: it writes a marker and sleeps), killed with SIGKILL once the marker is
there, and started again without the pause. SQLite (a database file both processes open) or PostgreSQL.
"""

# ruff: noqa: F811 (the disclosure fixtures, imported, are arguments of the tests)
from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from disclosure import services
from disclosure.models import Export, Message, PendingRekey
from disclosure.packages import package_open
from requests_app.models import FollowUpRequest
from requests_app.workflow import Status
from tests.conftest import TEST_KEK, TEST_OLD_KEK, TEST_SIGNING_KEY_PEM
from tests.disclosure.conftest import approved_warrant, delivered, people, store  # noqa: F401
from tests.helpers import arranged_follow_up
from warrantdesk.audit import verify_chain
from warrantdesk.models import AuditAction, AuditEntry, PeriodicJob

ROOT = Path(__file__).resolve().parents[1]
WORKER = [
    sys.executable,
    "manage.py",
    "task_worker",
    "--skip-checks",
    "--queue-name",
    "*",
    "--interval",
    "0.05",
    "--no-startup-delay",
]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'])}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{quote(db['NAME'])}"
    )


@pytest.fixture
def worker_env(settings, tmp_path):
    """The environment of a worker process sharing this test's database, files and keys."""
    var = tmp_path / "var"
    settings.MEDIA_ROOT = var / "media"
    settings.WARRANTDESK_KEYRING_DIR = var / "keyring"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    (tmp_path / "scratch").mkdir()
    return {
        **os.environ,
        "TMPDIR": str(tmp_path / "scratch"),  # where the worker builds packages in clear
        "DATABASE_URL": database_url(),
        "WARRANTDESK_VAR_DIR": str(var),
        "WARRANTDESK_KEK": ",".join(base64.b64encode(key).decode() for key in (TEST_KEK, TEST_OLD_KEK)),
        "WARRANTDESK_SIGNING_KEY": TEST_SIGNING_KEY_PEM,
        "WARRANTDESK_KEYSTORE": "dir",
        "WARRANTDESK_KEYRING_DIR": str(var / "keyring"),
        "WARRANTDESK_PDF_PROCESSES": "1",
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "LOG_LEVEL": "WARNING",
    }


def run_killed_at(command: list[str], env: dict, point: str, marker: Path, timeout: float = 60) -> None:
    """Start ``command``, wait until it reaches ``point``, SIGKILL it (and reap it: a zombie looks alive)."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**env, "WARRANTDESK_FAULT_PAUSE": point, "WARRANTDESK_FAULT_MARKER": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"{command[2]} ended before {point}: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{command[2]} did not reach {point} in {timeout} s")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def run_to_end(command: list[str], env: dict, timeout: float = 120) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def task_rows(task_name: str):
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path__endswith=task_name)


@pytest.mark.django_db(transaction=True)
def test_export_and_identity_sheet_killed_midway_complete_once_after_a_restart(
    worker_env, approved_warrant, legal_officer, tmp_path
):
    export = services.export_start(warrant=approved_warrant, actor=legal_officer)
    worker = [*WORKER, "--worker-id", "machine-a-1"]
    run_killed_at(worker, worker_env, "export.built", tmp_path / "paused")

    export.refresh_from_db()
    assert export.status == Export.Status.RUNNING and not export.package  # nothing published
    scratch = Path(worker_env["TMPDIR"])
    left = [path.name for path in scratch.glob("warrantdesk-*")]
    assert len(left) == 1 and left[0].startswith("warrantdesk-export-")  # the plaintext, left behind
    assert task_rows("run_export").get().status == "RUNNING"  # db_worker alone would never run it again

    log = run_to_end([*worker, "--batch"], worker_env)  # the same worker, restarted
    assert "left running by a dead worker machine-a-1: queued again" in log
    assert list(scratch.glob("warrantdesk-*")) == []  # the dead worker's plaintext removed, the new build's too

    export.refresh_from_db()
    assert export.status == Export.Status.READY, export.error
    task = task_rows("run_export").get()
    assert task.status == "SUCCESSFUL" and task.worker_ids == ["machine-a-1", "machine-a-1"]
    assert Export.objects.filter(warrant=approved_warrant).count() == 1
    with package_open(export) as handle:
        assert zipfile.ZipFile(io.BytesIO(handle.read())).testzip() is None
    stored = list((Path(worker_env["WARRANTDESK_VAR_DIR"]) / "media" / "exports").rglob("*"))
    assert [path for path in stored if path.is_file()] == [
        Path(worker_env["WARRANTDESK_VAR_DIR"]) / "media" / export.package.name
    ]
    assert AuditEntry.objects.filter(action=AuditAction.EXPORT_READY, object_id=str(export.pk)).count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.EXPORT_STARTED, object_id=str(export.pk)).count() == 2
    approved_warrant.refresh_from_db()
    assert approved_warrant.status == Status.EXPORTED

    # Then its identity sheet (a follow-up with one approved pseudonym, arranged), killed the same way.
    from disclosure.tasks import run_identity_sheet

    follow_up = arranged_follow_up(export, legal_officer)
    run_identity_sheet.enqueue(follow_up.pk, legal_officer.pk)
    run_killed_at(worker, worker_env, "export.built", tmp_path / "paused-again")
    sheets = Export.objects.filter(follow_up=follow_up)
    assert [sheet.status for sheet in sheets] == [Export.Status.RUNNING]

    run_to_end([*worker, "--batch"], worker_env)

    sheet = sheets.get()  # one sheet, not a second one beside the interrupted one
    assert sheet.status == Export.Status.READY, sheet.error
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUpRequest.Status.DISCLOSED
    assert AuditEntry.objects.filter(action=AuditAction.FOLLOWUP_DISCLOSED, object_id=str(sheet.pk)).count() == 1
    assert task_rows("run_identity_sheet").get().status == "SUCCESSFUL"
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_purge_killed_after_a_batch_completes_once_after_a_restart(worker_env, store, tmp_path):
    expired = Message.objects.count()
    assert expired > 0  # the generated store is months old: everything is beyond retention
    runner = [sys.executable, "manage.py", "run_periodic", "--skip-checks", "--job", "retention.purge"]
    run_killed_at(runner, worker_env, "retention.batch", tmp_path / "paused")

    assert Message.objects.count() == 0  # the batch committed ...
    assert PendingRekey.objects.exists()  # ... and its days wait for their keys to go
    job = PeriodicJob.objects.get(name="retention.purge")
    assert job.running_on and job.lease_until is not None  # the dead runner's lease, hours long

    # Restarted at once: the lease of a runner of this machine whose process is gone is taken over.
    run_to_end(runner, worker_env)

    assert not PendingRekey.objects.exists()
    job.refresh_from_db()
    assert job.last_outcome == PeriodicJob.Outcome.OK and job.lease_until is None
    purges = AuditEntry.objects.filter(action=AuditAction.RETENTION_PURGED)
    assert purges.count() == 1  # the killed run recorded nothing; the restarted one finished the work
    details = purges.get().details
    assert details["messages_removed"] == 0 and details["days_destroyed"] >= 1 and details["finished"]
    ran = AuditEntry.objects.filter(action=AuditAction.PERIODIC_RAN)
    assert [entry.details["job"] for entry in ran] == ["retention.purge"]
    assert verify_chain().ok


class BlockingCollector:
    """An SMTP handler that accepts messages, except that it holds the ``hold_at``-th one (1-based) until
    ``release`` is set and then refuses it: the sender is killed while that message is in flight."""

    def __init__(self, hold_at: int):
        import threading

        self.accepted: list[str] = []
        self.seen = 0
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import email

        self.seen += 1
        if self.seen == self.hold_at:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 Sender went away"
        self.accepted.append(str(email.message_from_bytes(envelope.content)["Message-ID"]))
        return "250 Message accepted"


@pytest.mark.django_db(transaction=True)
def test_sender_killed_mid_group_sends_each_notice_once_after_a_restart(worker_env, delivered, legal_officer):
    from aiosmtpd.controller import Controller

    from disclosure.models import Notification
    from disclosure.notifications.services import notification_requeue
    from disclosure.tasks import send_due_notifications
    from tests.helpers import free_port

    due = list(
        Notification.objects.filter(status=Notification.Status.PENDING)
        .exclude(account__email="")
        .values_list("message_id", flat=True)
    )
    assert len(due) == 3
    collector = BlockingCollector(hold_at=2)  # the second notice of the first group of two
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    env = {**worker_env, "MAIL_BACKEND": "smtp", "SMTP_PORT": str(port), "WARRANTDESK_NOTIFY_GROUP": "2"}
    worker = [*WORKER, "--worker-id", "machine-c-1"]
    try:
        send_due_notifications.enqueue()
        process = subprocess.Popen(worker, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert collector.holding.wait(60), "the sender never reached the second notice"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        collector.release.set()

        run_to_end([*worker, "--batch"], env)  # restarted: the task runs again, sends what was never claimed
        in_flight = Notification.objects.filter(status=Notification.Status.SENDING).exclude(
            message_id__in=collector.accepted
        )
        # The legal team finds the unconfirmed notices missing from the mail server's log and re-queues them.
        assert in_flight.count() == 1
        for notification in in_flight:
            notification_requeue(notification=notification, actor=legal_officer)
        send_due_notifications.enqueue()
        run_to_end([*worker, "--batch"], env)
    finally:
        collector.release.set()
        controller.stop()

    assert sorted(collector.accepted) == sorted(f"<{mid}>" if not mid.startswith("<") else mid for mid in due)
    assert len(set(collector.accepted)) == len(collector.accepted) == 3  # each notice once, none twice
    assert verify_chain().ok


# --- PostgreSQL restarted under the running app -----------------------------------------------------------

PG_CTL = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))


class PrivatePostgres:
    """A PostgreSQL server of this test alone (own data directory, port and socket directory), so that
    stopping it disturbs no other test run on the machine's shared server."""

    def __init__(self):
        import pwd
        import tempfile

        self.bin = PG_CTL[-1].parent
        self.base = Path(tempfile.mkdtemp(prefix="warrantdesk-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            os.chown(self.base, pwd.getpwnam("postgres").pw_uid, -1)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.run("initdb", "-D", str(self.data), "-U", "warrantdesk", "-A", "trust", "-E", "UTF8", "--locale=C", "-N")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "warrantdesk", "warrantdesk")
        self.url = f"postgres://warrantdesk:warrantdesk@127.0.0.1:{self.port}/warrantdesk"

    def run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True, cwd=self.base)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        import shutil

        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.base, ignore_errors=True)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, headers: dict | None = None) -> tuple[int, str, dict]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=20) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


@pytest.mark.skipif(not PG_CTL, reason="needs PostgreSQL's server binaries (scripts/postgres.sh start installs them)")
def test_postgresql_restarted_under_the_app_gives_503_then_recovers_without_restarting_it(tmp_path):
    server = PrivatePostgres()
    app = None
    try:
        env = {
            **os.environ,
            "DATABASE_URL": server.url,
            "WARRANTDESK_VAR_DIR": str(tmp_path / "var"),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_COOKIES": "0",
            "DB_CONN_MAX_AGE": "60",  # persistent connections, as in production: they must survive the restart
            "LOG_LEVEL": "WARNING",
        }
        run_to_end([sys.executable, "manage.py", "migrate", "--skip-checks", "-v", "0"], env, timeout=300)
        port = free_port()
        app = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "GUNICORN_LOG_LEVEL": "warning"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if fetch(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        page, api = f"{base}/transparency/", f"{base}/api/v1/warrants/"
        token = {"Authorization": "Bearer wdk_0000abcd_" + "x" * 43, "Accept": "application/json"}
        assert [fetch(page)[0] for _ in range(6)] == [200] * 6  # both workers hold a connection now

        server.stop()
        down = [fetch(page) for _ in range(4)]
        assert [status for status, _body, _headers in down] == [503] * 4
        for _status, body, headers in down:
            assert "briefly unavailable" in body and "Traceback" not in body and "psycopg" not in body
            assert headers.get("Retry-After") == "30"
        status, body, _headers = fetch(api, token)
        assert status == 503 and json.loads(body)["code"] == "database_unavailable"
        assert json.loads(fetch(f"{base}/readyz")[1])["checks"]["database"] != "ok"

        server.start()
        assert [fetch(page)[0] for _ in range(6)] == [200] * 6  # the same app processes, no restart
        assert json.loads(fetch(f"{base}/readyz")[1])["checks"]["database"] == "ok"
        assert fetch(api, token)[0] in {401, 403}  # the unknown token refused, the database answering
        assert app.poll() is None
    finally:
        if app is not None:
            app.terminate()
            _out, errors = app.communicate(timeout=30)
            assert "Traceback" not in errors or "OperationalError" in errors
        server.remove()
