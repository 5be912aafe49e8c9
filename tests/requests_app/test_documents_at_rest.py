"""Documents are stored encrypted under their warrant's files key and read back only through it."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from requests_app import services
from tests.factories import pdf_bytes, warrant_fields
from tests.helpers import client_for, stored_files
from warrantdesk import keystore, sealed


def test_a_logged_warrant_document_is_sealed_under_the_warrant_key_and_reads_back(settings, warrant, legal_officer):
    document = warrant.documents.get()
    raw = default_storage.open(document.file.name, "rb").read()
    assert raw.startswith(sealed.MAGIC)
    assert b"%PDF" not in raw
    header, _start = sealed.Header.read(default_storage.open(document.file.name, "rb"))
    assert header.key_name == keystore.warrant_files_key(warrant.reference)
    plain = services.document_file(document).read()
    assert plain.startswith(b"%PDF") and len(plain) == document.size
    response = client_for(legal_officer).get(reverse("requests_app:document-download", args=[document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == plain
    assert int(response["Content-Length"]) == document.size


def test_no_staging_key_or_staged_copy_outlives_the_logging(
    settings, legal_officer, agency, pdf_upload, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        warrant = services.warrant_register(
            actor=legal_officer,
            targets=[services.TargetInput("UID", "target-1")],
            upload=pdf_upload(),
            **warrant_fields(agency),
        )
    staging = keystore.names("staging/")
    assert len(staging) == 1 and keystore.destroyed_at(staging[0]) is not None
    stored = {path.relative_to(settings.MEDIA_ROOT).as_posix() for path in stored_files(settings.MEDIA_ROOT)}
    assert stored == {warrant.documents.get().file.name}


def test_a_document_added_later_is_sealed_directly_under_the_warrant_key(settings, warrant, legal_officer):
    before = set(keystore.names("staging/"))
    document = services.document_upload(
        warrant=warrant,
        upload=SimpleUploadedFile("annex.pdf", pdf_bytes("annex"), "application/pdf"),
        actor=legal_officer,
        kind="ANNEX",
    )
    assert set(keystore.names("staging/")) == before
    assert services.document_file(document).read() == pdf_bytes("annex")


@pytest.mark.parametrize("door", ["web", "api"])
def test_after_the_warrant_key_is_destroyed_a_download_says_so_clearly(settings, warrant, legal_officer, door):
    document = warrant.documents.get()
    keystore.destroy(keystore.warrant_files_key(warrant.reference))
    client = client_for(legal_officer)
    if door == "web":
        response = client.get(reverse("requests_app:document-download", args=[document.pk]))
        assert response.status_code == 410
        assert "Irreversible: the key was destroyed on" in response.content.decode()
    else:
        response = client.get(f"/api/v1/documents/{document.pk}/download/")
        assert response.status_code == 410
        assert response.json()["code"] == "key_destroyed"


def test_a_stored_document_altered_on_disk_is_refused_not_served(settings, warrant, legal_officer):
    document = warrant.documents.get()
    path = settings.MEDIA_ROOT / document.file.name
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    response = client_for(legal_officer).get(reverse("requests_app:document-download", args=[document.pk]))
    assert response.status_code == 409
    assert "does not decrypt" in response.content.decode()
