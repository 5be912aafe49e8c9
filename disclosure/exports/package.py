"""Building the disclosure package of a warrant: one streaming pass over the scope's messages.

The package is a ZIP holding ``manifest.json`` (what, for whom, counts, SHA-256 of every file),
``manifest.sig`` (the operator's Ed25519 signature over the manifest bytes), ``conversations.json``,
``messages.csv`` and ``report.pdf`` (or volumes ``report-001.pdf`` ...). Targets appear as
themselves; every other person appears only as a pseudonym made under this warrant's key, in the
sender fields and inside message text. Memory stays flat: rows are streamed from the database and
written to disk as they come; only the per-person pseudonym cache grows, with the number of people.

What goes where (file names, the keys of ``conversations.json``) is declared in ``layout``, which the
readers of a package share with this writer; the report is rendered by ``pdf``.
"""

from __future__ import annotations

import array
import bisect
import csv
import datetime as dt
import functools
import hashlib
import heapq
import json
import os
import re
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.db import connection
from django.db.models import Func, Q, TextField
from django.utils import timezone, translation

from warrantdesk import faults

from .. import bodies, keys, pseudonyms
from ..directory import DirectoryIndex
from ..identifiers import normalize_email, normalize_phone
from ..models import Account, Membership, Message
from ..redaction import Person, Redactor
from ..retention import retention_gap
from ..scope import Scope
from . import pdf, reader
from .layout import (
    CONVERSATIONS,
    FORMAT,
    GENERATOR,
    MESSAGES,
    MESSAGES_CSV,
    PARTICIPANTS,
    PSEUDONYMISED,
    ROOMS,
    TARGETS,
)

if TYPE_CHECKING:
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

BATCH = 5000  # rows fetched, written and reported at a time
# Short texts redacted once: in the 1,000,000-message benchmark 16,384 of them answer 93% of the messages
# for about 9 MB of the export process's peak (8,192: 91% for 4 MB less and 0.3-0.5 s more CPU, which the
# pass's goal against the raw fetch cannot spare; the peak stays near 140 MB of the 150 allowed).
REDACT_CACHE = 16384  # texts
REDACT_CACHE_MAX_LENGTH = 200  # characters
# Rows formatted before they are written: the strings of a whole batch (its JSON and CSV as lists, then
# joined, then encoded) were about 10 MB of the export process's peak at 5,000 rows.
WRITE_ROWS = 1000
# The pass says how far it is at most this often (and at its end): a report is an UPDATE of the export's
# row committed at once (export_run), about 1 ms, and was made for every batch (590 in the benchmark).
PROGRESS_SECONDS = 0.5
_json_str = json.encoder.encode_basestring  # the C string encoder json.dumps uses (UTF-8 kept)
_CSV_SPECIAL = re.compile(r'[",\r\n]').search
# A spreadsheet reads a cell starting with = + - @ tab or CR as a formula (OWASP "CSV injection").
_CSV_FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r", "'")
_CSV_FORMULA = re.compile(r"'*[=+\-@\t\r]").match


def _csv_field(value: str) -> str:
    """One field as csv.writer (QUOTE_MINIMAL, "\\r\\n" lines) writes it in a row of several fields,
    neutralised as OWASP advises: a ``'`` before a text that a spreadsheet would read as a formula.

    Texts already starting with ``'`` before such a character get one more, so that
    :func:`csv_cell_text` gives every text back exactly (the report is rendered from this file).
    """
    if value.startswith(_CSV_FORMULA_FIRST) and _CSV_FORMULA(value):
        value = "'" + value
    return value if _CSV_SPECIAL(value) is None else '"' + value.replace('"', '""') + '"'


def csv_cell_text(cell: str) -> str:
    """The text of a ``messages.csv`` cell as csv.reader gives it, without the formula neutralising ``'``."""
    return cell[1:] if cell[:1] == "'" and _CSV_FORMULA(cell, 1) else cell


Progress = Callable[[str, int, int], None]  # stage, done, total


@dataclass
class Sender:
    """How one account appears in the package; computed once per account."""

    account: Account
    target: bool
    token: str = ""
    alias: str = ""
    messages: int = 0
    json_fragment: str = ""
    label: str = ""

    @property
    def reference(self) -> str:
        return self.account.uid if self.target else self.token


