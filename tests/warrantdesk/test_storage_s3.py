"""The S3 storage (WARRANTDESK_STORAGE=s3, warrantdesk/storage.py) against moto's server over HTTP on
127.0.0.1: sealed files go in and come out, read by byte ranges (a ZIP's central directory without the
whole object), never overwritten, and the settings build it from the environment."""

import io
import os
import subprocess
import sys
import zipfile
from typing import cast

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from warrantdesk import keystore, sealed, storage

pytestmark = pytest.mark.usefixtures("s3_storage")


def storage_events():
    """The hooks of the S3 client the storage itself uses."""
    return cast(storage.S3Storage, default_storage).connection.meta.client.meta.events


def get_ranges(s3_storage) -> list[str]:
    """Records the Range of every GetObject the storage's own client sends from now on."""
    ranges: list[str] = []
    storage_events().register(
        "before-call.s3.GetObject", lambda params, **kw: ranges.append(params.get("headers", {}).get("Range", "ALL"))
    )
    return ranges


def big_zip() -> bytes:
    """A 3 MiB package-like ZIP (incompressible members) with a small manifest at the end."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(12):
            archive.writestr(f"part-{index}.bin", os.urandom(256 * 1024))
        archive.writestr("manifest.json", b'{"ok": true}')
    return buffer.getvalue()


def test_a_sealed_file_goes_to_the_bucket_encrypted_and_reads_back(s3_storage):
    assert default_storage.bucket_name == s3_storage.bucket
    assert isinstance(default_storage._wrapped, storage.S3Storage)
    plain = b"the warrant's text " * 5000
    name, stored = sealed.store(default_storage, "documents/a.pdf", io.BytesIO(plain), key_name="warrant/W-1/files")

    assert name in s3_storage.stored()
    raw = s3_storage.raw(name)
    assert raw.startswith(sealed.MAGIC) and b"warrant's text" not in raw
    with sealed.open_stored(default_storage, name, verify=True) as handle:
        assert handle.read() == plain
    assert stored.size == len(plain)
    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=name)
    assert head["ContentType"] == "application/octet-stream"  # sealed, whatever the name says


def test_the_central_directory_is_read_by_ranges_not_the_whole_object(s3_storage):
    package = big_zip()
    name, _stored = sealed.store(default_storage, "exports/W-1/p.zip", io.BytesIO(package), key_name="k/files")
    ranges = get_ranges(s3_storage)

    with sealed.open_stored(default_storage, name) as handle, zipfile.ZipFile(handle) as archive:
        assert archive.read("manifest.json") == b'{"ok": true}'

    assert ranges and "ALL" not in ranges
    fetched = sum(int(r.split("-")[1]) - int(r.split("=")[1].split("-")[0]) + 1 for r in ranges)
    assert fetched < len(package) / 4, (ranges, len(package))


def test_a_sequential_read_streams_in_growing_windows(s3_storage):
    package = big_zip()
    name, _stored = sealed.store(default_storage, "exports/W-1/p.zip", io.BytesIO(package), key_name="k/files")
    ranges = get_ranges(s3_storage)

    with sealed.open_stored(default_storage, name) as handle:
        assert handle.read() == package

    assert 2 <= len(ranges) <= 6  # 256 KiB, 512 KiB, 1 MiB, 2 MiB: not one GET per 64 KiB chunk


def test_a_name_taken_is_never_overwritten(s3_storage):
    """Re-keying saves the new copy under the same name, then deletes the old one: overwriting would
    delete the only copy."""
    first = default_storage.save("documents/same.pdf", ContentFile(b"one"))
    second = default_storage.save("documents/same.pdf", ContentFile(b"two"))
    assert first != second and s3_storage.raw(first) == b"one" and s3_storage.raw(second) == b"two"


def test_rekeying_a_staged_upload_keeps_a_readable_copy(s3_storage):
    name, _stored = sealed.store(default_storage, "documents/x.pdf", io.BytesIO(b"%PDF staged"), key_name="staging/a")
    new = sealed.store_rekeyed(default_storage, name, name, key_name="warrant/W-2/files")
    default_storage.delete(name)
    keystore.destroy("staging/a")

    with sealed.open_stored(default_storage, new) as handle:
        assert handle.read() == b"%PDF staged"
    assert s3_storage.stored() == {new}


def test_a_missing_or_replaced_object_is_an_error_not_mixed_bytes(s3_storage):
    with pytest.raises(FileNotFoundError):
        default_storage.open("documents/none.pdf", "rb")
    name = default_storage.save("documents/r.bin", ContentFile(b"a" * 1000))
    handle = default_storage.open(name, "rb")
    s3_storage.client.put_object(Bucket=s3_storage.bucket, Key=name, Body=b"b" * 1000)
    with pytest.raises(sealed.SealedFileError, match="replaced while it was being read"):
        handle.read()


def test_the_settings_build_the_s3_storage_from_the_environment(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
        "WARRANTDESK_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "warrantdesk.settings",
        "WARRANTDESK_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "files",
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY_FILE": str(tmp_path / "secret"),
        "AWS_S3_SERVER_SIDE_ENCRYPTION": "AES256",
    }
    (tmp_path / "secret").write_text("from-a-file\n")
    code = (
        "import django; django.setup(); from django.core.files.storage import default_storage as s; "
        "name = s.bucket_name; print(type(s._wrapped).__module__, name, s.endpoint_url, s.addressing_style, "
        "s.access_key, s.secret_key, s.file_overwrite, s.object_parameters)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split(" ", 7) == [
        "warrantdesk.storage",
        "files",
        "http://127.0.0.1:9",
        "path",
        "id",
        "from-a-file",
        "False",
        "{'ServerSideEncryption': 'AES256'}\n",
    ]

    env.pop("AWS_STORAGE_BUCKET_NAME")
    refused = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "needs AWS_STORAGE_BUCKET_NAME" in refused.stderr


def test_a_store_that_does_not_answer_is_a_clear_503_not_a_500(s3_storage, settings, warrant, legal_officer):
    from botocore.config import Config

    from tests.helpers import client_for

    document = warrant.documents.get()
    dead = dict(settings.STORAGES["default"]["OPTIONS"])
    dead.update(endpoint_url="http://127.0.0.1:9", client_config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    settings.STORAGES = {**settings.STORAGES, "default": {**settings.STORAGES["default"], "OPTIONS": dead}}
    client = client_for(legal_officer)

    web = client.get(f"/warrants/documents/{document.pk}/download/")
    api = client.get(f"/api/v1/documents/{document.pk}/download/")

    assert web.status_code == 503 and "The file store cannot be reached" in web.content.decode()
    assert api.status_code == 503 and api.json()["code"] == "storage_unavailable"
    assert "127.0.0.1:9" not in web.content.decode() + api.content.decode()
    with pytest.raises(storage.StorageUnavailable):
        sealed.store(default_storage, "documents/n.pdf", io.BytesIO(b"x"), key_name="k/files")


def test_a_large_file_goes_up_in_parts_and_comes_down_in_bounded_ranges(s3_storage):
    """Neither way holds the whole file in memory: multipart upload from the sealed temporary file, and
    ranged GETs of at most 16 MiB on the way down."""
    calls: list[str] = []
    events = storage_events()
    for operation in ("CreateMultipartUpload", "UploadPart", "PutObject"):
        events.register(f"before-call.s3.{operation}", lambda model, **kw: calls.append(model.name))
    plain = os.urandom(18 * 1024 * 1024)

    name, _stored = sealed.store(default_storage, "exports/W-1/big.zip", io.BytesIO(plain), key_name="k/files")

    assert calls.count("CreateMultipartUpload") == 1 and calls.count("UploadPart") == 3 and "PutObject" not in calls
    ranges = get_ranges(s3_storage)
    with sealed.open_stored(default_storage, name) as handle:
        while handle.read(1024 * 1024):
            pass
    sizes = [int(r.split("-")[1]) - int(r.split("=")[1].split("-")[0]) + 1 for r in ranges]
    assert sum(sizes) == s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=name)["ContentLength"]
    assert max(sizes) <= storage.MAX_WINDOW
