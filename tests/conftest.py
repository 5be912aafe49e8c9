"""Personas and fixtures shared by the whole suite.

legal_officer logs warrants, reviewer is assigned to review them, outsider has the same roles as
the legal team but no case assigned, auditor reads the log, admin sees everything.
"""

import itertools
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from requests_app import services
from requests_app.services import TargetInput
from tests.factories import AgencyFactory, UserFactory, pdf_bytes, warrant_fields
from warrantdesk.roles import Role

LOCALE_DIR = Path(django_settings.BASE_DIR) / "locale"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """SQLite: test in a database file, as `make run` does, not in the shared in-memory database.

    Threads sharing the in-memory database fail at once with "database table is locked"; with a
    file they queue for the write lock as production does (IMMEDIATE transactions, 30 s timeout).
    """
    database = django_settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("sqlite") / "test.sqlite3")


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://... (scripts/postgres.sh start)")


# Test keys: a KEK (and an older one, still accepted for unwrapping) and an operator signing key.
TEST_KEK = bytes(range(32))
TEST_OLD_KEK = bytes(range(32, 64))
TEST_SIGNING_KEY_PEM = (
    Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode()
)


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.MEDIA_ROOT = tmp_path / "media"
    # Like production before the worker picks a task up: enqueued, not run. Tests that need the
    # background work done use the `immediate_tasks` fixture or run the real db_worker.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.WARRANTDESK_MAX_UPLOAD_BYTES = 1024 * 1024
    settings.WARRANTDESK_KEKS = [TEST_KEK, TEST_OLD_KEK]
    settings.WARRANTDESK_KEYSTORE = "dir"
    settings.WARRANTDESK_KEYRING_DIR = tmp_path / "keyring"  # apart from the database, as in production
    settings.WARRANTDESK_SIGNING_KEY = TEST_SIGNING_KEY_PEM
    settings.WARRANTDESK_PDF_PROCESSES = 1  # small test exports: no worker pool to start


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """LocaleMiddleware leaves the last request's language active in the thread: start each test in English."""
    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def legal_officer(db):
    return UserFactory(username="alice", role=Role.INTAKE_OFFICER)


@pytest.fixture
def second_officer(db):
    return UserFactory(username="dave", role=Role.INTAKE_OFFICER)


@pytest.fixture
def reviewer(db):
    return UserFactory(username="bob", role=Role.REVIEWER)


@pytest.fixture
def second_reviewer(db):
    return UserFactory(username="erin", role=Role.REVIEWER)


@pytest.fixture
def outsider(db):
    """Same roles as the legal team, but no case assigned: must see nothing of other cases."""
    user = UserFactory(username="charlie", role=Role.INTAKE_OFFICER)
    user.groups.add(*UserFactory(username="charlie-r", role=Role.REVIEWER).groups.all())
    return user


@pytest.fixture
def auditor(db):
    return UserFactory(username="audrey", role=Role.AUDITOR)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", role=Role.ADMINISTRATOR)


@pytest.fixture
def agency(db):
    return AgencyFactory(code="scdpo", name="Seoul Central District Prosecutors' Office")


_PDF_NUMBERS = itertools.count(1)


@pytest.fixture
def pdf_upload():
    def make(name: str = "warrant.pdf", content: bytes | None = None) -> SimpleUploadedFile:
        # Distinct content by default: the same file attached to two warrants is a possible duplicate.
        content = content if content is not None else pdf_bytes(f"{name} #{next(_PDF_NUMBERS)}")
        return SimpleUploadedFile(name, content, "application/pdf")

    return make


@pytest.fixture
def warrant(legal_officer, reviewer, agency, pdf_upload):
    """A received warrant with its document, logged by legal_officer and assigned to reviewer."""
    warrant = services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", "target-1"), TargetInput("PHONE", "010-1234-5678")],
        upload=pdf_upload(),
        **warrant_fields(agency),
    )
    services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
    return warrant


@pytest.fixture
def officer_reviewer(db):
    """Both intake officer and reviewer: may log warrants and review others' cases, never approve their own."""
    user = UserFactory(username="grace", role=Role.INTAKE_OFFICER)
    user.groups.add(Group.objects.get(name=Role.REVIEWER.value))
    return user


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations():
    """Compile locale/*.po once when a .mo is missing or stale (the Makefile does this for `make run`)."""
    for po_file in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po")):
        mo_file = po_file.with_suffix(".mo")
        if not mo_file.exists() or mo_file.stat().st_mtime < po_file.stat().st_mtime:
            call_command("compilemessages", ignore_patterns=[".venv", "var"], verbosity=0)
            break


@pytest.fixture
def immediate_tasks(settings):
    """Run background tasks at once, when the enqueuing transaction commits."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


# --- S3 storage (WARRANTDESK_STORAGE=s3) against moto's server on 127.0.0.1 -------------------------------


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 endpoint over HTTP on loopback: $WARRANTDESK_TEST_S3_URL (scripts/s3.sh start), else
    moto's server started here for the session (in memory, stopped at the end)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    if url := os.environ.get("WARRANTDESK_TEST_S3_URL"):
        yield url
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("moto_server exited at start")
                time.sleep(0.1)
        else:
            pytest.fail("moto_server not ready after 20 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """STORAGES["default"] in a fresh bucket of the S3 endpoint, as WARRANTDESK_STORAGE=s3 sets it; request
    it before any fixture that stores a file (``warrant``). Yields the boto3 client and the bucket name."""
    import uuid
    from types import SimpleNamespace

    import boto3

    bucket = f"test-{uuid.uuid4().hex[:12]}"
    options = {
        "bucket_name": bucket,
        "endpoint_url": s3_endpoint,
        "region_name": "us-east-1",
        "addressing_style": "path",
        "access_key": "testing",
        "secret_key": "testing",
    }
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "warrantdesk.storage.S3Storage", "OPTIONS": options},
    }

    def stored() -> set[str]:
        return {item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])}

    def raw(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    yield SimpleNamespace(client=client, bucket=bucket, endpoint=s3_endpoint, stored=stored, raw=raw)
    for key in stored():
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)
