"""Writing a KakaoTalk export into the conversation store: rooms, accounts, memberships, messages.

Decisions:

* **Room**: found or created by its external ID (``--room``). A new room takes the title given, else the
  export's own ("홍길동 님과 카카오톡 대화" → "홍길동"), and the kind given, else DIRECT when exactly two
  people sent messages in the file, else GROUP. An existing room keeps its title and kind unless given.
* **Accounts**: a name found in the mapping is the mapped account (all mapped accounts must exist:
  checked before anything is written). Any other name becomes the account
  ``kakao:<room>:<sha256(name)[:12]>`` (the room part hashed too when the ID would pass 64 characters),
  created on first sight and found again on every later import of that room. A name is only unique in its
  room, so the same name in two rooms is two accounts.
* **The device owner**: a mobile export labels its owner's own messages "회원님", "나" or "You" (any case;
  ``kakao.is_self_label``), never by name. ``me`` (``--me ACCOUNT``) names the owner's existing account
  and every spelling of the label becomes that one account (a ``mapping`` entry for a label wins, and
  must not name another account than ``me``). Without ``me``, a file in which the label appears (as a
  sender or in a system line) is refused before anything is written, with the label, its first line
  and the option to give. Refused rather than imported with those lines skipped or given a made-up
  account, because: the owner's lines are usually half the conversation (the export comes from a
  target's or a witness's phone), and a store missing them would be shown in scope previews and
  exports as if complete; a made-up "kakao:<room>:<hash('회원님')>" account would be a fictitious
  person, pseudonymised as a non-target while the owner may be a target, a different "person" in
  every room, and since the fingerprint holds the account ID, a later import with the right account
  would store every one of those messages a second time. A refusal costs a re-run with ``--me``.
* **Messages**: ``fingerprint`` = sha256 of (room ID, sender's account ID, sent_at in UTC ISO form, body,
  n-th repeat of that same tuple in the file). Importing the same file again, or an export that overlaps
  one already imported, adds only what is new; the rest is counted as duplicates. The insert skips them
  by the unique (room, fingerprint) itself (``ON CONFLICT DO NOTHING``, batches of 2,000 rows), so the
  count is exact even against a concurrent import. Importing with another mapping or another ``--tz``
  makes other fingerprints: those are other messages as far as the store can tell.
* **System lines** (joined, left, invited, removed) are stored as SYSTEM messages attributed to the
  account they are about (see ``kakao``). One that names no one cannot be attributed: it is not stored,
  and it is counted under ``skipped`` with its line, like an unreadable line.
* **Memberships**: for each account, the file gives intervals: a member from a join or invitation line,
  else from their first message (in time order); until a leave or removal line, else still a member
  (``left_at`` NULL). ``left_at`` is one second after the leave line's time: a member's messages are
  those in [joined_at, left_at), and the leave line, their last act, is one of them (as in the
  generator). Someone who leaves without having been seen before was a member since the file's first
  time. These intervals are merged with what the room already holds for that account: unioned, except
  that an absence this file shows (from a leave to the next join, or onwards when none follows) cuts
  the stored intervals that began by the end of this file, and an open end ("still a member") defers to
  what other imports know after it. So two overlapping exports give the same memberships in either
  order. Re-importing a file changes nothing; rows are rewritten only for an
  account whose intervals changed.

Everything is written in one transaction: a fatal error leaves the store as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from disclosure.bodies import BodyCipher
from disclosure.models import Account, Membership, Message, Room
from warrantdesk.keystore import KeyDestroyed

from . import kakao
from .kakao import Action, Kind, ParsedLine, ParseError

BATCH = 2000
LEAVE_PAD = dt.timedelta(seconds=1)  # left_at is this after the leave line's time
UID_MAX = 64

Interval = tuple[dt.datetime, dt.datetime | None]  # [joined, left); left None: still a member


class ImportFailed(Exception):
    """A fatal error found before anything was written (unreadable file, unknown format, bad mapping)."""


class OwnerNotNamed(ImportFailed):
    """The export labels the device owner's lines ("회원님", "You") and no account was named for them."""

    def __init__(self, label: str, line_no: int):
        self.label, self.line_no = label, line_no
        super().__init__(
            f"line {line_no}: '{label}' is how KakaoTalk labels the device owner's own messages, and the "
            f"export does not say who that is. Name the owner's account with --me ACCOUNT (or map '{label}' "
            "in the --map file) and import again; nothing was imported"
        )


