"""Files encrypted at rest: chunked AES-256-GCM that streams in flat memory and reads at any offset.

Layout of a sealed file::

    MAGIC (8 bytes) | header length (u16, big-endian) | header (JSON) | chunk 0 | chunk 1 | … | chunk n

The header names the data key of the key store (``warrantdesk.keystore``) that wraps the file's own
random key (its *DEK*) and holds that wrapped DEK, the chunk size and a random file id. Each chunk is
``AES-GCM(DEK, nonce = file id (8 bytes) || index (u32), plaintext chunk, AAD = file id || index ||
final flag)``, so chunks cannot be reordered, dropped, or cut at a chunk boundary unnoticed (the last
chunk is sealed as final). Every chunk is ``chunk size + 16`` bytes but the last, which may be shorter
(an empty file is one empty final chunk), so a reader seeks straight to the chunk holding an offset:
a ZIP's central directory is read without decrypting the whole package.

The DEK wrapped under a *named* key is what makes crypto-shredding work: destroying the warrant's
``warrant/<reference>/files`` key leaves every file of the warrant unreadable, in every copy. Re-keying
(a staged upload joining its warrant) rewrites only the header: the chunks do not depend on it.

Hashes shown to people stay those of the plaintext: callers hash while sealing (``seal`` returns it).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.files import File
from django.utils.translation import gettext as _

from . import keystore
from .exceptions import DomainError

MAGIC = b"WDSEAL\x00\x01"
CHUNK = 64 * 1024
TAG = 16
_HEADER_LENGTH = struct.Struct(">H")
_INDEX = struct.Struct(">I")


class SealedFileError(DomainError):
    """A stored file that does not decrypt: altered, truncated, or not a sealed file."""

    code = "file_damaged"
    status_code = 409


@dataclass(frozen=True)
class Header:
    key_name: str
    wrapped_dek: bytes
    file_id: bytes
    chunk: int = CHUNK

    def encode(self) -> bytes:
        body = json.dumps(
            {
                "key": self.key_name,
                "dek": base64.b64encode(self.wrapped_dek).decode(),
                "id": base64.b64encode(self.file_id).decode(),
                "chunk": self.chunk,
            },
            separators=(",", ":"),
        ).encode()
        return MAGIC + _HEADER_LENGTH.pack(len(body)) + body

    @classmethod
    def read(cls, handle: BinaryIO) -> tuple[Header, int]:
        """The header at the start of ``handle`` and the offset of chunk 0."""
        start = handle.read(len(MAGIC) + _HEADER_LENGTH.size)
        if len(start) < len(MAGIC) + _HEADER_LENGTH.size or not start.startswith(MAGIC):
            raise SealedFileError(_("The stored file is not an encrypted file of warrantdesk."))
        (length,) = _HEADER_LENGTH.unpack(start[len(MAGIC) :])
        try:
            data = json.loads(handle.read(length))
            header = cls(
                key_name=data["key"],
                wrapped_dek=base64.b64decode(data["dek"]),
                file_id=base64.b64decode(data["id"]),
                chunk=int(data["chunk"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SealedFileError(_("The stored file's header is damaged.")) from exc
        if len(header.file_id) != 8 or not 0 < header.chunk <= 16 * 1024 * 1024:
            raise SealedFileError(_("The stored file's header is damaged."))
        return header, len(start) + length


def _wrap_dek(dek: bytes, key: bytes, file_id: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, dek, b"warrantdesk file key:" + file_id)


def _unwrap_dek(header: Header) -> bytes:
    key = keystore.get(header.key_name)  # KeyDestroyed / KeyUnavailable say why
    try:
        return AESGCM(key).decrypt(
            header.wrapped_dek[:12], header.wrapped_dek[12:], b"warrantdesk file key:" + header.file_id
        )
    except InvalidTag as exc:
        raise SealedFileError(_("The stored file's key does not open: the file was altered or moved.")) from exc


def _aad(file_id: bytes, index: int, final: bool) -> bytes:
    return file_id + _INDEX.pack(index) + (b"\x01" if final else b"\x00")


@dataclass(frozen=True)
class Sealed:
    sha256: str  # of the plaintext
    size: int  # of the plaintext


def seal(
    source: BinaryIO,
    target: BinaryIO,
    *,
    key_name: str,
    chunk: int = CHUNK,
    on_chunk: Callable[[bytes], None] | None = None,
) -> Sealed:
    """Encrypt ``source`` (read to its end) into ``target`` under a new DEK wrapped by the key store's
    ``key_name`` (made if it does not exist yet). Returns the plaintext's SHA-256 and size."""
    dek, file_id = AESGCM.generate_key(bit_length=256), secrets.token_bytes(8)
    header = Header(
        key_name=key_name,
        wrapped_dek=_wrap_dek(dek, keystore.get_or_create(key_name), file_id),
        file_id=file_id,
        chunk=chunk,
    )
    target.write(header.encode())
    cipher, digest, size = AESGCM(dek), hashlib.sha256(), 0
    index, pending = 0, _read_full(source, chunk)
    while True:
        following = _read_full(source, chunk) if len(pending) == chunk else b""
        final = not following
        digest.update(pending)
        if on_chunk is not None:
            on_chunk(pending)
        size += len(pending)
        nonce = file_id + _INDEX.pack(index)
        target.write(cipher.encrypt(nonce, pending, _aad(file_id, index, final)))
        if final:
            return Sealed(digest.hexdigest(), size)
        index, pending = index + 1, following


