"""Message bodies at rest: AES-256-GCM under one data key per day of ``sent_at`` (UTC) and generation.

A message's text is stored only as ``Message.sealed_body = nonce (12) || ciphertext || tag (16)``
under the key-store key ``messages/<YYYY-MM-DD>/<generation>``; the associated data binds it to that
day and generation (a sealed body moved to another day's row does not open). Retention deletes a day
by destroying its key: every copy of the database then holds only ciphertext for that day. When a
purge removes *some* messages of a day (others are kept by a preservation hold), the survivors are
re-sealed under the day's next generation and the old key is destroyed (``rekey_day``), so the purged
rows cannot be read back from an older copy of the database either.

The import fingerprint (``Message.fingerprint``, which makes re-importing a file idempotent) is an
HMAC under the day's fingerprint key ``messages/<YYYY-MM-DD>/fingerprint``, not a plain hash of the
text: once the day is purged whole and that key destroyed, a fingerprint cannot confirm a guessed
message. (While held messages keep a day alive, its fingerprint key lives too: it does not depend on
the generation, so a re-import of the same file still finds the held messages.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from warrantdesk import keystore
from warrantdesk.exceptions import DomainError

from .sealing import NONCE, MissingKey, RowOpener, associated_data


class BodyUnreadable(DomainError):
    code = "body_unreadable"
    status_code = 409


def day_of(sent_at: dt.datetime) -> dt.date:
    """The UTC day whose key seals a message sent at ``sent_at`` (aware datetime)."""
    return sent_at.astimezone(dt.UTC).date()


def key_name(day: dt.date, generation: int) -> str:
    return f"messages/{day:%Y-%m-%d}/{generation}"


def fingerprint_key_name(day: dt.date) -> str:
    return f"messages/{day:%Y-%m-%d}/fingerprint"


def day_key_names(day: dt.date) -> list[str]:
    """Every key of ``day`` in the key store (generations and the fingerprint key, alive or destroyed)."""
    return keystore.names(f"messages/{day:%Y-%m-%d}/")


def current_generation(day: dt.date) -> int:
    """The generation new messages of ``day`` are sealed under: the newest one alive, else one more
    than the newest destroyed one (1 for a day never seen)."""
    generations = {}
    for name in day_key_names(day):
        last = name.rsplit("/", 1)[-1]
        if last.isdigit():
            generations[int(last)] = keystore.destroyed_at(name) is None
    if not generations:
        return 1
    newest = max(generations)
    return newest if generations[newest] else newest + 1


def _associated_data(day: dt.date, generation: int) -> bytes:
    return associated_data(day.isoformat(), generation)


def row_opener(start: dt.datetime, end: dt.datetime) -> RowOpener:
    """A RowOpener holding the live keys of every day that touches ``[start, end)``: what an export
    of that period needs to open its rows (in this process or its reader process). Days already
    purged have no key; a row of theirs would raise ``sealing.MissingKey``."""
    keys: dict[tuple[str, int], bytes] = {}
    first, last = day_of(start).isoformat(), day_of(end).isoformat()
    for name in keystore.names("messages/"):  # one listing, not one per day of the period
        parts = name.split("/")  # messages/<day>/<generation or "fingerprint">
        if len(parts) != 3:
            continue
        day, generation = parts[1], parts[2]
        if first <= day <= last and generation.isdigit():
            try:
                keys[(day, int(generation))] = keystore.get(name)
            except keystore.KeyDestroyed:  # a purged day, or a generation a re-key replaced
                continue
    return RowOpener(keys)


def _live_keys(day: dt.date) -> dict[tuple[str, int], bytes]:
    keys = {}
    for name in day_key_names(day):
        generation = name.rsplit("/", 1)[-1]
        if generation.isdigit() and keystore.destroyed_at(name) is None:
            try:
                keys[(day.isoformat(), int(generation))] = keystore.get(name)
            except keystore.KeyDestroyed:  # destroyed between the two looks (a re-key finishing)
                continue
    return keys


def reopen(batch: list[tuple], opener: RowOpener) -> list[tuple]:
    """Finish a batch ``opener`` could not open whole (a ``sealing.Pending``): rows read under a
    generation of their day that was made after the opener's keys were read, because the hourly purge
    re-keyed the day while the export started (``rekey_day``). The day's live keys are read again; a
    row whose generation is gone by now too (re-keyed once more) is read again from the database,
    under its current generation; a row deleted meanwhile (purged) is left out. Other rows as they are."""
    from .models import Message  # the model module imports this one

    pending = getattr(batch, "pending", ())
    if not pending:
        return batch
    rows: list[tuple | None] = list(batch)
    refreshed: set[str] = set()

    def text(body: bytes, sent_at, generation: int) -> str:
        day = opener.day_iso(sent_at)
        if (day, generation) not in opener.keys and day not in refreshed:
            opener.keys.update(_live_keys(dt.date.fromisoformat(day)))
            refreshed.add(day)
        return opener.text(body, sent_at, generation)

    again = []
    for index in pending:
        pk, room, sender, sent_at, kind, sealed = rows[index]
        try:
            rows[index] = (pk, room, sender, sent_at, kind, text(sealed.body, sent_at, sealed.generation))
        except MissingKey:
            again.append(index)
    if again:
        current = dict(
            (pk, (body, generation))
            for pk, body, generation in Message.objects.filter(pk__in=[rows[i][0] for i in again]).values_list(
                "pk", "sealed_body", "key_generation"
            )
        )
        for index in again:
            pk, room, sender, sent_at, kind, _sealed = rows[index]
            if pk not in current:
                rows[index] = None
                continue
            refreshed.discard(opener.day_iso(sent_at))  # the row's newer generation may be newer than our look
            body, generation = current[pk]
            # Still no key: a key store that lost a live key; MissingKey fails the export, as before.
            rows[index] = (pk, room, sender, sent_at, kind, text(bytes(body), sent_at, generation))
    return [row for row in rows if row is not None]


class BodyCipher:
    """Seals and opens message bodies, holding each day's key once (one instance per import, export
    or purge run: keys are read from the key store on first use, never kept beyond the instance).

    ``create`` makes missing day keys (importers, the generator); without it a missing or destroyed
    key raises ``keystore.KeyUnavailable`` / ``KeyDestroyed``.
    """

    def __init__(self, *, create: bool = False):
        self.create = create
        self._ciphers: dict[tuple[dt.date, int], tuple[AESGCM, bytes]] = {}
        self._generations: dict[dt.date, int] = {}
        self._mac_keys: dict[dt.date, bytes] = {}

    def _key(self, name: str) -> bytes:
        return keystore.get_or_create(name) if self.create else keystore.get(name)

    def _cipher(self, day: dt.date, generation: int) -> tuple[AESGCM, bytes]:
        cached = self._ciphers.get((day, generation))
        if cached is None:
            cached = (AESGCM(self._key(key_name(day, generation))), _associated_data(day, generation))
            self._ciphers[(day, generation)] = cached
        return cached

    def generation(self, day: dt.date) -> int:
        if day not in self._generations:
            self._generations[day] = current_generation(day)
        return self._generations[day]

    def seal(self, text: str, sent_at: dt.datetime, generation: int | None = None) -> tuple[bytes, int]:
        """(sealed body, generation) of ``text`` under its day's current key (or ``generation``'s)."""
        return self.seal_on(text, day_of(sent_at), generation)

    def seal_on(self, text: str, day: dt.date, generation: int | None = None) -> tuple[bytes, int]:
        """``seal`` for a caller that knows the UTC day already (the generator: no datetime per row)."""
        generation = generation or self.generation(day)
        cipher, aad = self._cipher(day, generation)
        nonce = secrets.token_bytes(NONCE)
        return nonce + cipher.encrypt(nonce, text.encode(), aad), generation

    def open(self, sealed: bytes | memoryview, sent_at: dt.datetime, generation: int) -> str:
        """The text of a sealed body; KeyDestroyed once its day was purged, BodyUnreadable if altered."""
        cipher, aad = self._cipher(day_of(sent_at), generation)
        sealed = bytes(sealed)
        try:
            return cipher.decrypt(sealed[:NONCE], sealed[NONCE:], aad).decode()
        except InvalidTag as exc:
            raise BodyUnreadable(_("A stored message does not decrypt: it was altered or moved.")) from exc

    def fingerprint(self, digest: str, sent_at: dt.datetime) -> str:
        """The stored fingerprint of an imported message: HMAC-SHA-256, under the day's fingerprint key,
        of the importer's plain digest of what identifies the message (room, sender, time, text, repeat)."""
        day = day_of(sent_at)
        if day not in self._mac_keys:
            self._mac_keys[day] = self._key(fingerprint_key_name(day))
        return hmac.new(self._mac_keys[day], digest.encode(), hashlib.sha256).hexdigest()


