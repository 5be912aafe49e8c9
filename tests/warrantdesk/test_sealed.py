"""Files encrypted at rest: chunked AES-GCM, streaming, seekable, tamper- and truncation-evident."""

import hashlib
import io
import os
import tracemalloc
import zipfile

import pytest
from django.core.files.storage import FileSystemStorage
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from warrantdesk import keystore, sealed

SIZES = [0, 1, 15, 16, 17, 4095, 4096, 4097, 8192, 3 * 4096 + 5]


def _seal(data: bytes, key_name="warrant/WD-1/files", chunk=4096) -> bytes:
    target = io.BytesIO()
    result = sealed.seal(io.BytesIO(data), target, key_name=key_name, chunk=chunk)
    assert result == sealed.Sealed(hashlib.sha256(data).hexdigest(), len(data))
    return target.getvalue()


@pytest.mark.parametrize("size", SIZES)
def test_a_sealed_file_reads_back_whole_and_holds_no_plaintext(settings, size):
    data = bytes((i * 7 + 3) % 251 for i in range(size))
    stored = _seal(data)
    assert stored.startswith(sealed.MAGIC)
    if size >= 16:
        assert data[:16] not in stored
    reader = sealed.open_sealed(io.BytesIO(stored))
    assert reader.read() == data
    assert sealed.SealedReader(io.BytesIO(stored)).size == size


@hypothesis_settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=20_000), offsets=st.lists(st.integers(0, 21_000), max_size=8))
def test_reading_from_any_offset_gives_the_plaintext(data, offsets):
    stored = _seal(data, chunk=1000)
    reader = sealed.open_sealed(io.BytesIO(stored))
    for offset in offsets:
        reader.seek(offset)
        assert reader.read(1500) == data[offset : offset + 1500]
    tail = min(len(data), 10)
    reader.seek(-tail, os.SEEK_END)
    assert reader.read() == data[len(data) - tail :]


def test_a_sealed_zip_is_read_by_zipfile_without_decrypting_it_all(settings):
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("a.json", b'{"x": 1}' * 2000)
        archive.writestr("b.csv", os.urandom(50_000))  # incompressible: many chunks
    stored = _seal(plain.getvalue())
    with zipfile.ZipFile(sealed.open_sealed(io.BytesIO(stored))) as archive:
        assert archive.namelist() == ["a.json", "b.csv"]
        assert archive.read("a.json") == b'{"x": 1}' * 2000


@pytest.mark.parametrize(
    "damage",
    ["flip a byte", "cut mid-chunk", "cut at a chunk boundary", "drop a chunk", "swap chunks", "append a chunk"],
)
def test_altered_or_cut_files_are_refused(settings, damage):
    data = os.urandom(4096 * 3 + 100)
    stored = bytearray(_seal(data))
    header, start = sealed.Header.read(io.BytesIO(bytes(stored)))
    step = header.chunk + sealed.TAG
    if damage == "flip a byte":
        stored[start + step + 10] ^= 1
    elif damage == "cut mid-chunk":
        del stored[start + 2 * step + 50 :]
    elif damage == "cut at a chunk boundary":
        del stored[start + 2 * step :]
    elif damage == "drop a chunk":
        del stored[start + step : start + 2 * step]
    elif damage == "swap chunks":
        first, second = stored[start : start + step], stored[start + step : start + 2 * step]
        stored[start : start + 2 * step] = second + first
    else:
        stored += stored[start : start + step]
    with pytest.raises(sealed.SealedFileError):
        sealed.open_sealed(io.BytesIO(bytes(stored))).read()


def test_plaintext_and_garbage_are_not_taken_for_sealed_files(settings):
    for blob in [b"%PDF-1.7 plain", b"", sealed.MAGIC + b"\x00\x05{bad}", sealed.MAGIC]:
        with pytest.raises(sealed.SealedFileError):
            sealed.open_sealed(io.BytesIO(blob))


def test_destroying_the_named_key_makes_the_file_unreadable(settings):
    stored = _seal(b"the warrant", key_name="warrant/WD-7/files")
    keystore.destroy("warrant/WD-7/files")
    with pytest.raises(keystore.KeyDestroyed):
        sealed.open_sealed(io.BytesIO(stored))


def test_rekey_moves_a_file_to_another_key_without_touching_its_chunks(settings):
    data = os.urandom(10_000)
    stored = _seal(data, key_name="staging/abc")
    moved = io.BytesIO()
    sealed.rekey(io.BytesIO(stored), moved, key_name="warrant/WD-8/files")
    _old_header, old_start = sealed.Header.read(io.BytesIO(stored))
    new_header, new_start = sealed.Header.read(io.BytesIO(moved.getvalue()))
    assert new_header.key_name == "warrant/WD-8/files"
    assert moved.getvalue()[new_start:] == stored[old_start:]
    keystore.destroy("staging/abc")
    assert sealed.open_sealed(io.BytesIO(moved.getvalue())).read() == data


def test_storage_round_trip_streams_in_flat_memory(settings, tmp_path):
    storage = FileSystemStorage(location=tmp_path / "media")
    size = 24 * 1024 * 1024
    source = io.BytesIO(os.urandom(1024 * 1024) * 24)
    tracemalloc.start()
    name, result = sealed.store(storage, "exports/p.zip", source, key_name="warrant/WD-9/files")
    digest = hashlib.sha256()
    with sealed.open_stored(storage, name) as reader:
        while block := reader.read(256 * 1024):
            digest.update(block)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.size == size and digest.hexdigest() == result.sha256
    # The source itself is in memory here (24 MB); sealing and reading add only a few chunks.
    assert peak < 4 * 1024 * 1024, peak
    assert source.getvalue()[:4096] not in (tmp_path / "media" / name).read_bytes()
