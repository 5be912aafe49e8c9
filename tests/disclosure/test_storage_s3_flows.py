"""The application's files in an S3 bucket (WARRANTDESK_STORAGE=s3) against moto's server over HTTP on
127.0.0.1: a warrant's document and an export package are stored sealed (the bucket never holds the
plaintext; the hashes shown are the plaintext's), come out through the permission-checked downloads and
the one-time link, verify with the published key, go with package expiry, and are unreadable once the
warrant's keys are destroyed."""

import datetime as dt
import hashlib
import io

import pytest
from botocore.config import Config
from django.urls import reverse
from django.utils import timezone

from disclosure import services, shredding
from disclosure.exports import verify_package
from disclosure.models import Export
from disclosure.packages import package_bytes
from requests_app import services as intake
from requests_app.models import Warrant
from requests_app.workflow import Status
from tests.factories import warrant_fields
from tests.helpers import client_for, run_export
from warrantdesk import keystore, sealed
from warrantdesk.storage import StorageUnavailable

pytestmark = pytest.mark.usefixtures("s3_storage")  # before the fixtures that store files


def test_a_document_is_sealed_in_the_bucket_and_downloads_through_the_checked_view(
    s3_storage, legal_officer, outsider, agency, pdf_upload, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        warrant = intake.warrant_register(
            actor=legal_officer,
            targets=[intake.TargetInput("UID", "target-1")],
            upload=pdf_upload(),
            **warrant_fields(agency),
        )
    document = warrant.documents.get()

    # Staged under a staging key, re-keyed to the warrant's under a new name, the staged copy deleted.
    assert s3_storage.stored() == {document.file.name}
    raw = s3_storage.raw(document.file.name)
    assert raw.startswith(sealed.MAGIC) and b"%PDF" not in raw
    url = reverse("requests_app:document-download", args=[document.pk])
    response = client_for(legal_officer).get(url)
    assert response.status_code == 200
    plain = b"".join(response.streaming_content)
    assert plain.startswith(b"%PDF") and hashlib.sha256(plain).hexdigest() == document.sha256
    assert hashlib.sha256(raw).hexdigest() != document.sha256
    assert client_for(outsider).get(url).status_code in (403, 404)


def test_an_export_package_in_the_bucket_downloads_by_link_and_by_staff_and_verifies(
    s3_storage, approved_warrant, legal_officer, client, tmp_path
):
    export = run_export(approved_warrant, legal_officer)
    assert export.status == Export.Status.READY, export.error
    assert export.package.name in s3_storage.stored()
    raw = s3_storage.raw(export.package.name)
    assert raw.startswith(sealed.MAGIC) and b"manifest.json" not in raw

    _link, token = services.export_issue_link(export=export, actor=legal_officer, recipient="Insp. Yoon", hours=1)
    by_link = client.get(reverse("link-download", args=[token]))
    by_staff = client_for(legal_officer).get(reverse("disclosure:export-download", args=[export.pk]))
    published = client.get(reverse("operator-key-pem"))  # the key as the operator publishes it
    assert published.status_code == 200
    public_key = b"".join(published.streaming_content) if published.streaming else published.content
    for response in (by_link, by_staff):
        assert response.status_code == 200
        plain = b"".join(response.streaming_content)
        assert hashlib.sha256(plain).hexdigest() == export.package_sha256 and len(plain) == export.package_size
        path = tmp_path / "package.zip"
        path.write_bytes(plain)
        report = verify_package.verify(str(path), public_key_pem=public_key)
        assert report.ok and report.origin_proven, report.problems
    assert client.get(reverse("link-download", args=[token])).status_code != 200  # one time


def test_destroyed_keys_leave_the_objects_unreadable_and_expiry_deletes_the_package(
    s3_storage, approved_warrant, legal_officer, settings
):
    settings.WARRANTDESK_KEY_DESTROY_DAYS = settings.WARRANTDESK_PACKAGE_DAYS = 30
    export = run_export(approved_warrant, legal_officer)
    long_ago = timezone.now() - dt.timedelta(days=31)
    services.export_record_delivery(
        export=export, actor=legal_officer, channel="IN_PERSON", recipient="Insp. Yoon", delivered_at=long_ago
    )
    Warrant.objects.filter(pk=approved_warrant.pk).update(status=Status.CLOSED, closed_at=long_ago)
    document = approved_warrant.documents.get()
    package_bytes(export)  # readable before
    before = {key: s3_storage.raw(key) for key in (export.package.name, document.file.name)}

    assert shredding.keys_destroy_due()["warrants_destroyed"] == 1

    officer = client_for(legal_officer)
    download = reverse("disclosure:export-download", args=[export.pk])
    for url in (download, reverse("requests_app:document-download", args=[document.pk])):
        response = officer.get(url)
        assert response.status_code == 410 and "destroyed" in response.content.decode()
    # Objects may outlive the key (the bucket's old versions, its backups): without the key they are noise.
    for data in before.values():
        with pytest.raises(keystore.KeyDestroyed):
            sealed.open_sealed(io.BytesIO(data)).read()

    # Package expiry deletes the object itself; the document stays until the warrant's retention ends. A
    # store that does not answer fails the run and leaves the name, so the next run deletes it.
    working = settings.STORAGES
    dead = {**working["default"]["OPTIONS"], "endpoint_url": "http://127.0.0.1:9"}
    dead["client_config"] = Config(retries={"max_attempts": 1}, connect_timeout=1)
    settings.STORAGES = {**working, "default": {**working["default"], "OPTIONS": dead}}
    with pytest.raises(StorageUnavailable):
        shredding.packages_expire()
    export.refresh_from_db()
    assert export.purged_at is not None and export.package.name in s3_storage.stored()
    settings.STORAGES = working
    assert shredding.packages_expire()["files_deleted"] == 1
    assert export.package.name not in s3_storage.stored() and document.file.name in s3_storage.stored()
    assert officer.get(download).status_code == 410
