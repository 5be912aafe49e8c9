"""The tamper-evident audit log: writing entries and proving the chain intact.

Every entry stores the previous entry's hash and its own hash, SHA-256 over a canonical JSON
serialisation of the entry plus that previous hash. Editing a field breaks the entry's own hash;
deleting, inserting or reordering entries breaks the links. Nothing secret and no non-target
identity may be written here: details hold references, counts and reasons only.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditAction, AuditChainHead, AuditEntry, CanonicalJSONEncoder

GENESIS_HASH = "0" * 64

# Filled by warrantdesk.middleware.RequestContextMiddleware for the duration of a request.
request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_ip", default=None)


_str = json.encoder.encode_basestring_ascii  # the C encoder json.dumps uses for strings
_details_encode = CanonicalJSONEncoder().encode  # one instance: json.dumps(cls=...) builds one per call


def details_text(details: Any) -> str:
    """The canonical text of ``details``: ``json.dumps`` with sorted keys and default separators.

    The model field uses the same encoder, so this is exactly the text stored on SQLite, which
    verification then hashes as it is, without parsing it.
    """
    return _details_encode(details)


def _timestamp(at: dt.datetime) -> str:
    if at.tzinfo is not dt.UTC:
        at = at.astimezone(dt.UTC)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _canonical(
    timestamp: str,
    actor_id: int | None,
    actor_label: str,
    action: str,
    warrant_ref: str,
    object_type: str,
    object_id: str,
    ip: str | None,
    details: str,
    prev_hash: str,
) -> bytes:
    return (
        f"[{_str(timestamp)},{'null' if actor_id is None else int(actor_id)},{_str(actor_label)},{_str(action)},"
        f"{_str(warrant_ref)},{_str(object_type)},{_str(object_id)},{'null' if ip is None else _str(ip)},"
        f"{details},{_str(prev_hash)}]"
    ).encode()


def canonical_bytes(
    *,
    at: dt.datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    warrant_ref: str,
    object_type: str,
    object_id: str,
    ip: str | None,
    details: Any,
    prev_hash: str,
) -> bytes:
    """The exact bytes that are hashed: a JSON array of the fields in a fixed order (strings
    ASCII-escaped, time in UTC with microseconds), ``details`` as ``details_text``."""
    return _canonical(
        _timestamp(at),
        actor_id,
        actor_label,
        action,
        warrant_ref,
        object_type,
        object_id,
        ip,
        details_text(details),
        prev_hash,
    )


def entry_hash(**fields: Any) -> str:
    return hashlib.sha256(canonical_bytes(**fields)).hexdigest()


def audit_record(
    *,
    action: AuditAction | str,
    actor=None,
    actor_label: str | None = None,
    warrant=None,
    warrant_ref: str = "",
    obj=None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one entry. Joins the caller's transaction so the entry commits with the action."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if warrant is not None:
        warrant_ref = warrant.reference
    fields = {
        "at": timezone.now(),
        "actor_id": actor.pk if actor is not None else None,
        "actor_label": actor_label if actor_label is not None else (actor.get_username() if actor else "system"),
        "action": str(action),
        "warrant_ref": warrant_ref,
        "object_type": obj._meta.label_lower if obj is not None else "",
        "object_id": str(obj.pk) if obj is not None else "",
        "ip": ip or request_ip.get(),
        # Round-trip through the canonical text: values JSON-native, so what is hashed now is
        # exactly what is read back later.
        "details": json.loads(details_text(details or {})),
    }
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first() or _recreate_head()
        fields["prev_hash"] = head.hash
        digest = entry_hash(**fields)
        entry = AuditEntry.objects.create(seq=head.seq + 1, hash=digest, **fields)
        head.seq, head.hash = entry.seq, digest
        head.save(update_fields=["seq", "hash"])
    return entry


def _recreate_head() -> AuditChainHead:
    """Only after a test-database flush: rebuild the head from the last entry (or the genesis)."""
    last = AuditEntry.objects.order_by("-seq").first()
    head, _created = AuditChainHead.objects.get_or_create(
        pk=1, defaults={"seq": last.seq if last else 0, "hash": last.hash if last else GENESIS_HASH}
    )
    return AuditChainHead.objects.select_for_update().get(pk=head.pk)


# --- verification -------------------------------------------------------------------------------

_VERIFY_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "warrant_ref",
    "object_type",
    "object_id",
    "ip",
    "details",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str  # edited | deleted | inserted | reordered | broken
    message: str


@dataclass(frozen=True)
class ChainReport:
    count: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


_COLUMNS = tuple(f"{field}_id" if field == "actor" else field for field in _VERIFY_FIELDS)


# SQLite keeps ``at`` as Django wrote it, "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC: turned into the
# canonical "YYYY-MM-DDTHH:MM:SS.ffffffZ" by SQLite itself; any other text is left as it is and made
# canonical in Python (``_fixed``), so both give what ``_timestamp`` gives.
_SQLITE_AT = (
    "CASE WHEN length(at) = 26 AND substr(at, 11, 1) = ' ' THEN replace(at, ' ', 'T') || 'Z' "
    "WHEN length(at) = 19 AND substr(at, 11, 1) = ' ' THEN replace(at, ' ', 'T') || '.000000Z' "
    "ELSE CAST(at AS TEXT) END"
)
_POSTGRES_AT = """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""  # = _timestamp()
# jsonb keeps an object's keys shortest first: the top level is written here with its keys in code point
# order ("C" collation: UTF-8 byte order is code point order) and json.dumps' separators, which is
# ``details_text`` for the usual flat ASCII details. Anything it does not reproduce (non-ASCII text, a
# nested object, a float jsonb prints otherwise) shows as a row whose bytes miss its stored hash, and
# that row alone is made canonical in Python (``row_batches``): the verdict never depends on this SQL.
_POSTGRES_DETAILS = (
    "CASE WHEN jsonb_typeof(details) = 'object' THEN coalesce((SELECT '{' || string_agg(to_json(k)::text "
    "|| ': ' || v::text, ', ' ORDER BY k COLLATE \"C\") || '}' FROM jsonb_each(details) AS e(k, v)), '{}') "
    "ELSE details::text END"
)