@dataclass
class ImportSummary:
    room: str
    format: str
    encoding: str = ""
    rooms: int = 1
    room_created: bool = False
    senders: int = 0
    messages: int = 0
    duplicates: int = 0
    beyond_retention: int = 0  # messages of a day already purged (its key destroyed): not stored
    owner_lines: int = 0  # messages and system lines of the device owner's self-label, given to ``me``
    errors: list[ParseError] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Lines not imported: unreadable ones and system lines that name no one."""
        return len(self.errors)

    def as_dict(self) -> dict:
        return {
            "rooms": self.rooms,
            "senders": self.senders,
            "messages": self.messages,
            "duplicates": self.duplicates,
            **({"beyond_retention": self.beyond_retention} if self.beyond_retention else {}),
            "skipped": self.skipped,
            "format": self.format,
            "errors": [{"line": error.line_no, "reason": error.reason} for error in self.errors],
        }


def account_uid(room_external_id: str, name: str) -> str:
    """The account ID of an unmapped sender: stable, so a re-import finds the same account."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    uid = f"kakao:{room_external_id}:{digest}"
    if len(uid) > UID_MAX:
        uid = f"kakao:{hashlib.sha256(room_external_id.encode()).hexdigest()[:24]}:{digest}"
    return uid


def fingerprint(room_external_id: str, uid: str, sent_at: dt.datetime, body: str, repeat: int) -> str:
    """The plain digest of what makes a message imported once (``_Writer.add`` computes the same, with
    caching); what is stored is its HMAC under the day's fingerprint key (``BodyCipher.fingerprint``)."""
    iso = sent_at.astimezone(dt.UTC).isoformat()
    return hashlib.sha256("\x1f".join((room_external_id, uid, iso, body, str(repeat))).encode()).hexdigest()


class _MessageTable:
    """Messages inserted a batch at a time by ``INSERT … ON CONFLICT DO NOTHING`` (SQLite 3.24+, PostgreSQL),
    the unique (room, fingerprint) skipping what is already stored; the rows the database reports
    inserted are the messages added. Several times faster than ``bulk_create``, which builds a model
    instance per row. Columns the importer does not set get their defaults."""

    SET = ("room_id", "sender_id", "sent_at", "kind", "sealed_body", "key_generation", "fingerprint")

    def __init__(self):
        self.connection = connection = connections[DEFAULT_DB_ALIAS]  # the wrapper, not the proxy
        fields = [f for f in Message._meta.local_concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        # Only the model's own table and column names (quoted) go into the statement; values are parameters.
        columns = ", ".join(quote(f.column) for f in fields)
        self.head = f"INSERT INTO {quote(Message._meta.db_table)} ({columns}) VALUES "  # noqa: S608
        self.one = f"({', '.join(['%s'] * len(fields))})"
        self.tail = " ON CONFLICT DO NOTHING"
        # SQLite: one prepared statement run for each row is fastest. PostgreSQL: one statement with all
        # the batch's rows (12,000 parameters), a round trip per batch instead of per row.
        self.many_rows = connection.vendor != "sqlite"
        extra = [f for f in fields if f.attname not in self.SET]
        self.defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in extra)
        order = [*self.SET, *(f.attname for f in extra)]
        self.identity = [f.attname for f in fields] == order
        self.pick = operator.itemgetter(*(order.index(f.attname) for f in fields))
        self.naive_utc_text = connection.vendor == "sqlite" and settings.USE_TZ
        self.cache: dict[dt.datetime, tuple[str, object]] = {}

    def times(self, sent_at: dt.datetime) -> tuple[str, object]:
        """The UTC ISO form of a time (for the fingerprint) and its database value."""
        found = self.cache.get(sent_at)
        if found is None:
            utc = sent_at.astimezone(dt.UTC)
            if self.naive_utc_text:
                # What the SQLite backend's adapt_datetimefield_value makes of it with USE_TZ (naive UTC,
                # str()), without its per-call checks: a fifth of the import's time otherwise.
                found = utc.isoformat(), str(utc.replace(tzinfo=None))
            else:
                found = utc.isoformat(), self.connection.ops.adapt_datetimefield_value(utc)
            self.cache[sent_at] = found
        return found

    def row(self, room_id, sender_id, sent_at, kind, sealed_body, generation, digest) -> tuple:
        values = (room_id, sender_id, sent_at, kind, sealed_body, generation, digest)
        return values if self.identity else self.pick(values + self.defaults)

    def insert(self, rows: list[tuple]) -> int:
        with self.connection.cursor() as cursor:
            if self.many_rows:
                sql = self.head + ",".join([self.one] * len(rows)) + self.tail
                cursor.execute(sql, [value for row in rows for value in row])
            else:
                cursor.executemany(self.head + self.one + self.tail, rows)
            return cursor.rowcount