# --- re-keying a day (the retention purge) --------------------------------------------------------

REKEY_BATCH = 2000
_DAY_LOCK_CLASS = 0x57440C  # the first key of PostgreSQL's two-key advisory locks: "a day of messages"


def lock_day(day: dt.date, *, shared: bool = False) -> None:
    """Take the lock of ``day``'s messages until the current transaction ends. PostgreSQL: an advisory
    transaction lock per day, exclusive to re-key the day, shared to delete from it (deletions from one
    day run side by side, a re-key waits for them and they wait for it; taken in day order, no cycle).
    SQLite: nothing to do, its IMMEDIATE transactions already hold the database's one write lock."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [_DAY_LOCK_CLASS, day.toordinal()])


def _generations(day: dt.date) -> dict[int, bool]:
    """Every generation of ``day`` in the key store -> is its key alive."""
    generations = {}
    for name in day_key_names(day):
        last = name.rsplit("/", 1)[-1]
        if last.isdigit():
            generations[int(last)] = keystore.destroyed_at(name) is None
    return generations


def rekey_day(day: dt.date) -> tuple[int, int]:
    """Re-seal every message of ``day`` still stored under a new generation of the day's key, then
    destroy the older generations; returns (the new generation, unreadable rows deleted).

    Why: the retention purge deleted *some* of the day's messages (the others are held, or still
    young). A copy of the database taken before the purge still holds the deleted rows, sealed under
    the day's current key; destroying that key, once no row of this database needs it any more, makes
    them unreadable there too. The day's fingerprint key stays (re-imports still recognise held
    messages). A row whose generation key is already gone (a purge that crashed between destroying a
    key and deleting its rows) cannot be opened by anyone: it is deleted, so that no export stumbles
    on it.

    Call it outside a transaction: the rows are re-sealed in one transaction under the day's exclusive
    lock (``lock_day``), and the old keys destroyed only after it committed, so a crash leaves either
    the old rows with their keys or the new rows with theirs (never rows without a key).
    """
    from .models import Message  # the model module imports this one (Message.body)

    table = connection.ops.quote_name(Message._meta.db_table)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    with transaction.atomic(durable=True):
        lock_day(day)
        generations = _generations(day)
        day_rows = Message.objects.filter(sent_at__gte=start, sent_at__lt=end)
        in_rows = day_rows.aggregate(newest=Max("key_generation"))["newest"] or 0
        # Past every generation the key store or a row knows of: a key store that lost the day's keys
        # must not hand out a "new" key under a name the rows already use.
        new = max(max(generations, default=0), in_rows) + 1
        old = sorted(generation for generation, alive in generations.items() if alive)
        openers = {}
        for generation in old:
            try:
                openers[generation] = AESGCM(keystore.get(key_name(day, generation)))
            except keystore.KeyDestroyed:  # another purge re-keyed the day just before us: no row needs it
                generations[generation] = False
        old = sorted(openers)
        sealer, sealer_aad = AESGCM(keystore.get_or_create(key_name(day, new))), _associated_data(day, new)
        unreadable: list[int] = []
        last = 0
        while True:
            rows = list(
                day_rows.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", "sealed_body", "key_generation")[:REKEY_BATCH]
            )
            if not rows:
                break
            last = rows[-1][0]
            updates = []
            for pk, sealed, generation in rows:
                opener = openers.get(generation)
                if opener is None:
                    if generations.get(generation) is False:  # destroyed (a tombstone), not merely missing
                        unreadable.append(pk)
                        continue
                    # No such key at all: a key store that is not the right one. Refuse (KeyUnavailable).
                    opener = openers[generation] = AESGCM(keystore.get(key_name(day, generation)))
                sealed = bytes(sealed)
                try:
                    text = opener.decrypt(sealed[:NONCE], sealed[NONCE:], _associated_data(day, generation))
                except InvalidTag as exc:
                    raise BodyUnreadable(_("A stored message does not decrypt: it was altered or moved.")) from exc
                nonce = secrets.token_bytes(NONCE)
                updates.append((nonce + sealer.encrypt(nonce, text, sealer_aad), new, pk))
            # One prepared UPDATE per row (bulk_update would build a CASE per batch); the table name is
            # the model's, the values are parameters.
            sql = f"UPDATE {table} SET sealed_body = %s, key_generation = %s WHERE id = %s"  # noqa: S608
            with connection.cursor() as cursor:
                cursor.executemany(sql, updates)
        if unreadable:
            Message.objects.filter(pk__in=unreadable).delete()
    for generation in old:
        keystore.destroy(key_name(day, generation))
    return new, len(unreadable)