def _canonical_at(at: str) -> bool:
    return len(at) == 27 and at[10] == "T" and at[19] == "." and at[26] == "Z"


def _fixed(row: tuple, *, details_canonical: bool) -> tuple:
    at, details = row[1], row[9]
    if isinstance(at, str):
        if not _canonical_at(at):
            at = _timestamp(dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC))
    else:
        at = _timestamp(at)
    if not details_canonical and details != "{}":
        # jsonb comes back as text in its own key order (shortest key first).
        details = details_text(json.loads(details) if isinstance(details, str) else details)
    return (row[0], at, *row[2:9], details, row[10], row[11])


def row_batches(*, after_seq: int = 0, until_seq: int | None = None, size: int = 5000) -> Iterator[list[tuple]]:
    """All entries in storage order as lists of (seq, timestamp text, ..., details text, prev, hash)
    (those with ``seq`` above ``after_seq`` and up to ``until_seq`` only, when given: the Merkle tree's
    catch-up, a part of the log checked by a process of its own).

    Read with a plain cursor (server-side on PostgreSQL), bypassing the ORM's per-row conversions.
    SQLite hands back the stored texts, canonical already (the time made so in SQL): its rows are
    passed on as they come, a whole batch at a time. PostgreSQL writes the time and (for flat ASCII
    details) the details canonically in SQL; a row whose bytes then miss its hash is made canonical here.
    """
    table = AuditEntry._meta.db_table
    columns = list(_COLUMNS)
    stored_text_is_canonical = connection.vendor == "sqlite"
    if stored_text_is_canonical:
        columns[1] = _SQLITE_AT
    elif connection.vendor == "postgresql":
        columns[1] = _POSTGRES_AT
        columns[9] = _POSTGRES_DETAILS
    with connection.chunked_cursor() as cursor:
        conditions, params = [], []
        if after_seq:
            conditions.append("seq > %s")
            params.append(after_seq)
        if until_seq is not None:
            conditions.append("seq <= %s")
            params.append(until_seq)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM {table} {where}ORDER BY seq",  # noqa: S608  (constant names)
            params or None,
        )
        while batch := cursor.fetchmany(size):
            if stored_text_is_canonical:
                if not all(isinstance(row[1], str) and _canonical_at(row[1]) for row in batch):
                    batch = [_fixed(row, details_canonical=True) for row in batch]
            elif connection.vendor == "postgresql":
                batch = [row if _content_ok(row) else _fixed(row, details_canonical=False) for row in batch]
            else:
                batch = [_fixed(row, details_canonical=False) for row in batch]
            yield batch


def entry_rows(*, after_seq: int = 0) -> Iterator[tuple]:
    """The rows of ``row_batches`` one by one."""
    for batch in row_batches(after_seq=after_seq):
        yield from batch


def canonical_row(row: tuple) -> bytes:
    """The canonical bytes of a row of ``entry_rows()``: the Merkle tree's leaf."""
    return _canonical(*row[1:11])