def _read_full(source: BinaryIO, size: int) -> bytes:
    parts, missing = [], size
    while missing:
        part = source.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def seal_bytes(data: bytes, *, key_name: str) -> bytes:
    target = io.BytesIO()
    seal(io.BytesIO(data), target, key_name=key_name)
    return target.getvalue()


def is_sealed(handle: BinaryIO) -> bool:
    position = handle.tell()
    try:
        return handle.read(len(MAGIC)) == MAGIC
    finally:
        handle.seek(position)


def rekey(source: BinaryIO, target: BinaryIO, *, key_name: str) -> None:
    """Copy a sealed file with its DEK wrapped under ``key_name`` instead (the chunks are copied as
    they are: only the header changes). Reading the old header needs its key."""
    header, _start = Header.read(source)
    dek = _unwrap_dek(header)
    new = Header(
        key_name=key_name,
        wrapped_dek=_wrap_dek(dek, keystore.get_or_create(key_name), header.file_id),
        file_id=header.file_id,
        chunk=header.chunk,
    )
    target.write(new.encode())
    while block := source.read(1 << 20):
        target.write(block)


class SeekableReader(io.RawIOBase):
    """A read-only raw stream of a known ``size`` whose position is ``_position``: seeking only moves
    it; subclasses implement ``readinto`` from there (the sealed reader here, the S3 object reader in
    ``warrantdesk.storage``)."""

    size: int
    _position: int = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position


class SealedReader(SeekableReader):
    """The plaintext of a sealed file, readable and seekable, one chunk in memory at a time.

    Raises KeyDestroyed / KeyUnavailable when opened if the key is gone, SealedFileError when a chunk
    does not decrypt (the bytes were altered, or the file was cut).
    """

    def __init__(self, handle: BinaryIO):
        super().__init__()
        self._handle = handle
        self.header, self._start = Header.read(handle)
        self._cipher = AESGCM(_unwrap_dek(self.header))
        handle.seek(0, os.SEEK_END)
        stored = handle.tell() - self._start
        step = self.header.chunk + TAG
        self._chunks = max(1, -(-stored // step))  # the last chunk may be short, even empty
        last = stored - (self._chunks - 1) * step
        if stored < TAG or last < TAG:
            raise SealedFileError(_("The stored file was cut short."))
        self.size = (self._chunks - 1) * self.header.chunk + last - TAG
        self._position = 0
        self._cached: tuple[int, bytes] | None = None

    def _chunk(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        step = self.header.chunk + TAG
        self._handle.seek(self._start + index * step)
        sealed = _read_full(self._handle, step)
        final = index == self._chunks - 1
        nonce = self.header.file_id + _INDEX.pack(index)
        try:
            plain = self._cipher.decrypt(nonce, sealed, _aad(self.header.file_id, index, final))
        except InvalidTag as exc:
            raise SealedFileError(_("The stored file was altered or cut short: it does not decrypt.")) from exc
        self._cached = (index, plain)
        return plain

    def verify(self) -> None:
        """Decrypt every chunk once (nothing kept): SealedFileError now rather than halfway through a
        download whose headers already went out."""
        for index in range(self._chunks):
            self._chunk(index)

    def readinto(self, buffer) -> int:
        if self._position >= self.size:
            return 0
        index, within = divmod(self._position, self.header.chunk)
        plain = self._chunk(index)
        count = min(len(buffer), len(plain) - within)
        buffer[:count] = plain[within : within + count]
        self._position += count
        return count

    def readall(self) -> bytes:
        parts = []
        while self._position < self.size:
            index, within = divmod(self._position, self.header.chunk)
            part = self._chunk(index)[within:]
            parts.append(part)
            self._position += len(part)
        return b"".join(parts)

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()


def open_sealed(handle: BinaryIO, *, verify: bool = False) -> io.BufferedReader:
    """A buffered, seekable plaintext view of the sealed file open in ``handle`` (closed with it);
    with ``verify``, every chunk is checked first (for downloads: refuse before the first byte)."""
    reader = SealedReader(handle)
    if verify:
        reader.verify()
    return io.BufferedReader(reader, buffer_size=CHUNK)


# --- stored through Django's storage ------------------------------------------------------------------


def store(storage, name: str, source: BinaryIO, *, key_name: str) -> tuple[str, Sealed]:
    """Seal ``source`` into ``storage`` under ``name`` (or the free name the storage picks); returns
    the stored name and the plaintext's hash and size. Nothing in clear touches the disk."""
    with tempfile.TemporaryFile() as spool:
        sealed = seal(source, spool, key_name=key_name)
        spool.seek(0)
        return storage.save(name, File(spool, name=name)), sealed


def store_rekeyed(storage, name: str, new_name: str, *, key_name: str) -> str:
    """Copy the sealed file ``name`` to ``new_name`` with its DEK wrapped under ``key_name``; the
    caller deletes the old one once the new one is recorded."""
    with storage.open(name, "rb") as source, tempfile.TemporaryFile() as spool:
        rekey(source, spool, key_name=key_name)
        spool.seek(0)
        return storage.save(new_name, File(spool, name=new_name))


def open_stored(storage, name: str, *, verify: bool = False) -> io.BufferedReader:
    """The plaintext of the sealed file ``name`` of ``storage``, streaming and seekable (``verify``:
    see ``open_sealed``)."""
    handle = storage.open(name, "rb")
    try:
        return open_sealed(handle, verify=verify)
    except BaseException:
        handle.close()
        raise
