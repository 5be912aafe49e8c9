"""The export's reader process: the same rows as reading in place, errors raised, stopped when abandoned."""

import csv
import io
import multiprocessing
import sqlite3
import zipfile

import pytest

from disclosure.exports import package as exports
from disclosure.exports import reader
from disclosure.scope import warrant_scope

QUERIES = [
    ("SELECT id, room, body FROM message WHERE room = %s ORDER BY id", (1,)),
    ("SELECT id, room, body FROM message WHERE room = %s AND body LIKE '%%!' ORDER BY id", (2,)),
]


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "store?.sqlite3"  # "?" must not end the file name in the reader's URI
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE message (id INTEGER PRIMARY KEY, room INTEGER, body TEXT)")
        db.executemany(
            "INSERT INTO message (room, body) VALUES (?, ?)",
            [(1 + n % 2, f"메시지 {n}" + ("!" if n % 3 == 0 else "")) for n in range(2500)],
        )
    return path


def in_place(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return [
            row
            for sql, params in QUERIES
            for row in db.execute(sql.replace("%%", "%").replace("%s", "?"), params).fetchall()
        ]


def read(source, queries=QUERIES, batch=300) -> list[list[tuple]]:
    return list(reader.read_ahead(reader.forkserver_context(), source, queries, batch=batch))


def test_the_reader_gives_the_rows_in_order_in_batches(database):
    batches = read(reader.Source("sqlite", name=str(database)))

    assert [row for batch in batches for row in batch] == in_place(database)
    assert all(0 < len(batch) <= 300 for batch in batches)
    assert len(batches) > 2


def test_the_rows_a_query_leaves_over_go_with_the_next_querys_in_full_batches(database):
    """A scope of many small rooms (a query each) still goes in full batches: the export's work per
    batch (its look-ups of the batch's phone numbers and addresses, its progress) is not done per room."""
    batches = read(reader.Source("sqlite", name=str(database)), batch=300)

    assert len(in_place(database)) % 300 and len(QUERIES) > 1
    assert [len(batch) for batch in batches[:-1]] == [300] * (len(batches) - 1)
    assert 0 < len(batches[-1]) < 300


def test_a_reader_error_is_raised_in_the_caller_with_its_reason(database):
    with pytest.raises(reader.ReaderError, match="no such table: missing_table"):
        read(reader.Source("sqlite", name=str(database)), [("SELECT * FROM missing_table", ())])


def test_a_missing_database_is_an_error_and_nothing_is_created(tmp_path):
    missing = tmp_path / "missing.sqlite3"
    with pytest.raises(reader.ReaderError, match="unable to open database file"):
        read(reader.Source("sqlite", name=str(missing)))
    assert not missing.exists()  # read-only: the reader never creates or writes a database


def test_an_abandoned_reader_is_stopped(database):
    rows = reader.read_ahead(
        reader.forkserver_context(), reader.Source("sqlite", name=str(database)), QUERIES * 20, batch=10
    )
    assert len(next(rows)) == 10
    rows.close()  # as when the export fails half way

    assert not [p for p in multiprocessing.active_children() if p.name == "warrantdesk-export-reader"]


def package_data(path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return {name: archive.read(name) for name in ("conversations.json", "messages.csv")}


def build(warrant, tmp_path, name):
    built = exports.build_package(warrant_scope(warrant), out_dir=tmp_path / name)
    return package_data(built.path), built.counts


@pytest.mark.django_db(transaction=True)
def test_an_export_read_by_the_reader_process_is_the_same_as_read_in_place(
    approved_warrant,
    tmp_path,
    settings,
    monkeypatch,
):
    """Committed data, no transaction open: the reader process (its own connection, SQLite or
    PostgreSQL) reads the rows, and the files are byte for byte those of the in-process read."""
    used = []
    real = reader.read_ahead
    monkeypatch.setattr(reader, "read_ahead", lambda *args, **kwargs: used.append(1) or real(*args, **kwargs))

    settings.WARRANTDESK_EXPORT_READER_MIN_MESSAGES = 10**9
    in_process, counts = build(approved_warrant, tmp_path, "in-process")
    assert not used
    settings.WARRANTDESK_EXPORT_READER_MIN_MESSAGES = 0
    by_reader, reader_counts = build(approved_warrant, tmp_path, "reader")

    assert used == [1]
    assert counts["messages"] > 0
    assert reader_counts == counts
    assert by_reader == in_process


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_rows_streamed_are_those_of_a_server_side_cursor(approved_warrant, monkeypatch):
    """The reader streams each query's rows (libpq 17's chunked rows mode) and falls back on a server-side
    cursor with an older libpq: the same rows, in the same order, either way."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL reader")
    import psycopg

    scope = warrant_scope(approved_warrant)
    queries, source = list(exports._queries(scope)), exports._reader_source()
    assert source is not None

    def rows(chunked: bool) -> list[tuple]:
        monkeypatch.setattr(psycopg.capabilities, "has_stream_chunked", lambda check=False: chunked)
        got: list[tuple] = []

        def send(cursor) -> None:
            while batch := cursor.fetchmany(7):
                got.extend(batch)

        reader._read_postgresql(send, source, queries, 7)
        return got

    streamed = rows(True)
    assert len(streamed) == scope.message_count > 7
    assert streamed == rows(False)


def test_inside_a_transaction_the_export_reads_in_place(approved_warrant, tmp_path, settings, monkeypatch):
    """Another connection would not see uncommitted rows, so the reader is not used there."""
    monkeypatch.setattr(reader, "read_ahead", lambda *args, **kwargs: pytest.fail("reader used in a transaction"))
    settings.WARRANTDESK_EXPORT_READER_MIN_MESSAGES = 0

    data, counts = build(approved_warrant, tmp_path, "in-place")

    assert counts["messages"] == len(list(csv.reader(io.StringIO(data["messages.csv"].decode(), newline="")))) - 1