def load_mapping(path: str | Path) -> dict[str, str]:
    """Display name → account ID, from a JSON object or a two-column CSV (name,uid; a header row is fine)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"cannot read the mapping file {path}: {exc}") from exc
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ImportFailed(f"mapping file {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise ImportFailed(f'mapping file {path} must be one JSON object {{"display name": "account ID", ...}}')
        return {name: uid.strip() for name, uid in data.items()}
    mapping: dict[str, str] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        if len(row) != 2:
            raise ImportFailed(f"mapping file {path}, line {number}: expected 2 columns (name,uid), found {len(row)}")
        name, uid = row[0], row[1].strip()
        if number == 1 and uid.lower() in ("uid", "account", "account id", "account_id"):
            continue
        mapping[name] = uid
    return mapping


def _read(source: str | Path | bytes, encoding: str | None) -> tuple[str, str]:
    if isinstance(source, str) and "\n" in source:
        return source, ""
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImportFailed(f"cannot read {source}: {exc.strerror or exc}") from exc
    try:
        return kakao.decode(data, encoding)
    except LookupError as exc:
        raise ImportFailed(f"unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        raise ImportFailed(f"cannot decode the file as {encoding or 'UTF-8 or CP949'}: {exc}") from exc


def import_chat(
    source: str | Path | bytes,
    *,
    room_external_id: str,
    room_title: str | None = None,
    room_kind: str | None = None,
    tz: dt.tzinfo | str = "Asia/Seoul",
    mapping: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    encoding: str | None = None,
    fmt: str | None = None,
    me: str | None = None,
) -> ImportSummary:
    """Import one export into room ``room_external_id``.

    ``source`` is a path, the file's bytes, or its decoded text (a ``str`` with a newline in it).
    ``progress(lines_done, lines_total)`` is called after each batch. ``me`` is the account ID of the
    device owner, whom mobile exports label "회원님" / "나" / "You" (see the module docstring). Raises
    ImportFailed before writing anything for an unreadable file, an unknown format, a mapping naming
    accounts that do not exist, and (``OwnerNotNamed``) a self-label with no ``me``.
    """
    text, used_encoding = _read(source, encoding)
    lines = kakao.split_lines(text)
    try:
        fmt = fmt or kakao.detect_format(lines)
    except kakao.UnknownFormat as exc:
        raise ImportFailed(str(exc)) from exc
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    mapping = mapping or {}
    me = me.strip() if me else None
    if me is not None:
        clash = sorted(name for name, uid in mapping.items() if kakao.is_self_label(name) and uid != me)
        if clash:
            raise ImportFailed(f"the mapping gives the owner's label {clash[0]!r} another account than --me {me}")
    wanted = set(mapping.values()) | ({me} if me else set())
    mapped = {account.uid: account for account in Account.objects.filter(uid__in=wanted)}
    if me is not None and me not in mapped:
        raise ImportFailed(f"the account given with --me does not exist: {me}")
    unknown = sorted(set(mapping.values()) - set(mapped))
    if unknown:
        raise ImportFailed(f"the mapping names accounts that do not exist: {', '.join(unknown)}")
    summary = ImportSummary(room=room_external_id, format=fmt, encoding=used_encoding)
    with transaction.atomic():
        room, summary.room_created = Room.objects.get_or_create(
            external_id=room_external_id,
            defaults={
                "title": (room_title or kakao.read_title(lines) or "")[:200],
                "kind": room_kind or Room.Kind.GROUP,
            },
        )
        if not summary.room_created and (room_title or room_kind):
            room.title = room_title[:200] if room_title else room.title
            room.kind = room_kind or room.kind
            room.save(update_fields=["title", "kind"])
        writer = _Writer(room, {name: mapped[uid] for name, uid in mapping.items()}, summary, mapped.get(me))
        records = kakao.parse(lines, tz=zone, fmt=fmt, known_senders=mapping)
        writer.run(records, total=len(lines), progress=progress)
        if summary.room_created and not room_kind and len(writer.talkers) == 2:
            room.kind = Room.Kind.DIRECT
            room.save(update_fields=["kind"])
    return summary


class _Writer:
    def __init__(self, room: Room, mapped: dict[str, Account], summary: ImportSummary, owner: Account | None):
        self.room = room
        self.owner = owner
        self.summary = summary
        self.accounts: dict[str, Account] = dict(mapped)
        self.repeats: dict[tuple[str, str, str], int] = {}
        self.batch: list[tuple] = []
        self.table = _MessageTable()
        self.cipher = BodyCipher(create=True)
        self.room_id = room.pk
        self.events: dict[str, list[tuple[dt.datetime, int, Action | None]]] = defaultdict(list)
        self.senders: set[int] = set()
        self.talkers: set[int] = set()  # accounts with non-system messages
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.seq = 0

    def check_owner(self, record: ParsedLine) -> None:
        """Refuse a self-label that neither ``me`` nor the mapping resolves (before it becomes an account),
        and give every spelling of it the owner's account."""
        names = [record.sender] if record.sender is not None else []
        if record.event is not None:
            names += record.event.names
        for name in names:
            if name in self.accounts or not kakao.is_self_label(name):
                continue
            if self.owner is None:
                raise OwnerNotNamed(name, record.line_no)
            self.accounts[name] = self.owner

    def account(self, name: str) -> Account:
        account = self.accounts.get(name)
        if account is None:
            account, _created = Account.objects.get_or_create(
                uid=account_uid(self.room.external_id, name), defaults={"display_name": name[:200]}
            )
            self.accounts[name] = account
        return account

    def run(self, records: Iterable[ParsedLine | ParseError], *, total: int, progress) -> None:
        line_no = 0
        for record in records:
            if isinstance(record, ParseError):
                self.summary.errors.append(record)
                continue
            self.add(record)
            line_no = record.end_line_no
            if len(self.batch) >= BATCH:
                self.flush()
                if progress:
                    progress(line_no, total)
        self.flush()
        self.summary.errors.sort(key=lambda error: error.line_no)
        self.summary.senders = len(self.senders)
        self.write_memberships()
        if progress:
            progress(total, total)

    def add(self, record: ParsedLine) -> None:
        self.check_owner(record)
        if record.sender is not None and self.owner is not None and kakao.is_self_label(record.sender):
            self.summary.owner_lines += 1
        sent_at = record.sent_at
        self.first = sent_at if self.first is None or sent_at < self.first else self.first
        self.last = sent_at if self.last is None or sent_at > self.last else self.last
        self.seq += 1
        event = record.event
        if event is not None:
            if event.action in (Action.INVITE, Action.REMOVE) and event.actor:
                self.events[event.actor].append((sent_at, self.seq, None))
            action = Action.LEAVE if event.action in (Action.LEAVE, Action.REMOVE) else Action.JOIN
            for name in event.subjects:
                self.events[name].append((sent_at, self.seq, action))
        if record.sender is None:
            first_line = record.body.split("\n", 1)[0]
            self.summary.errors.append(
                ParseError(record.line_no, first_line, f"system line that names no account, not stored: {first_line}")
            )
            return
        account = self.account(record.sender)
        self.senders.add(account.id)
        if record.kind != Kind.SYSTEM:
            self.talkers.add(account.id)
            self.events[record.sender].append((sent_at, self.seq, None))
        iso, db_time = self.table.times(sent_at)
        key = (account.uid, iso, record.body)
        repeat = self.repeats[key] = self.repeats.get(key, 0) + 1
        digest = hashlib.sha256(
            "\x1f".join((self.room.external_id, account.uid, iso, record.body, str(repeat))).encode()
        ).hexdigest()
        try:
            digest = self.cipher.fingerprint(digest, sent_at)  # first: refuses a day purged whole
            sealed, generation = self.cipher.seal(record.body, sent_at)
        except KeyDestroyed:  # the day was purged whole: retention already deleted it everywhere
            self.summary.beyond_retention += 1
            return
        self.batch.append(
            self.table.row(self.room_id, account.id, db_time, record.kind.value, sealed, generation, digest)
        )

    def flush(self) -> None:
        if not self.batch:
            return
        added = self.table.insert(self.batch)
        self.summary.messages += added
        self.summary.duplicates += len(self.batch) - added
        self.batch = []

    def write_memberships(self) -> None:
        if self.first is None:
            return
        by_account: dict[int, list] = defaultdict(list)
        for name, events in self.events.items():
            by_account[self.account(name).pk].extend(events)
        stored: dict[int, list[Interval]] = defaultdict(list)
        for account_id, joined, left in Membership.objects.filter(
            room=self.room, account_id__in=by_account
        ).values_list("account_id", "joined_at", "left_at"):
            stored[account_id].append((joined, left))
        stale, fresh = [], []
        for account_id, events in by_account.items():
            current = normalize(stored.get(account_id, []))
            merged = merge(current, file_intervals(events, self.first), self.last)
            if merged != current:
                stale.append(account_id)
                fresh += [
                    Membership(room=self.room, account_id=account_id, joined_at=joined, left_at=left)
                    for joined, left in merged
                ]
        if stale:
            Membership.objects.filter(room=self.room, account_id__in=stale).delete()
            Membership.objects.bulk_create(fresh)


