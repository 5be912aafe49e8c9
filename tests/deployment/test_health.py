"""/healthz and /readyz: public, JSON, no detail an outsider could use, 503 when a dependency is down."""

import threading

import pytest
from django.db import connections
from django.test import Client

from warrantdesk import health


def get(path: str, **extra):
    return Client().get(path, **extra)


def in_a_new_thread(function):
    """Run ``function`` in a thread of its own: it gets database connections of its own, opened from
    the current settings (the test's connection is left alone)."""
    result = {}

    def run():
        try:
            result["value"] = function()
        finally:
            connections.close_all()  # this thread's connections, not the test's

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    return result["value"]


def test_healthz_answers_without_the_database_host_check_or_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["warrantdesk.example.org"]

    response = get("/healthz", HTTP_HOST="10.0.0.7")  # how a load balancer probes: the machine's address

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_names_each_check_and_nothing_else():
    response = get("/readyz/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "keystore": "ok", "storage": "ok", "tasks": "ok"},
    }


@pytest.mark.django_db
def test_health_endpoints_need_no_login_and_take_only_get():
    assert get("/readyz").status_code == 200
    assert Client().post("/healthz").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_readyz_answers_503_while_the_database_is_down_and_recovers(monkeypatch):
    down = dict(connections.settings["default"])
    if down["ENGINE"].endswith("sqlite3"):
        down["NAME"] = "/nonexistent/warrantdesk/db.sqlite3"
        down["TEST"] = {**down.get("TEST", {}), "NAME": down["NAME"]}
    else:
        down["PORT"] = "1"  # nothing listens there: connection refused

    monkeypatch.setitem(connections.settings, "default", down)
    while_down = in_a_new_thread(lambda: get("/readyz"))
    monkeypatch.undo()
    after = in_a_new_thread(lambda: get("/readyz"))

    assert while_down.status_code == 503
    assert while_down.json() == {
        "status": "unavailable",
        "checks": {"database": "failed", "migrations": "failed", "keystore": "ok", "storage": "ok", "tasks": "failed"},
    }
    assert "nonexistent" not in while_down.content.decode() and "OperationalError" not in while_down.content.decode()
    assert after.status_code == 200


@pytest.mark.django_db
def test_readyz_fails_when_a_migration_is_not_applied(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr(health, "_migrations_applied", False)
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("a migration", False)])

    response = get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "failed"


@pytest.mark.django_db
def test_readyz_fails_when_the_key_store_cannot_be_read(settings, tmp_path):
    mount = tmp_path / "keys-volume"
    mount.write_text("")  # the shared volume is not mounted as a directory
    settings.WARRANTDESK_KEYRING_DIR = mount / "keyring"

    response = get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "keystore": "failed",
        "storage": "ok",
        "tasks": "ok",
    }


@pytest.mark.django_db
def test_readyz_fails_without_a_key_encryption_key(settings):
    settings.WARRANTDESK_KEKS = []

    assert get("/readyz").json()["checks"]["keystore"] == "failed"


@pytest.mark.django_db
def test_readyz_fails_when_the_media_directory_cannot_be_written(settings, tmp_path):
    mount = tmp_path / "media-volume"
    mount.write_text("")  # the shared volume is not mounted as a directory
    settings.MEDIA_ROOT = str(mount / "media")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}

    response = get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "failed"
    assert "media" not in response.content.decode()  # names the check, never the path


@pytest.mark.django_db
def test_readyz_asks_the_s3_bucket_itself(s3_storage, settings):
    assert get("/readyz").json()["checks"]["storage"] == "ok"

    options = {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": "no-such-bucket-here"}
    settings.STORAGES = {**settings.STORAGES, "default": {**settings.STORAGES["default"], "OPTIONS": options}}

    response = get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "failed"
