"""Stored files in an S3-compatible bucket (``WARRANTDESK_STORAGE=s3``): django-storages' ``S3Storage``
with two changes that the sealed files of ``warrantdesk.sealed`` need.

* **Reads are ranged.** django-storages' own ``S3File`` downloads the whole object into a spooled
  temporary file on its first read (in memory, with its default settings). ``open(name, "rb")`` here
  gives a seekable reader that fetches only the byte ranges asked for: opening a ZIP's central
  directory costs two small ``GET``s, not the package. Sequential reads (a download) fetch windows
  that double from 256 KiB up to 16 MiB, so a large package streams in a few requests and flat memory.
  Every ``GET`` carries the ``ETag`` seen when the file was opened (``If-Match``): an object replaced
  under a reader fails the read rather than mixing two files.
* **Nothing is overwritten.** A name already taken gets a free one, as on the file system
  (``AWS_S3_FILE_OVERWRITE`` is forced off): re-keying a staged upload saves the new copy under the
  same name and deletes the old one afterwards, which over an overwriting store would delete the only
  copy.

Writes stay django-storages': the caller hands a (sealed) temporary file, which boto3 uploads in
parts (multipart above 8 MiB), so a package never sits in memory. The bytes that leave the process
are sealed: S3's own server-side encryption (``AWS_S3_SERVER_SIDE_ENCRYPTION``) is extra, not relied on.
"""

from __future__ import annotations

from typing import Any, BinaryIO, cast

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files import File
from django.utils.translation import gettext as _
from storages.backends import s3
from storages.utils import clean_name

from .exceptions import DomainError
from .sealed import SealedFileError, SeekableReader

MIN_WINDOW = 256 * 1024
MAX_WINDOW = 16 * 1024 * 1024


class StorageUnavailable(DomainError):
    """The bucket does not answer, or refuses us (network, credentials, the store's own errors): the
    operator's side is at fault, so 503; the detail goes to the log, not to the user."""

    code = "storage_unavailable"
    status_code = 503

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(_("The file store cannot be reached just now: try again in a few minutes."), code=self.code)


def _status(error: ClientError) -> int | None:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


class RangedReader(SeekableReader):
    """A read-only, seekable view of one S3 object, fetched by ``Range`` requests as it is read.

    ``read(n)`` returns ``n`` bytes unless the object ends first. ``requests`` and ``fetched`` count the
    ``GET``s made and the bytes they asked for."""

    def __init__(self, client, bucket: str, key: str):
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self._body: Any = None
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _status(error) == 404:
                raise FileNotFoundError(f"the stored object {key} does not exist") from error
            raise StorageUnavailable(f"HEAD {key}: HTTP {_status(error)}") from error
        except BotoCoreError as error:
            raise StorageUnavailable(f"HEAD {key}: {type(error).__name__}") from error
        self.size: int = head["ContentLength"]
        self._etag: str = head["ETag"]
        self._position = 0
        self._body_position = self._body_end = 0
        self._window = MIN_WINDOW
        self.requests = self.fetched = 0

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._position < self.size:
            if self._body is None or self._body_position != self._position or self._body_position >= self._body_end:
                self._fetch(len(view) - filled)
            part = self._body.read(min(len(view) - filled, self._body_end - self._body_position))
            if not part:
                self._drop()
                raise SealedFileError(_("The stored file was cut short."))
            view[filled : filled + len(part)] = part
            filled += len(part)
            self._position += len(part)
            self._body_position += len(part)
        return filled

    def _fetch(self, wanted: int) -> None:
        sequential = self._body is not None and self._body_end == self._position
        self._drop()
        self._window = min(self._window * 2, MAX_WINDOW) if sequential else MIN_WINDOW
        start = self._position
        end = min(self.size, start + max(wanted, self._window))
        try:
            response = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end - 1}", IfMatch=self._etag
            )
        except ClientError as error:
            if _status(error) == 404:
                raise FileNotFoundError(f"the stored object {self._key} is gone") from error
            if _status(error) == 412:
                raise SealedFileError(_("The stored file was replaced while it was being read.")) from error
            raise StorageUnavailable(f"GET {self._key}: HTTP {_status(error)}") from error
        except BotoCoreError as error:
            raise StorageUnavailable(f"GET {self._key}: {type(error).__name__}") from error
        self._body, self._body_position, self._body_end = response["Body"], start, end
        self.requests += 1
        self.fetched += end - start

    def _drop(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop()
        super().close()


class S3Storage(s3.S3Storage):
    """django-storages' S3 storage with ranged reads and no overwriting (see the module's text)."""

    def get_default_settings(self) -> dict[str, Any]:
        defaults = super().get_default_settings()
        defaults["file_overwrite"] = False
        if defaults["transfer_config"] is None:
            # Parts of 8 MiB, two at a time: a large package uploads in about 16 MiB of memory.
            defaults["transfer_config"] = TransferConfig(
                multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=2
            )
        return defaults

    def __init__(self, **settings):
        settings.pop("file_overwrite", None)  # never: see the module's text
        super().__init__(**settings)

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        # Every object is a sealed file, whatever its name says (not a PDF or a ZIP anyone could open).
        return {"ContentType": "application/octet-stream", **super().get_object_parameters(name)}

    def _open(self, name: str, mode: str = "rb"):
        if mode != "rb":
            return super()._open(name, mode)
        reader = RangedReader(self.connection.meta.client, self.bucket_name, self._normalize_name(clean_name(name)))
        return File(cast(BinaryIO, reader), name=name)

    def _save(self, name, content):
        try:
            return super()._save(name, content)
        except (ClientError, BotoCoreError, S3UploadFailedError) as error:
            raise StorageUnavailable(f"PUT {name}: {type(error).__name__}") from error

    def exists(self, name: str) -> bool:
        try:
            return super().exists(name)
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable(f"HEAD {name}: {type(error).__name__}") from error

    def delete(self, name: str) -> None:
        try:
            super().delete(name)
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable(f"DELETE {name}: {type(error).__name__}") from error
