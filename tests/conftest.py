"""Personas and fixtures shared by the whole suite.

legal_officer logs warrants, reviewer is assigned to review them, outsider has the same roles as
the legal team but no case assigned, auditor reads the log, admin sees everything.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from requests_app import services
from requests_app.services import TargetInput
from tests.factories import AgencyFactory, UserFactory, pdf_bytes, warrant_fields
from warrantdesk.roles import Role


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.WARRANTDESK_MAX_UPLOAD_BYTES = 1024 * 1024


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


@pytest.fixture
def pdf_upload():
    def make(name: str = "warrant.pdf", content: bytes | None = None) -> SimpleUploadedFile:
        return SimpleUploadedFile(name, content if content is not None else pdf_bytes(name), "application/pdf")

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