@dataclass
class BuiltPackage:
    path: Path
    sha256: str
    size: int
    manifest_sha256: str
    counts: dict
    senders: list[Sender] = field(default_factory=list)
    revealed: list[Account] = field(default_factory=list)  # identity sheets: the people revealed


class Pseudonymiser:
    """Pseudonyms and aliases of one warrant, numbered in order of first appearance."""

    def __init__(self, scope: Scope, *, key_id: str, key: bytes):
        self.reference = scope.warrant.reference
        self.key_id, self.key = key_id, key
        self.by_account: dict[int, Sender] = {}
        self.target_ids = set(scope.target_accounts)
        self.pseudonymised = 0

    def sender(self, account: Account) -> Sender:
        found = self.by_account.get(account.pk)
        if found is not None:
            return found
        if account.pk in self.target_ids:
            sender = Sender(account, target=True, label=account.display_name)
            sender.json_fragment = (
                f'{{"type":"target","uid":{_json_str(account.uid)},"name":{_json_str(account.display_name)}}}'
            )
        else:
            token = pseudonyms.pseudonymise(account.uid, scope=self.reference, key_id=self.key_id, key=self.key)
            self.pseudonymised += 1
            alias = f"Participant {self.pseudonymised}"
            sender = Sender(account, target=False, token=token, alias=alias, label=alias)
            sender.json_fragment = f'{{"type":"pseudonym","token":"{token}","alias":"{alias}"}}'
        self.by_account[account.pk] = sender
        return sender


def _person(account: Account, *, target: bool) -> Person:
    return Person(
        uid=account.uid,
        display_name=account.display_name,
        phone=account.phone_normalized,
        email=account.email_normalized,
        target=target,
    )


