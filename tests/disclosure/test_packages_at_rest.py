"""Export packages and identity sheets at rest: sealed on disk, the same bytes downloaded, built in
clear only in a private temporary directory that never outlives the export."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from disclosure import services
from disclosure.exports import package as exports
from disclosure.models import Export
from disclosure.packages import package_bytes
from tests.helpers import client_for, run_export
from warrantdesk import sealed
from warrantdesk.models import AuditAction, AuditEntry


@pytest.fixture
def build_dir(settings, tmp_path) -> Path:
    """Where exports build in clear (FILE_UPLOAD_TEMP_DIR): watched by the tests."""
    path = tmp_path / "build"
    path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(path)
    return path


def stored_bytes(export: Export) -> bytes:
    with default_storage.open(export.package.name, "rb") as handle:
        return handle.read()


def some_message_texts(plain: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(plain)) as archive:
        conversations = json.loads(archive.read("conversations.json"))
    texts = [m["text"] for room in conversations["rooms"] for m in room["messages"] if len(m.get("text", "")) >= 12]
    assert texts
    return texts[:50]


def test_the_package_on_disk_is_sealed_and_holds_no_plaintext(approved_warrant, legal_officer, build_dir):
    export = run_export(approved_warrant, legal_officer)
    assert export.status == Export.Status.READY, export.error

    on_disk = stored_bytes(export)
    plain = package_bytes(export)

    assert on_disk.startswith(sealed.MAGIC)
    assert b"PK\x03\x04" not in on_disk and b"PK\x01\x02" not in on_disk
    for text in some_message_texts(plain):
        assert text.encode() not in on_disk
    assert b"manifest.json" not in on_disk and approved_warrant.reference.encode() not in on_disk[200:]
    # What the investigator checks is the plaintext: its hash and size, as the page shows them.
    assert hashlib.sha256(plain).hexdigest() == export.package_sha256
    assert len(plain) == export.package_size
    # The signed manifest is kept in the database, byte for byte, from publication on.
    manifest = zipfile.ZipFile(io.BytesIO(plain)).read("manifest.json")
    assert export.manifest.encode() == manifest
    assert hashlib.sha256(export.manifest.encode()).hexdigest() == export.manifest_sha256
    # Nothing in clear is left where it was built.
    assert list(build_dir.iterdir()) == []


def test_download_and_one_time_link_give_the_plaintext_package(approved_warrant, legal_officer, client):
    export = run_export(approved_warrant, legal_officer)
    plain = package_bytes(export)

    web = client_for(legal_officer).get(reverse("disclosure:export-download", args=[export.pk]))
    api = client_for(legal_officer).get(f"/api/v1/exports/{export.pk}/download/")
    _link, token = services.export_issue_link(export=export, actor=legal_officer, recipient="Insp. Yoon", hours=1)
    link = client.get(reverse("link-download", args=[token]))

    for response in (web, api, link):
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == plain
    assert hashlib.sha256(plain).hexdigest() == export.package_sha256


def test_a_damaged_package_is_refused_before_the_first_byte_and_the_link_is_not_spent(
    approved_warrant, legal_officer, client
):
    export = run_export(approved_warrant, legal_officer)
    path = Path(default_storage.path(export.package.name))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # one bit, in the middle of the package
    path.write_bytes(bytes(data))
    _link, token = services.export_issue_link(export=export, actor=legal_officer, recipient="Insp. Yoon", hours=1)

    web = client_for(legal_officer).get(reverse("disclosure:export-download", args=[export.pk]))
    api = client_for(legal_officer).get(f"/api/v1/exports/{export.pk}/download/")
    link = client.get(reverse("link-download", args=[token]))

    assert web.status_code == 409 and "altered" in web.content.decode()
    assert api.status_code == 409 and api.json()["code"] == "file_damaged"
    assert link.status_code == 409 and "altered" in link.content.decode()
    assert not export.links.filter(used_at__isnull=False).exists()  # still usable once repaired
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORT_DOWNLOADED).exists()


def test_a_failed_build_leaves_no_plaintext_behind(approved_warrant, legal_officer, build_dir, monkeypatch):
    real = exports.build_package

    def build_then_fail(scope, *, out_dir, progress=None):
        built = real(scope, out_dir=out_dir, progress=progress)
        assert built.path.is_relative_to(build_dir) and (out_dir.stat().st_mode & 0o777) == 0o700
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports, "build_package", build_then_fail)

    export = run_export(approved_warrant, legal_officer)

    assert export.status == Export.Status.FAILED
    assert list(build_dir.iterdir()) == []
    assert not any(Path(default_storage.location).rglob("*.zip*"))


def test_verify_export_reads_a_stored_package_as_it_lies_on_disk(approved_warrant, legal_officer, capsys):
    export = run_export(approved_warrant, legal_officer)

    call_command("verify_export", default_storage.path(export.package.name))

    assert "VALID" in capsys.readouterr().out


def test_export_warrant_writes_the_plaintext_package(approved_warrant, legal_officer, tmp_path):
    out = tmp_path / "out.zip"

    call_command("export_warrant", approved_warrant.reference, "--out", str(out), "--user", legal_officer.username)

    export = Export.objects.get(warrant=approved_warrant)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == export.package_sha256
