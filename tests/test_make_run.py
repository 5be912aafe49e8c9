"""`make run` must keep working: the app starts as it does and serves the login page; demo data is idempotent."""

import base64
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from guardian.models import UserObjectPermission

from demo.management.commands.seed_demo import DEMO_PASSWORD, DEMO_TOTP_BASE32, USERS
from disclosure.models import Notification
from disclosure.notifications import overdue_q
from requests_app.models import Agency, Document, Investigator, Warrant, WarrantEvent, WarrantTarget
from requests_app.workflow import Status
from tests.helpers import free_port, stored_files
from warrantdesk.audit import verify_chain
from warrantdesk.models import AuditEntry

ROOT = Path(settings.BASE_DIR)


@pytest.mark.slow
def test_the_app_starts_as_make_run_does_and_serves_the_login_page():
    port = free_port()
    env = {**os.environ, "SMOKE_KEEP": "1", "WARRANTDESK_PYTHON": sys.executable}

    result = subprocess.run(
        [str(ROOT / "scripts" / "smoke-run.sh"), str(port)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    kept = re.search(r"smoke-run: kept (\S+)", result.stderr)
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"OK: http://127.0.0.1:{port}/accounts/login/ answered 200" in result.stdout
        log = (Path(kept.group(1)) / "serve.log").read_text()
        assert '"GET /accounts/login/ HTTP/1.1" 200' in log
        assert f"Demo logins (password for all: {DEMO_PASSWORD}):" in log
        # the periodic jobs (the due user notices among them) run next to the worker, and stop with the others
        assert re.search(r"^run_periodic: running .*notifications\.send_due \(every 0:01:00\)", log, re.M)
        assert "run_periodic: notifications.send_due: ok (sent=" in log
        assert "run_periodic: stopped" in log
        for username, _name, _role, _superuser in USERS:
            assert username in log
    finally:
        if kept:
            shutil.rmtree(kept.group(1), ignore_errors=True)


# --- demo data -----------------------------------------------------------------------------------


def everything(media_root) -> dict:
    return {
        "users": get_user_model().objects.count(),
        "groups": Group.objects.count(),
        "agencies": Agency.objects.count(),
        "investigators": Investigator.objects.count(),
        "warrants": sorted(Warrant.objects.values_list("reference", "status")),
        "targets": WarrantTarget.objects.count(),
        "documents": Document.objects.count(),
        "events": WarrantEvent.objects.count(),
        "audit_entries": AuditEntry.objects.count(),
        "case_permissions": UserObjectPermission.objects.count(),
        "files": stored_files(media_root),
    }


@pytest.mark.django_db
def test_seed_demo_loads_warrants_in_several_states():
    call_command("seed_demo", stdout=io.StringIO())

    assert set(Warrant.objects.values_list("status", flat=True)) == {
        Status.RECEIVED,
        Status.VERIFIED,
        Status.SIGNATURE_FAILED,
        Status.APPROVED,
        Status.REJECTED,
        Status.DELIVERED,
    }
    delivered = Warrant.objects.get(status=Status.DELIVERED)
    assert delivered.exports.get().deliveries.exists()
    owed = Notification.objects.filter(warrant=delivered)
    assert owed.exists() and owed.filter(overdue_q(timezone.now())).count() == owed.count()
    assert Warrant.objects.filter(kind=Warrant.Kind.EMERGENCY).exists()
    assert Warrant.objects.overdue().exists()
    assert all(warrant.documents.exists() for warrant in Warrant.objects.all())
    assert verify_chain().ok


@pytest.mark.django_db
def test_seed_demo_run_twice_changes_nothing(settings):
    call_command("seed_demo", stdout=io.StringIO())
    after_first_run = everything(settings.MEDIA_ROOT)

    output = io.StringIO()
    call_command("seed_demo", stdout=output)

    assert everything(settings.MEDIA_ROOT) == after_first_run
    assert "Demo data ready." in output.getvalue()


def test_seed_demo_prints_the_logins_without_touching_the_database():
    output = io.StringIO()

    call_command("seed_demo", "--print-logins", stdout=output)

    lines = output.getvalue().splitlines()
    assert lines[0] == f"Demo logins (password for all: {DEMO_PASSWORD}):"
    assert [line.split()[0] for line in lines[1:-1]] == [username for username, *_rest in USERS]
    assert DEMO_TOTP_BASE32 in lines[-1]  # the demo's second factor


@pytest.mark.django_db
def test_the_printed_demo_logins_work():
    call_command("seed_demo", stdout=io.StringIO())

    refused = [username for username, *_rest in USERS if not Client().login(username=username, password=DEMO_PASSWORD)]
    assert refused == []
    # Every demo user is enrolled with the printed TOTP key: its current code passes the second factor.
    code = f"{TOTP(base64.b32decode(DEMO_TOTP_BASE32)).token():06d}"
    for username, *_rest in USERS:
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        assert device.verify_token(code), username
