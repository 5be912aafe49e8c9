"""The layout of a sealed message body, and opening rows of them: pure (``cryptography`` only, no Django),
so that the export's reader process (disclosure/exports/reader.py) opens rows where it reads them.

A sealed body is ``nonce (12 bytes) || AES-256-GCM ciphertext || tag`` under the key of its UTC day and
generation, with ``associated_data(day, generation)``. disclosure/bodies.py seals (and fetches keys from
the key store); this module only opens, with keys handed to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12
_ZERO = dt.timedelta(0)


def associated_data(day_iso: str, generation: int) -> bytes:
    """What binds a sealed body to its day (``YYYY-MM-DD``, UTC) and key generation."""
    return f"warrantdesk message {day_iso} {generation}".encode()


class MissingKey(LookupError):
    """No key was handed over for a row's day and generation (purged, or outside what was asked)."""


class Unreadable(ValueError):
    """A sealed body that does not decrypt under its key: altered, or moved from another row."""


class Sealed(NamedTuple):
    """A body left as stored because the opener had no key for its generation (its day was re-keyed
    after the opener's keys were read): ``bodies.reopen`` opens it where the key store is reachable."""

    body: bytes
    generation: int


class Pending(list):
    """A batch of opened rows in which the rows at ``pending`` (indices) still hold a ``Sealed`` body."""

    pending: list[int]


class RowOpener:
    """Turns rows ``(pk, room, sender, sent_at, kind, sealed_body, generation)`` into ``(pk, room, sender,
    sent_at, kind, text)``. ``keys`` maps ``(day_iso, generation)`` to the 32-byte key; ``sent_at`` is
    ISO text in UTC (SQLite) or an aware datetime (PostgreSQL). Picklable (the keys travel, the cipher
    objects are made again on the other side)."""

    def __init__(self, keys: dict[tuple[str, int], bytes]):
        self.keys = dict(keys)
        self._ciphers: dict[tuple[str, int], tuple[AESGCM, bytes]] = {}

    def __getstate__(self) -> dict:
        return {"keys": self.keys}

    def __setstate__(self, state: dict) -> None:
        self.keys, self._ciphers = state["keys"], {}

    def _cipher(self, day_iso: str, generation: int) -> tuple[AESGCM, bytes]:
        found = self._ciphers.get((day_iso, generation))
        if found is None:
            key = self.keys.get((day_iso, generation))
            if key is None:
                raise MissingKey(f"no key for the messages of {day_iso} (generation {generation})")
            found = self._ciphers[(day_iso, generation)] = (AESGCM(key), associated_data(day_iso, generation))
        return found

    @staticmethod
    def day_iso(sent_at) -> str:
        if isinstance(sent_at, str):
            return sent_at[:10]
        if sent_at.utcoffset() != _ZERO:
            sent_at = sent_at.astimezone(dt.UTC)
        return sent_at.date().isoformat()

    def text(self, sealed, sent_at, generation: int) -> str:
        cipher, aad = self._cipher(self.day_iso(sent_at), generation)
        sealed = bytes(sealed)
        try:
            return cipher.decrypt(sealed[:NONCE], sealed[NONCE:], aad).decode()
        except InvalidTag as exc:
            raise Unreadable("a stored message does not decrypt: it was altered or moved") from exc

    def __call__(self, rows: list[tuple]) -> list[tuple]:
        """The rows opened. A row under a generation this opener has no key for (the hourly purge
        re-keyed its day while the export was starting) does not fail the batch: the batch comes back
        as a ``Pending`` list with that row's body ``Sealed``, for ``bodies.reopen``."""
        # The hot loop of a large export (a million rows in its reader process): the cipher of the
        # previous row is reused (rows come in time order: one day after another), no call per row
        # but AES-GCM's own.
        opened_rows: list[tuple] = []
        append = opened_rows.append
        last: tuple[str, int] | None = None
        decrypt: Callable[[bytes, bytes, bytes], bytes] | None = None
        aad = b""
        try:
            for pk, room, sender, sent_at, kind, sealed, generation in rows:
                day = sent_at[:10] if sent_at.__class__ is str else self.day_iso(sent_at)
                if last is None or last[0] != day or last[1] != generation:
                    cipher, aad = self._cipher(day, generation)
                    decrypt, last = cipher.decrypt, (day, generation)
                append((pk, room, sender, sent_at, kind, decrypt(sealed[:NONCE], sealed[NONCE:], aad).decode()))  # type: ignore[misc]
        except MissingKey:
            pass
        except InvalidTag as exc:
            raise Unreadable("a stored message does not decrypt: it was altered or moved") from exc
        else:
            return opened_rows
        text = self.text
        opened = Pending()
        opened.pending = []
        for pk, room, sender, sent_at, kind, sealed, generation in rows:
            try:
                body: str | Sealed = text(sealed, sent_at, generation)
            except MissingKey:
                body = Sealed(bytes(sealed), generation)
                opened.pending.append(len(opened))
            opened.append((pk, room, sender, sent_at, kind, body))
        return opened
