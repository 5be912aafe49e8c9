"""Reading a large export's rows in a process of its own, so that reading and writing overlap.

Pure: the standard library and the database drivers (``sqlite3``, ``psycopg``); no Django, so the
process starts in a few milliseconds from the forkserver and needs no settings.

An export spends about as long fetching its rows as it does redacting and formatting them, and in one
process the two add up. ``read_ahead(source, queries)`` starts a reader process with a connection of
its own that runs ``queries`` one after the other and sends every batch of rows through a pipe,
pickled; the caller receives them as lists of tuples, exactly as ``cursor.fetchmany`` gives them.
The pipe's buffer is the only queue, so the reader is at most a batch or two ahead and memory stays
flat. On PostgreSQL the reader runs every query in one REPEATABLE READ READ ONLY transaction: all
rooms are read from one snapshot.

The reader sees only committed data (it is another connection): the caller uses it only outside a
transaction, as the export task runs. Errors in the reader are raised in the caller as
``ReaderError`` with the driver's message; when the caller stops early (an exception, a closed
generator) the reader is stopped and reaped.
"""

from __future__ import annotations

import fcntl
import itertools
import multiprocessing
import pickle
import re
import sqlite3
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext

__all__ = ["ReaderError", "Source", "forkserver_context", "read_ahead"]

PIPE_BYTES = 4 << 20  # asked for; the kernel may allow less
_END = b"end"
_FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")
_ERROR = b"error:"


class ReaderError(RuntimeError):
    """The reader process failed or died; the message says why."""


@dataclass(frozen=True)
class Source:
    """Where to read: ``vendor`` "sqlite" (``name`` is the database file) or "postgresql"
    (``params``: keyword arguments of ``psycopg.connect``)."""

    vendor: str
    name: str = ""
    params: dict = field(default_factory=dict)


def forkserver_context() -> ForkServerContext:
    """The one process context of an export (this reader, the PDF workers): "forkserver", safe in a
    threaded parent, unlike fork, and cheaper than spawn because the server preloads WeasyPrint once
    for the PDF workers. The preload list must be the same wherever the context is asked for, since
    only the first call before the server starts counts."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", "disclosure.exports.pdf", "weasyprint"])
    return context


def read_ahead(
    context: ForkServerContext,
    source: Source,
    queries: Sequence[tuple[str, Sequence]],
    *,
    batch: int,
    transform: Callable[[list[tuple]], list[tuple]] | None = None,
) -> Iterator[list[tuple]]:
    """The rows of ``queries`` (SQL with ``%s`` placeholders, and parameters), in order, as batches of
    at most ``batch`` rows, read by a process started from ``context``. ``transform`` (picklable) is
    applied to every batch in the reader process (the export opens the sealed message bodies there,
    so that decryption overlaps the writing too)."""
    receiving, sending = context.Pipe(duplex=False)
    _widen(sending)
    process = context.Process(
        target=_read,
        args=(sending, source, list(queries), batch, transform),
        name="warrantdesk-export-reader",
        daemon=True,
    )
    process.start()
    sending.close()  # the reader holds the only sending end: its death ends the stream (EOFError)
    try:
        while True:
            try:
                data = receiving.recv_bytes()
            except EOFError:
                raise ReaderError(f"the reader process stopped unexpectedly (exit code {_exitcode(process)})") from None
            if data == _END:
                break
            if data.startswith(_ERROR):
                raise ReaderError(data[len(_ERROR) :].decode(errors="replace"))
            rows = pickle.loads(data)  # noqa: S301 - our own child process, over a private pipe
            del data  # not kept while the caller works through the batch
            yield rows
    finally:
        receiving.close()  # a reader blocked on a full pipe gets BrokenPipeError and exits
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
            process.join()


def _widen(end: Connection) -> None:
    """Let the pipe hold a few batches (Linux: up to fs.pipe-max-size, 1 MB by default), so that the
    reader goes on reading while the caller works through the batch before; with the default 64 KB the
    reader would wait for the caller at every batch and the two would take turns instead of overlapping."""
    if not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    for size in (PIPE_BYTES, 1 << 20):
        try:
            fcntl.fcntl(end.fileno(), fcntl.F_SETPIPE_SZ, size)
            return
        except OSError:
            continue


def _exitcode(process) -> object:
    process.join(timeout=5)
    return process.exitcode


def _read(out: Connection, source: Source, queries: list[tuple[str, Sequence]], batch: int, transform) -> None:
    """The reader process's body."""
    try:
        send = _sender(out, batch, transform)
        if source.vendor == "sqlite":
            _read_sqlite(send, source, queries)
        elif source.vendor == "postgresql":
            _read_postgresql(send, source, queries, batch)
        else:
            raise ValueError(f"no reader for {source.vendor!r}")
        send(None)
        out.send_bytes(_END)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the caller stopped reading
    except BaseException as error:  # reported to the caller, which raises it
        message = f"{type(error).__name__}: {error}"
        try:
            out.send_bytes(_ERROR + message.encode())
        except OSError:
            traceback.print_exc()
    finally:
        out.close()


