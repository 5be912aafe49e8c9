"""Personas and fixtures shared by the whole suite.

legal_officer logs warrants, reviewer is assigned to review them, outsider has the same roles as
the legal team but no case assigned, auditor reads the log, admin sees everything.
"""

import itertools
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client, TestCase, override_settings
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


def settings_for_tests(files: Path) -> dict:
    """The settings every test runs under, with its files (media, keyring) in ``files``."""
    return {
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
        "MAILERS": {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}},
        "MEDIA_ROOT": files / "media",
        # Like production before the worker picks a task up: enqueued, not run. Tests that need the
        # background work done use the `immediate_tasks` fixture or run the real db_worker.
        "TASKS": {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}},
        "WARRANTDESK_MAX_UPLOAD_BYTES": 1024 * 1024,
        "WARRANTDESK_KEKS": [TEST_KEK, TEST_OLD_KEK],
        "WARRANTDESK_KEYSTORE": "dir",
        "WARRANTDESK_KEYRING_DIR": files / "keyring",  # apart from the database, as in production
        "WARRANTDESK_SIGNING_KEY": TEST_SIGNING_KEY_PEM,
        "WARRANTDESK_PDF_PROCESSES": 1,  # small test exports: no worker pool to start
    }


# The shared world (``shared_world``) set up around the running test, if any: (its files directory, the world).
_SHARED: list[tuple[Path, object]] = []


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    for name, value in settings_for_tests(tmp_path).items():
        setattr(settings, name, value)
    if _SHARED:  # the shared world's files (documents, keys), copied: this test's own to change
        shutil.copytree(_SHARED[-1][0], tmp_path, symlinks=True, dirs_exist_ok=True)


def _from_shared_world(name: str):
    """The shared world's object named like the fixture, fresh from the database (None without one)."""
    found = getattr(_SHARED[-1][1], name, None) if _SHARED else None
    return None if found is None else type(found)._default_manager.get(pk=found.pk)


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """LocaleMiddleware leaves the last request's language active in the thread: start each test in English."""
    translation.activate("en")
    yield
    translation.deactivate()


def make_outsider():
    """Same roles as the legal team, but no case assigned: must see nothing of other cases."""
    user = UserFactory(username="charlie", role=Role.INTAKE_OFFICER)
    user.groups.add(*UserFactory(username="charlie-r", role=Role.REVIEWER).groups.all())
    return user


# The personas by fixture name (the fixtures below, and shared worlds built once for a module).
PERSONAS = {
    "legal_officer": lambda: UserFactory(username="alice", role=Role.INTAKE_OFFICER),
    "second_officer": lambda: UserFactory(username="dave", role=Role.INTAKE_OFFICER),
    "reviewer": lambda: UserFactory(username="bob", role=Role.REVIEWER),
    "second_reviewer": lambda: UserFactory(username="erin", role=Role.REVIEWER),
    "outsider": make_outsider,
    "auditor": lambda: UserFactory(username="audrey", role=Role.AUDITOR),
    "admin_user": lambda: UserFactory(username="root", role=Role.ADMINISTRATOR),
}


@pytest.fixture
def legal_officer(db):
    return _from_shared_world("legal_officer") or PERSONAS["legal_officer"]()


@pytest.fixture
def second_officer(db):
    return _from_shared_world("second_officer") or PERSONAS["second_officer"]()


@pytest.fixture
def reviewer(db):
    return _from_shared_world("reviewer") or PERSONAS["reviewer"]()


@pytest.fixture
def second_reviewer(db):
    return _from_shared_world("second_reviewer") or PERSONAS["second_reviewer"]()


@pytest.fixture
def outsider(db):
    return _from_shared_world("outsider") or PERSONAS["outsider"]()


@pytest.fixture
def auditor(db):
    return _from_shared_world("auditor") or PERSONAS["auditor"]()


@pytest.fixture
def admin_user(db):
    return _from_shared_world("admin_user") or PERSONAS["admin_user"]()


def make_agency():
    return AgencyFactory(code="scdpo", name="Seoul Central District Prosecutors' Office")


@pytest.fixture
def agency(db):
    return _from_shared_world("agency") or make_agency()


_PDF_NUMBERS = itertools.count(1)


def make_pdf_upload(name: str = "warrant.pdf", content: bytes | None = None) -> SimpleUploadedFile:
    # Distinct content by default: the same file attached to two warrants is a possible duplicate.
    content = content if content is not None else pdf_bytes(f"{name} #{next(_PDF_NUMBERS)}")
    return SimpleUploadedFile(name, content, "application/pdf")


@pytest.fixture
def pdf_upload():
    return make_pdf_upload


def make_warrant(legal_officer, reviewer, agency, upload):
    """A received warrant with its document, logged by legal_officer and assigned to reviewer."""
    warrant = services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", "target-1"), TargetInput("PHONE", "010-1234-5678")],
        upload=upload,
        **warrant_fields(agency),
    )
    services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
    return warrant


@pytest.fixture
def warrant(legal_officer, reviewer, agency, pdf_upload):
    """A received warrant with its document, logged by legal_officer and assigned to reviewer."""
    return _from_shared_world("warrant") or make_warrant(legal_officer, reviewer, agency, pdf_upload())


def session_cookies(client: Client) -> dict[str, str]:
    """The cookies of a signed-in client (``client_for``), for a shared world: ``client_with_cookies``."""
    return {name: morsel.value for name, morsel in client.cookies.items()}


def client_with_cookies(cookies: dict[str, str]) -> Client:
    """A new client holding ``cookies``: signed in with a shared world's session, without signing in again."""
    client = Client()
    for name, value in cookies.items():
        client.cookies[name] = value
    return client


def _is_transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return "transactional_db" in item.fixturenames or bool(marker and marker.kwargs.get("transaction"))


def shared_world(build, *, name: str = "world"):
    """An autouse module-scoped fixture: the world ``build()`` returns (a namespace), built once for the
    module's tests instead of once per test (what django.test.TestCase.setUpTestData does for a class).

    ``build`` runs under the settings of every test (``settings_for_tests``), in a transaction that stays
    open around the module's tests: each test's own transaction is a savepoint in it, rolled back after
    the test, so that every test starts from the world exactly as built; the world itself is rolled back
    at the end of the module. Its files (documents, keys) are copied into each test's own directory.
    The fixtures named like an attribute of the world (``warrant``, ``legal_officer``, ...) give the
    world's object, fetched fresh for each test (a test may change its copy in memory). No test of such
    a module may be transactional (``transaction=True`` would empty the database under the world).
    """

    @pytest.fixture(scope="module", autouse=True, name=name)
    def fixture(request, django_db_setup, django_db_blocker, tmp_path_factory):
        transactional = [
            item.nodeid
            for item in request.session.items
            if getattr(item, "module", None) is request.module and _is_transactional(item)
        ]
        assert not transactional, f"transactional tests beside a shared world: {transactional}"
        files = tmp_path_factory.mktemp("shared-world")
        with django_db_blocker.unblock():
            atomics = TestCase._enter_atomics()
        entry = None
        try:
            with (
                django_db_blocker.unblock(),
                override_settings(**settings_for_tests(files)),
                translation.override("en"),
            ):
                world = build()
            entry = (files, world)
            _SHARED.append(entry)
            yield world
        finally:
            if entry in _SHARED:
                _SHARED.remove(entry)
            with django_db_blocker.unblock():
                TestCase._rollback_atomics(atomics)

    return fixture


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
