"""What a conversations package holds and where: the contract between the writer (``package.py``)
and every reader of the package inside warrantdesk.

Kept apart from ``package.py`` because the two sides need it without the building machinery (the
database queries, the redactor, the PDF workers): the follow-up form and the identity sheet read the
alias table of a delivered package back with :func:`read_participants`.

``conversations.json`` is one JSON object, written in this order (``package._write_conversations``)::

    {"format": FORMAT, "warrant": ..., "period": {...},
     "rooms": [{"room": ..., "kind": ..., "title": ..., "covered": [...], "messages": [{...}, ...]}, ...],
     "participants": {"targets": [{"uid", "name", "messages"}, ...],
                      "pseudonymised": [{"token", "alias", "messages"}, ...]}}

A package of a large warrant holds hundreds of megabytes of messages, so :func:`read_participants`
parses that structure as a stream rather than loading it: one message at a time with the standard
library's JSON decoder (``raw_decode``), down to the ``participants`` block, which the writer puts
last. No third-party streaming parser is needed (the layout above is ours and fixed), and no offset
has to be stored: the ZIP member is deflated, so it is decompressed from its start in any case.
"""

from __future__ import annotations

import codecs
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

FORMAT = "warrantdesk-export/1"
GENERATOR = "warrantdesk 0.1"
CONVERSATIONS = "conversations.json"
MESSAGES_CSV = "messages.csv"
ROOMS = "rooms"  # key of the rooms array in conversations.json
MESSAGES = "messages"  # key of a room's messages array
PARTICIPANTS = "participants"  # key of the alias table, the last member of conversations.json
TARGETS = "targets"
PSEUDONYMISED = "pseudonymised"

_CHUNK = 1 << 20  # characters decompressed and decoded at a time
_SPACE = re.compile(r"[ \t\n\r]*")


class PackageUnreadable(Exception):
    """The package, or its conversations.json, cannot be read as the writer lays it out."""


class _Stream:
    """JSON text read as a stream: whole values are decoded one at a time, never the document."""

    def __init__(self, handle: IO[bytes]):
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.at = 0
        self.eof = False
        self.json = json.JSONDecoder()
        # The C scanner raw_decode calls, called directly (set by JSONDecoder.__init__; typeshed omits it).
        self.scan = self.json.scan_once  # type: ignore[attr-defined]

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.handle.read(_CHUNK)
        self.eof = not chunk
        self.text = self.text[self.at :] + self.decoder.decode(chunk, final=self.eof)
        self.at = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            space = _SPACE.match(self.text, self.at)
            assert space is not None  # "*" matches the empty string too
            self.at = space.end()
            if self.at < len(self.text) or not self._more():
                return self.text[self.at : self.at + 1]

    def expect(self, characters: str) -> str:
        found = self.peek()
        if not found or found not in characters:
            raise PackageUnreadable(f"{CONVERSATIONS}: expected one of {characters!r}, found {found!r}")
        self.at += 1
        return found

    def value(self):
        """The next whole JSON value. A value ending exactly at the end of the text read so far may be
        cut short (a number), so it is accepted only when more text follows it or the stream ended."""
        self.peek()
        while True:
            try:
                value, end = self.json.raw_decode(self.text, self.at)
            except json.JSONDecodeError as error:
                if not self._more():
                    raise PackageUnreadable(f"{CONVERSATIONS}: {error.msg}") from None
                continue
            if end < len(self.text) or not self._more():
                self.at = end
                return value

    def members(self) -> Iterator[str]:
        """The keys of the object that starts here; the caller consumes each key's value."""
        self.expect("{")
        if self.peek() == "}":
            self.at += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise PackageUnreadable(f"{CONVERSATIONS}: an object key is not a string")
            self.expect(":")
            yield key
            if self.expect(",}") == "}":
                return

    def elements(self) -> Iterator[None]:
        """One step per element of the array that starts here; the caller consumes each element."""
        self.expect("[")
        if self.peek() == "]":
            self.at += 1
            return
        while True:
            yield None
            if self.expect(",]") == "]":
                return

    def skip_values(self) -> None:
        """Pass over the array of small values that starts here (a room's messages), each decoded
        and dropped. The writer writes no white space: the loop takes the fast path, one C decode and
        one character look-up a value, and falls back on :meth:`value` and :meth:`expect` otherwise."""
        self.expect("[")
        if self.peek() == "]":
            self.at += 1
            return
        scan = self.scan
        while True:
            text, at = self.text, self.at
            try:
                end = scan(text, at)[1]
                after = text[end] if end < len(text) else ""
            except (StopIteration, json.JSONDecodeError):
                after = ""
            if after == ",":
                self.at = end + 1
                continue
            if after == "]":
                self.at = end + 1
                return
            self.value()  # white space, a value cut by the end of the text read so far, or an error
            if self.expect(",]") == "]":
                return


def _skip_rooms(stream: _Stream) -> None:
    for _ in stream.elements():
        for key in stream.members():
            if key == MESSAGES:
                stream.skip_values()
            else:
                stream.value()


def participants_from(handle: IO[bytes]) -> dict:
    """The ``participants`` block of a ``conversations.json`` read from ``handle`` (bytes)."""
    stream = _Stream(handle)
    for key in stream.members():
        if key == ROOMS:
            _skip_rooms(stream)
        elif key == PARTICIPANTS:
            block = stream.value()
            if not isinstance(block, dict) or not all(
                isinstance(block.get(name), list) for name in (TARGETS, PSEUDONYMISED)
            ):
                raise PackageUnreadable(f"{CONVERSATIONS}: the {PARTICIPANTS} block is not as written")
            return block
        else:
            value = stream.value()
            if key == "format" and value != FORMAT:
                raise PackageUnreadable(f"{CONVERSATIONS}: format {value!r}, not {FORMAT!r}")
    raise PackageUnreadable(f"{CONVERSATIONS}: no {PARTICIPANTS} block")


def read_participants(package: str | Path | IO[bytes]) -> dict:
    """The alias table of a conversations package (a path or a binary file open on the ZIP): the
    ``participants`` block of its ``conversations.json``, ``{"targets": [...], "pseudonymised":
    [{"token", "alias", "messages"}, ...]}``. Streams; memory stays flat whatever the package's size.

    Raises :class:`PackageUnreadable` (with the cause chained) when the file cannot be opened, is not
    a ZIP, lacks conversations.json, or that file is not laid out as ``package.py`` writes it. The
    message names the file and the fault, never a person."""
    try:
        with zipfile.ZipFile(package) as archive, archive.open(CONVERSATIONS) as member:
            return participants_from(member)
    except PackageUnreadable:
        raise
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise PackageUnreadable(f"{type(error).__name__} reading the package's {CONVERSATIONS}") from error