def _sender(out: Connection, batch: int, transform) -> Callable[[object], None]:
    """``send(cursor)``: every row of the cursor through the pipe, a batch at a time (transformed);
    ``send(None)`` at the end. The rows a query leaves over wait for the next query's: a scope of many
    small rooms still goes in full batches (the 1,000,000-message benchmark's 500 rooms: 200 batches, not
    590), and the caller's work per batch (its look-ups, its progress) is done a third as often."""
    waiting: list[tuple] = []

    def send_batch(rows: list[tuple]) -> None:
        if transform is not None:
            rows = transform(rows)
        out.send_bytes(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))

    def send(cursor) -> None:
        nonlocal waiting
        if cursor is None:
            if waiting:
                send_batch(waiting)
            waiting = []
            return
        while rows := cursor.fetchmany(batch - len(waiting)):
            waiting = waiting + rows if waiting else rows
            if len(waiting) >= batch:
                send_batch(waiting)
                waiting = []

    return send


def _read_sqlite(send, source: Source, queries) -> None:
    # Read-only, and the URI form so that a name with "?" or "#" is still a file name.
    uri = "file:" + source.name.replace("%", "%25").replace("?", "%3F").replace("#", "%23") + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        db.execute("BEGIN")  # one read transaction: one snapshot of the whole store (WAL)
        for sql, params in queries:
            qmark = _FORMAT_PLACEHOLDER.sub("?", sql).replace("%%", "%")  # as Django's SQLite backend does
            send(db.execute(qmark, params))
        db.rollback()
    finally:
        db.close()


class _Stream:
    """``fetchmany`` over the rows of ``Cursor.stream``."""

    def __init__(self, rows: Iterator[tuple]):
        self.rows = rows

    def fetchmany(self, size: int) -> list[tuple]:
        return list(itertools.islice(self.rows, size))


def _read_postgresql(send, source: Source, queries, batch: int) -> None:
    """Each query's rows streamed by the server in chunks of ``batch`` (libpq 17's chunked rows mode):
    the server goes on sending while this process decrypts and pickles, where a server-side cursor's
    FETCH makes the two take turns, and both spend less CPU (the 1,000,000 rows of the benchmark's export:
    this process about 0.3 s less, the server about 0.2 s). With an older libpq, a server-side cursor."""
    import psycopg

    chunked = psycopg.capabilities.has_stream_chunked()
    with psycopg.connect(**source.params) as db:
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for index, (sql, params) in enumerate(queries):
            if chunked:
                with db.cursor() as cursor:
                    send(_Stream(cursor.stream(sql, params, size=batch)))
                continue
            with db.cursor(name=f"warrantdesk_export_{index}") as cursor:
                cursor.itersize = batch
                cursor.execute(sql, params)
                send(cursor)
        db.rollback()