class _Lookup:
    """Find an account mentioned by phone or e-mail that is not among the participants: the redactor's
    ``lookup``. ``prefetch`` answers a batch's values in one question beforehand; a value it did not
    answer is asked alone when the redactor meets it, so the answers are the same either way."""

    COLUMNS = ("pk", "uid", "display_name", "phone_normalized", "email_normalized")

    def __init__(self, pseudonymiser: Pseudonymiser, by_uid: dict[str, Account]):
        self.pseudonymiser, self.by_uid = pseudonymiser, by_uid
        self.cache: dict[tuple[str, str], Person | None] = {}
        # One compiled query per column, run on one driver cursor kept for the whole export: most values
        # match no account, and the ORM's per-query cost (building and compiling the queryset, opening
        # and wrapping a cursor, converting the placeholders) is many times the indexed look-up itself.
        self.sql = {}
        for name in ("phone_normalized", "email_normalized"):
            query = Account.objects.filter(**{name: ""}).order_by().values_list(*self.COLUMNS)[:1].query
            text = query.sql_with_params()[0]
            self.sql[name] = text.replace("%s", "?") if connection.vendor == "sqlite" else text  # the driver's style
        self.many_sql = self._many_sql()
        self.cursors: list = []
        self.known = _known_contacts()
        self.asked: dict[tuple[str, str], Account | None] = {}  # (column, normalised value) -> its account

    @classmethod
    def _many_sql(cls) -> str | None:
        """The accounts having any of a list of phone numbers, then of a list of addresses (each row
        tagged with its list), one list a parameter: PostgreSQL ``= ANY`` of an array, SQLite ``IN`` the
        values of a JSON array. None for other databases (the look-up per value only)."""
        if connection.vendor == "postgresql":
            values = "= ANY(%s)"
        elif connection.vendor == "sqlite":
            values = "IN (SELECT value FROM json_each(?))"
        else:
            return None
        quote = connection.ops.quote_name
        fields = {"pk" if field.primary_key else field.name: field for field in Account._meta.concrete_fields}
        column = {name: quote(cast("str", fields[name].column)) for name in cls.COLUMNS}  # concrete: a column each
        columns, table = ", ".join(column.values()), quote(Account._meta.db_table)
        return (  # our names; the values are parameters
            f"SELECT 0, {columns} FROM {table} WHERE {column['phone_normalized']} {values} "  # noqa: S608
            f"UNION ALL SELECT 1, {columns} FROM {table} WHERE {column['email_normalized']} {values}"
        )

    @staticmethod
    def _normalized(kind: str, value: str) -> tuple[str, str | None]:
        if kind == "phone":
            return "phone_normalized", normalize_phone(value)
        return "email_normalized", normalize_email(value)

    def _cursor(self):
        if not self.cursors:
            connection.ensure_connection()
            self.cursors.append(connection.connection.cursor())
        return self.cursors[0]

    def __call__(self, kind: str, value: str) -> Person | None:
        if (kind, value) not in self.cache:
            field_name, normalized = self._normalized(kind, value)
            account = None
            if normalized and _may_exist(self.known, normalized):
                # One question per value, however it is written ("010-1234-5678", "+82 10 1234 5678" ...).
                if (field_name, normalized) not in self.asked:
                    self.asked[(field_name, normalized)] = self.ask_one(field_name, normalized)
                account = self.asked[(field_name, normalized)]
            if account is not None:
                self.by_uid.setdefault(account.uid, account)
            target = account is not None and account.pk in self.pseudonymiser.target_ids
            self.cache[(kind, value)] = _person(account, target=target) if account else None
        return self.cache[(kind, value)]

    def ask_one(self, field_name: str, normalized: str) -> Account | None:
        """The account with this value (the first the database gives when several have it)."""
        cursor = self._cursor()
        cursor.execute(self.sql[field_name], (normalized,))
        row = cursor.fetchone()
        return Account(**dict(zip(self.COLUMNS, row, strict=True))) if row else None

    def prefetch(self, contacts: Iterable[tuple[str, str]]) -> None:
        """Answer beforehand the values of ``contacts`` (kind, value: ``Redactor.contacts``) that the
        redactor would ask about one at a time, those some account may have (``_known_contacts``) and not
        asked yet, in one question. A round trip per value cost about 1.5 s of the 1,000,000-message
        pass on PostgreSQL (4,800 values, each a wait for the server on a busy machine). A value several
        accounts have is left to ``ask_one``, which answers it as before."""
        if self.many_sql is None:
            return
        wanted: tuple[set[str], set[str]] = (set(), set())
        for kind, value in contacts:
            if (kind, value) in self.cache:
                continue
            field_name, normalized = self._normalized(kind, value)
            if normalized and (field_name, normalized) not in self.asked and _may_exist(self.known, normalized):
                wanted[field_name == "email_normalized"].add(normalized)
        if not (wanted[0] or wanted[1]):
            return
        lists = [sorted(values) for values in wanted]
        cursor = self._cursor()
        cursor.execute(self.many_sql, lists if connection.vendor == "postgresql" else [json.dumps(v) for v in lists])
        found: dict[tuple[str, str], list[tuple]] = {}
        for tag, *row in cursor.fetchall():
            name = ("phone_normalized", "email_normalized")[tag]
            value = row[self.COLUMNS.index(name)]
            if value not in wanted[tag]:  # matched as another spelling (a collation): each value asked alone
                return
            found.setdefault((name, value), []).append(row)
        for index, name in enumerate(("phone_normalized", "email_normalized")):
            for value in lists[index]:
                matches = found.get((name, value), ())
                if len(matches) <= 1:
                    self.asked[(name, value)] = (
                        Account(**dict(zip(self.COLUMNS, matches[0], strict=True))) if matches else None
                    )


def _lookup_factory(pseudonymiser: Pseudonymiser, by_uid: dict[str, Account]) -> _Lookup:
    """The redactor's ``lookup`` for this export (see ``_Lookup``)."""
    return _Lookup(pseudonymiser, by_uid)