def _content_ok(row: tuple) -> bool:
    return hashlib.sha256(_canonical(*row[1:11])).hexdigest() == row[11]


def verify_chain(rows: Iterable[tuple] | None = None, *, leaves: list[bytes] | None = None) -> ChainReport:
    """Walk the whole log once; on the first break, diagnose what kind of tampering it is.

    ``leaves``, when given, receives each entry's RFC 6962 leaf hash in order (SHA-256 of 0x00 and
    the canonical bytes), so that ``verify_audit_log`` checks the chain and the tree in one pass."""
    rows = list(rows) if rows is not None else None
    batches = [rows] if rows is not None else row_batches()
    expected_prev = GENESIS_HASH
    count = 0
    sha256 = hashlib.sha256
    canonical_of = _canonical
    keep = leaves.append if leaves is not None else None
    for batch in batches:
        for row in batch:
            canonical = canonical_of(row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10])
            if sha256(canonical).hexdigest() != row[11] or row[10] != expected_prev:
                position = count + next(i for i, other in enumerate(batch) if other is row) + 1
                return ChainReport(count=position, head_hash=expected_prev, problem=_diagnose(rows))
            if keep is not None:
                keep(sha256(b"\x00" + canonical).digest())
            expected_prev = row[11]
        count += len(batch)
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead(seq=0, hash=GENESIS_HASH)
    if head.hash != expected_prev:
        if head.seq > count:
            problem = ChainProblem(
                count + 1,
                "deleted",
                f"the chain ends at entry #{count} but the head records entry #{head.seq}: "
                "the last entries were deleted",
            )
        else:
            problem = ChainProblem(
                head.seq + 1,
                "inserted",
                f"entries after #{head.seq} were appended outside the application (inserted)",
            )
        return ChainReport(count=count, head_hash=expected_prev, problem=problem)
    return ChainReport(count=count, head_hash=expected_prev, problem=None)


def _diagnose(rows: list[tuple] | None) -> ChainProblem:
    """Second, slower pass over the full log (only after a break) to name what happened."""
    rows = rows if rows is not None else list(entry_rows())
    head_seq = AuditChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    by_hash = {row[11]: index for index, row in enumerate(rows)}
    expected_prev = GENESIS_HASH
    for index, row in enumerate(rows):
        seq, prev, digest = row[0], row[10], row[11]
        label = f"entry #{seq} ({row[4]} at {row[1]})"
        if not _content_ok(row):
            skipped = index + 1 < len(rows) and rows[index + 1][10] == expected_prev
            appended = index + 1 == len(rows) and head_seq == seq - 1
            if skipped or appended:
                return ChainProblem(seq, "inserted", f"{label} is not part of the chain (it was inserted)")
            return ChainProblem(seq, "edited", f"{label}: its content no longer matches its hash (a field was edited)")
        if prev != expected_prev:
            parent = by_hash.get(prev)
            if prev == GENESIS_HASH or parent is None:
                if index + 1 < len(rows) and rows[index + 1][10] == expected_prev:
                    # The next entry links straight past this one: it was slipped in.
                    return ChainProblem(seq, "inserted", f"{label} is not part of the chain (it was inserted)")
                previous_seq = rows[index - 1][0] if index else 0
                if seq != previous_seq + 1:
                    missing = f"#{previous_seq + 1}" + (f"..#{seq - 1}" if seq - 1 > previous_seq + 1 else "")
                    return ChainProblem(seq, "deleted", f"{label}: entry {missing} before it is missing (deleted)")
                return ChainProblem(
                    seq, "deleted", f"{label}: the entry it links to is missing (an entry before it was deleted)"
                )
            if parent > index:
                return ChainProblem(
                    seq,
                    "reordered",
                    f"{label}: it links to entry #{rows[parent][0]}, which is stored after it (rows were reordered)",
                )
            # It links to an earlier entry, skipping the one stored just before it. (Two entries with
            # one predecessor need the UNIQUE constraint on prev_hash dropped first.)
            if index and rows[index - 1][10] == prev:
                intruder = rows[index - 1][0]
                return ChainProblem(
                    intruder, "inserted", f"entry #{intruder} is not part of the chain (it was inserted before #{seq})"
                )
            if parent < index - 1:
                return ChainProblem(
                    seq,
                    "reordered",
                    f"{label}: it links to entry #{rows[parent][0]}, not to the entry stored before it "
                    "(rows were reordered)",
                )
            return ChainProblem(seq, "broken", f"{label}: it does not link to the entry before it")
        expected_prev = digest
    return ChainProblem(0, "broken", "the chain is broken but the break could not be located")