# --- membership intervals ---------------------------------------------------------------------------


def file_intervals(events: list[tuple[dt.datetime, int, Action | None]], file_start: dt.datetime) -> list[Interval]:
    """One account's membership in one file, from its events (time, order in file, JOIN/LEAVE/None for a
    message or an invitation made), taken in time order."""
    intervals: list[Interval] = []
    opened: dt.datetime | None = None
    for at, _seq, action in sorted(events, key=lambda event: (event[0], event[1])):
        if action is Action.LEAVE:
            if opened is None:
                if intervals:
                    continue  # left again without having come back: nothing to close
                opened = min(file_start, at)
            intervals.append((opened, at + LEAVE_PAD))
            opened = None
        elif opened is None:
            opened = at
    if opened is not None:
        intervals.append((opened, None))
    return normalize(intervals)


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, overlapping or touching intervals joined."""
    result: list[Interval] = []
    for start, end in sorted(intervals, key=lambda interval: interval[0]):
        if result:
            last_start, last_end = result[-1]
            if last_end is None or start <= last_end:
                result[-1] = (last_start, None if last_end is None or end is None else max(last_end, end))
                continue
        result.append((start, end))
    return result


def _subtract(interval: Interval, cut_start: dt.datetime, cut_end: dt.datetime | None) -> list[Interval]:
    start, end = interval
    pieces: list[Interval] = []
    if start < cut_start:
        pieces.append((start, cut_start if end is None or end > cut_start else end))
    if cut_end is not None and (end is None or end > cut_end):
        pieces.append((max(start, cut_end), end))
    return pieces


def merge(stored: list[Interval], found: list[Interval], file_end: dt.datetime) -> list[Interval]:
    """The stored intervals of an account updated with those one file shows (see the module docstring)."""
    absences = [
        (end, found[index + 1][0] if index + 1 < len(found) else None)
        for index, (_start, end) in enumerate(found)
        if end is not None
    ]
    kept: list[Interval] = []
    for interval in stored:
        pieces = [interval]
        if interval[0] <= file_end:  # what began after this file is beyond what it can contradict
            for cut_start, cut_end in absences:
                pieces = [piece for part in pieces for piece in _subtract(part, cut_start, cut_end)]
        kept += pieces
    found = list(found)
    if found and found[-1][1] is None:
        start = found[-1][0]
        after = [max(s, start) for s, e in kept if e is None or e > start]
        if after:
            end = min(after)
            found[-1:] = [(start, end)] if end > start else []
    return normalize(kept + found)