def _known_contacts() -> array.array:
    """The ``hash()`` of every account's normalised phone number and e-mail address, sorted: 8 bytes a
    value, read once with one driver cursor. Most phone numbers and addresses in message text belong to
    no account; with this a look-up answers them here instead of asking the database (a round trip per
    value: on PostgreSQL under load about 1.5 ms, 16,000 of them in the 1,000,000-message benchmark, a
    quarter of the pass). A value whose hash is present (its account's, or a rare collision) is asked
    as before, so the result is the same; only the round trips for values of no account are saved."""
    # Sorted a batch at a time and merged: never a list of every value as Python ints (36 bytes each).
    runs: list[array.array] = []
    sql, params = Account.objects.order_by().values_list("phone_normalized", "email_normalized").query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(BATCH):
            runs.append(array.array("q", sorted(hash(value) for row in rows for value in row if value)))
    return array.array("q", heapq.merge(*runs))


def _may_exist(known: array.array, value: str) -> bool:
    digest = hash(value)
    at = bisect.bisect_left(known, digest)
    return at < len(known) and known[at] == digest


def account_directory(target_ids: set[int]) -> DirectoryIndex:
    """Every account's ID and display name, to be found in message text whoever they belong to (not
    only the participants of the scope): see ``disclosure.directory``. Read with one driver cursor."""
    directory = DirectoryIndex()
    sql, params = Account.objects.order_by().values_list("pk", "uid", "display_name").query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(BATCH):
            for pk, uid, display_name in rows:
                directory.add(pk, uid=uid, display_name=display_name, target=pk in target_ids)
    return directory.freeze()


def _resolve_factory(
    pseudonymiser: Pseudonymiser, accounts: dict[int, Account], by_uid: dict[str, Account]
) -> Callable[[int], Person | None]:
    """The account of a directory find (a pk), as the redactor's Person; its uid joins ``by_uid`` so
    that it gets a pseudonym (and so an alias and a Disclosure row) like a participant."""

    def resolve(pk: int) -> Person | None:
        account = accounts.get(pk) or Account.objects.filter(pk=pk).first()
        if account is None:
            return None
        by_uid.setdefault(account.uid, account)
        return _person(account, target=account.pk in pseudonymiser.target_ids)

    return resolve


def build_package(scope: Scope, *, out_dir: Path, progress: Progress | None = None) -> BuiltPackage:
    """Write the package for ``scope`` into ``out_dir`` under a temporary name and return it.

    The caller publishes it (renames it into place and marks the export ready) in one step, so a
    crash at any point leaves no package marked ready."""
    progress = progress or (lambda stage, done, total: None)
    warrant = scope.warrant
    key_id, key = keys.case_key(warrant, create=True)
    keys.signing_key()  # fail before the long work when the operator cannot sign
    pseudonymiser = Pseudonymiser(scope, key_id=key_id, key=key)
    # Everyone who could be named in the text: senders, targets, and every member of a room in scope
    # during the period (silent members get @-mentioned too).
    members = Membership.objects.filter(
        room_id__in=[item.room.pk for item in scope.rooms], joined_at__lt=warrant.period_end
    ).filter(Q(left_at__isnull=True) | Q(left_at__gt=warrant.period_start))
    participants = Account.objects.filter(
        Q(pk__in=scope.participant_ids | set(scope.target_accounts)) | Q(pk__in=members.values("account_id"))
    )
    accounts = {account.pk: account for account in participants}
    by_uid = {account.uid: account for account in accounts.values()}
    lookup = _lookup_factory(pseudonymiser, by_uid)
    redactor = Redactor(
        [_person(a, target=a.pk in pseudonymiser.target_ids) for a in accounts.values()],
        lookup=lookup,
        pseudonym=lambda person: pseudonymiser.sender(by_uid[person.uid]).token,
        directory=account_directory(pseudonymiser.target_ids),
        resolve=_resolve_factory(pseudonymiser, accounts, by_uid),
    )
    work = out_dir / f".build-{uuid.uuid4().hex}"
    work.mkdir(parents=True, mode=0o700)
    try:
        total = scope.message_count
        room_labels = {item.room.pk: f"room-{index}" for index, item in enumerate(scope.rooms, start=1)}
        counts = _write_conversations(
            scope,
            work,
            pseudonymiser,
            redactor,
            accounts,
            room_labels,
            total=total,
            progress=progress,
            prefetch=lookup.prefetch,
        )
        counts = _with_pseudonymised_breakdown(counts, pseudonymiser.by_account.values())
        volumes = _write_report(scope, work, pseudonymiser, counts, progress=progress)
        manifest = _manifest(scope, work, counts, [*[CONVERSATIONS, MESSAGES_CSV], *volumes], key_id)
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
        signature = keys.sign(manifest_bytes)
        public = keys.signing_key().public_key()
        package = out_dir / f".{warrant.reference}-{uuid.uuid4().hex}.zip.part"
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("manifest.json", manifest_bytes, compress_type=zipfile.ZIP_DEFLATED)
            archive.writestr("manifest.sig", signature + "\n")
            archive.writestr("operator-public-key.pem", keys.public_key_pem(public))
            for name in manifest["files"]:
                compress = zipfile.ZIP_STORED if name.endswith(".pdf") else zipfile.ZIP_DEFLATED
                archive.write(work / name, name, compress_type=compress)
        with open(package, "rb") as handle:
            os.fsync(handle.fileno())
        return BuiltPackage(
            path=package,
            sha256=sha256_file(package),
            size=package.stat().st_size,
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            counts=counts,
            senders=list(pseudonymiser.by_account.values()),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _UtcText(Func):
    """SQLite: the stored UTC text ("2026-01-02 03:04:05[.ffffff]") as ISO 8601 with its offset,
    made by SQLite rather than by Python for every row."""

    template = "(substr(%(expressions)s, 1, 10) || 'T' || substr(%(expressions)s, 12) || '+00:00')"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        """PostgreSQL: ``datetime.isoformat()`` of the UTC time (microseconds only when not zero) made by
        the server, whatever the session's time zone and DateStyle: the reader process then pickles
        and the export process writes short strings, not a million aware datetimes (made by psycopg,
        pickled with their time zone, unpickled, formatted again). One ``to_char`` a row, its zero
        microseconds taken off after: 0.39 s of the server's time for 1,000,000 rows (EXPLAIN ANALYZE), where
        a ``to_char`` for the seconds, another for the microseconds and a test for zero microseconds took
        0.56 s."""
        template = (
            "replace(to_char((%(expressions)s AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
            "'.000000+', '+')"
        )
        return self.as_sql(compiler, connection, template=template, **extra_context)


def _queries(scope: Scope) -> Iterator[tuple[str, tuple]]:
    """SQL and parameters selecting the scope's messages in (room, time, id) order as plain rows
    (pk, room, sender, sent_at, kind, sealed body, key generation), one query per room interval.
    ``sent_at`` is ISO text (UTC, as ``datetime.isoformat()`` writes it) on SQLite and PostgreSQL, an aware
    datetime elsewhere.

    Not one query with an OR of every interval: SQLite answers that with a MULTI-INDEX OR that keeps
    every matching rowid in memory (35 MB at 1,000,000 messages). The rows are read without the ORM's
    per-row converters."""
    columns = ("pk", "room_id", "sender_id", "sent_at", "kind", "sealed_body", "key_generation")
    sent_at = Message._meta.get_field("sent_at")
    compiled: str | None = None  # the SQL is the same for every interval: compiled once (500 rooms: 0.5 s)
    for item in sorted(scope.rooms, key=lambda item: item.room.pk):
        for interval in item.intervals:
            params = (
                item.room.pk,
                sent_at.get_db_prep_value(interval.start, connection),
                sent_at.get_db_prep_value(interval.end, connection),
            )
            if compiled is None:
                query = Message.objects.filter(
                    room_id=item.room.pk, sent_at__gte=interval.start, sent_at__lt=interval.end
                ).order_by("sent_at", "pk")
                if connection.vendor in ("sqlite", "postgresql"):
                    query = query.annotate(stamp=_UtcText("sent_at")).values_list(*columns[:3], "stamp", *columns[4:])
                else:
                    query = query.values_list(*columns)
                sql, orm_params = query.query.sql_with_params()
                if tuple(orm_params) != params:  # not the shape expected: compile every interval's own
                    yield sql, tuple(orm_params)
                    continue
                compiled = sql
            yield compiled, params


def _batches(scope: Scope) -> Iterator[list[tuple]]:
    """The rows of ``_queries``, their bodies opened (pk, room, sender, sent_at, kind, text), in batches
    of at most BATCH, read here or, for a large scope outside a transaction, by a reader process
    (``disclosure.exports.reader``) that reads and decrypts while this one writes."""
    intervals = [interval for item in scope.rooms for interval in item.intervals]
    if not intervals:
        return
    opener = bodies.row_opener(min(i.start for i in intervals), max(i.end for i in intervals))
    source = _reader_source() if scope.message_count >= settings.WARRANTDESK_EXPORT_READER_MIN_MESSAGES else None
    if source is not None:
        queries = list(_queries(scope))
        for batch in reader.read_ahead(reader.forkserver_context(), source, queries, batch=BATCH, transform=opener):
            # A day re-keyed by the purge between reading the keys and the reader's snapshot: rows left
            # sealed, opened here with the day's new key (bodies.reopen).
            yield batch if type(batch) is list else bodies.reopen(batch, opener)
        return
    for sql, params in _queries(scope):
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(BATCH):
                opened = opener(batch)
                yield opened if type(opened) is list else bodies.reopen(opened, opener)


# Django's options that are not psycopg.connect() arguments
_NOT_PSYCOPG_OPTIONS = {"assume_role", "context", "cursor_factory", "isolation_level", "pool", "server_side_binding"}


def _reader_source() -> reader.Source | None:
    """Where a reader process can read this connection's committed data, or None when it cannot see
    what this connection sees (inside a transaction, an in-memory database, another vendor)."""
    if connection.in_atomic_block:
        return None
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        if cast("SQLiteDatabaseWrapper", connection).is_in_memory_db():  # the vendor says which wrapper it is
            return None
        return reader.Source("sqlite", name=str(settings_dict["NAME"]))
    if connection.vendor == "postgresql":
        params = {k: v for k, v in settings_dict["OPTIONS"].items() if k not in _NOT_PSYCOPG_OPTIONS}
        params["dbname"] = settings_dict["NAME"]
        for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
            if settings_dict.get(key):
                params[name] = settings_dict[key]
        params["options"] = f"{params.get('options', '')} -c TimeZone=UTC".strip()
        params["client_encoding"] = "UTF8"
        return reader.Source("postgresql", params=params)
    return None


def _write_conversations(
    scope: Scope,
    work: Path,
    pseudonymiser: Pseudonymiser,
    redactor: Redactor,
    accounts: dict[int, Account],
    room_labels: dict[int, str],
    *,
    total: int,
    progress: Progress,
    prefetch: Callable[[Iterable[tuple[str, str]]], None] | None = None,
) -> dict:
    """Write conversations.json and messages.csv; ``prefetch`` (``_Lookup.prefetch``) is handed the phone
    numbers and addresses of each batch's texts before the batch is redacted."""
    rooms = {item.room.pk: item for item in scope.rooms}

    def encoded(body: str) -> tuple[str, str]:
        """The redacted text as a JSON string and as a CSV field."""
        text = redactor.redact(body)
        return _json_str(text), _csv_field(text)

    # Chats repeat themselves ("ㅋㅋㅋ", "ㅇㅇ", "사진"): short texts are redacted and encoded once.
    # Redaction depends only on the text (the people are fixed for the export), so the result is the same.
    encoded_short = functools.lru_cache(maxsize=REDACT_CACHE)(encoded)
    done = 0
    current_room = None
    with (
        open(work / CONVERSATIONS, "w", encoding="utf-8") as out,
        open(work / MESSAGES_CSV, "w", encoding="utf-8", newline="") as csv_file,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(["room", "sent_at", "sender", "sender_label", "kind", "text"])
        warrant = scope.warrant
        out.write(
            f'{{"format":"{FORMAT}","warrant":{_json_str(warrant.reference)},'
            f'"period":{{"start":"{warrant.period_start.isoformat()}","end":"{warrant.period_end.isoformat()}"}},'
            f'"{ROOMS}":['
        )
        separator = ""  # before the next message of the room: "" for its first, else ","
        progress("messages", 0, total)
        faults.hold("export.messages")  # tests/test_journey.py: the page sees the bar before the end
        report_at = time.monotonic() + PROGRESS_SECONDS
        by_sender: dict[int, tuple[Sender, str, str]] = {}
        scanned: set[int] = set()  # see _contacts
        # The JSON and the CSV of a batch are built as lists of strings and written WRITE_ROWS rows at a time.
        for batch in _batches(scope):
            if prefetch is not None:
                prefetch(_contacts(batch, redactor, scanned))
            parts: list[str] = []
            lines: list[str] = []
            for pk, room_id, sender_id, sent_at, kind, body in batch:
                if room_id != current_room:
                    if current_room is not None:
                        parts.append("]},")
                    current_room = room_id
                    item = rooms[room_id]
                    label = room_labels[room_id]
                    csv_room = _csv_field(label)
                    title = "" if item.room.kind == "DIRECT" else redactor.redact(item.room.title)
                    covered = ",".join(
                        f'{{"start":"{i.start.isoformat()}","end":"{i.end.isoformat()}"}}' for i in item.intervals
                    )
                    parts.append(
                        f'{{"room":"{label}","kind":"{item.room.kind}","title":{_json_str(title)},'
                        f'"covered":[{covered}],"{MESSAGES}":['
                    )
                    separator = ""
                found = by_sender.get(sender_id)
                if found is None:
                    sender = pseudonymiser.sender(accounts[sender_id])
                    found = by_sender[sender_id] = (
                        sender,
                        sender.json_fragment,
                        f"{_csv_field(sender.reference)},{_csv_field(sender.label)}",
                    )
                sender, fragment, csv_sender = found
                sender.messages += 1
                json_text, csv_text = encoded_short(body) if len(body) <= REDACT_CACHE_MAX_LENGTH else encoded(body)
                if sent_at.__class__ is not str:
                    sent_at = sent_at.isoformat()
                parts.append(
                    f'{separator}{{"id":{pk},"sent_at":"{sent_at}","sender":{fragment},'
                    f'"kind":"{kind}","text":{json_text}}}'
                )
                separator = ","
                lines.append(f"{csv_room},{sent_at},{csv_sender},{kind},{csv_text}\r\n")
                if len(lines) == WRITE_ROWS:
                    out.write("".join(parts))
                    csv_file.write("".join(lines))
                    parts.clear()
                    lines.clear()
            out.write("".join(parts))
            csv_file.write("".join(lines))
            done += len(batch)
            if time.monotonic() >= report_at:
                progress("messages", done, total)
                report_at = time.monotonic() + PROGRESS_SECONDS
        if current_room is not None:
            out.write("]}")
        senders = list(pseudonymiser.by_account.values())
        targets = [s for s in senders if s.target]
        others = [s for s in senders if not s.target]
        out.write(
            f'],"{PARTICIPANTS}":{{"{TARGETS}":['
            + ",".join(
                f'{{"uid":{_json_str(s.account.uid)},"name":{_json_str(s.account.display_name)},"messages":{s.messages}}}'
                for s in targets
            )
            + f'],"{PSEUDONYMISED}":['
            + ",".join(f'{{"token":"{s.token}","alias":"{s.alias}","messages":{s.messages}}}' for s in others)
            + "]}}"
        )
    progress("messages", done, total)
    return {
        "rooms": len(scope.rooms),
        "messages": done,
        "targets": len(targets),
        "pseudonymised": len(others),
        "unmatched_targets": len(scope.unmatched),
    }


def _contacts(batch: list[tuple], redactor: Redactor, scanned: set[int]) -> Iterator[tuple[str, str]]:
    """What the redactor may look up in the texts of ``batch`` (``Redactor.contacts``), every distinct
    text scanned once. A text scanned lately is skipped: its values were asked then, and answers are kept
    (as the cache of short texts skips redacting it again). ``scanned`` holds the ``hash()`` of the texts
    scanned, at most REDACT_CACHE of them (then it starts again): a collision only leaves a value to the
    look-up per value."""
    for body in {row[5] for row in batch}:
        key = hash(body)
        if key in scanned:
            continue
        if len(scanned) >= REDACT_CACHE:
            scanned.clear()
        scanned.add(key)
        yield from redactor.contacts(body)


def _with_pseudonymised_breakdown(counts: dict, senders: Iterable[Sender]) -> dict:
    """The counts with the pseudonymised people split in two, right after their total: those who sent
    messages in scope (the scope preview's non-target participants) and those only named in the text
    (found by phone, e-mail, account ID or name). Without the split the package's count looks like a
    contradiction of the preview's."""
    others = [sender for sender in senders if not sender.target]
    participants = sum(1 for sender in others if sender.messages)
    ordered: dict = {}
    for key, value in counts.items():
        ordered[key] = value
        if key == "pseudonymised":
            ordered["pseudonymised_participants"] = participants
            ordered["pseudonymised_named_in_text"] = len(others) - participants
    return ordered


def _write_report(scope: Scope, work: Path, pseudonymiser: Pseudonymiser, counts: dict, *, progress: Progress):
    """The human-readable PDF, read back from messages.csv (already redacted), in parallel volumes."""
    warrant = scope.warrant
    language = pdf.report_language(settings.WARRANTDESK_REPORT_LANGUAGE)
    senders = list(pseudonymiser.by_account.values())
    alias_of = {s.token: pdf.alias_label(s.alias, language) for s in senders if not s.target}
    shown_alias = {s.alias: alias_of[s.token] for s in senders if not s.target}  # messages.csv has the stable one
    with translation.override(language):
        kinds = {item.room.pk: str(item.room.get_kind_display()) for item in scope.rooms}
    labels = {
        f"room-{i}": pdf.room_label(i, kinds[item.room.pk], language) for i, item in enumerate(scope.rooms, start=1)
    }
    cover = pdf.ReportCover(
        reference=warrant.reference,
        agency=warrant.agency.name,
        warrant_number=warrant.warrant_number,
        court=warrant.court,
        legal_basis=warrant.legal_basis,
        period_start=warrant.period_start,
        period_end=warrant.period_end,
        generated_at=timezone.now(),
        counts=counts,
        targets=[(s.account.uid, s.account.display_name) for s in senders if s.target],
        aliases=[(alias_of[s.token], s.token) for s in senders if not s.target],
        language=language,
        operator_key_fingerprint=keys.public_key_fingerprint(keys.operator_public_key()),
    )
    total = counts["messages"]
    done = 0

    def messages() -> Iterator[pdf.ReportMessage]:
        nonlocal done
        with open(work / MESSAGES_CSV, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for room, stamp, _reference, label, kind, text in reader:
                done += 1
                if done % BATCH == 0:
                    progress("report", done, total)
                label = csv_cell_text(label)
                yield pdf.ReportMessage(
                    room=labels.get(room, room),
                    sent_at=dt.datetime.fromisoformat(stamp),
                    sender=shown_alias.get(label, label),
                    kind=kind,
                    body=csv_cell_text(text),
                )

    progress("report", 0, total)
    paths = pdf.render_volumes(
        cover,
        messages(),
        alias_of=alias_of,
        per_volume=settings.WARRANTDESK_PDF_PER_VOLUME,
        processes=settings.WARRANTDESK_PDF_PROCESSES,
        out_dir=work,
    )
    progress("report", total, total)
    return [path.name for path in paths]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (packages can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest(scope: Scope, work: Path, counts: dict, names: list[str], key_id: str) -> dict:
    warrant = scope.warrant
    public = keys.signing_key().public_key()
    return {
        "format": FORMAT,
        "generator": GENERATOR,
        "created_at": timezone.now().isoformat(),
        "warrant": {
            "reference": warrant.reference,
            "warrant_number": warrant.warrant_number,
            "court": warrant.court,
            "case_number": warrant.case_number,
            "legal_basis": warrant.legal_basis,
        },
        "agency": {"code": warrant.agency.code, "name": warrant.agency.name},
        "scope": {
            "period_start": warrant.period_start.isoformat(),
            "period_end": warrant.period_end.isoformat(),
            "rooms": counts["rooms"],
        },
        "counts": counts,
        # What retention had already deleted of the period when the warrant was received.
        "retention": retention_gap(warrant).as_dict(),
        "pseudonym_key_id": key_id,
        "operator_key_sha256": keys.public_key_fingerprint(public),
        "files": {name: {"sha256": sha256_file(work / name), "size": (work / name).stat().st_size} for name in names},
    }
