"""The operator's account directory as text to look for: every account's ID and display name, found
in message text however it is spelled. Pure: the standard library and ``pyahocorasick``; no Django.

``DirectoryIndex`` holds, in one Aho-Corasick automaton (C, linear in the text whatever the number
of accounts), a *key* per account ID and per display name (and per display name without its
decoration: "김민준" for "김민준 🌸", "Kim" for "Kim (work)"). A key is the identifier *squeezed*:
each character in its NFKC form (full-width "ｋｉｍ" and "０" read as "kim" and "0"), case-folded,
with spacing dropped (white space of any kind, invisible format characters such as U+200B, dashes,
"_", "." and middle dots). Text is squeezed the same way, one character at a time, so that a key
found in the squeezed text maps back to a span of the text: "김 민 준", "KIM MINJUN", "kim_minjun",
"ｋｉｍ．ｍｉｎｊｕｎ" and "Kim\u200bMinjun" all find "Kim Minjun" (or "김민준").

A key's value says whose it is: one account (its ``ref``), several (``SHARED``: a name no one
pseudonym fits), or a target among them (``KEEP``: a target's identifiers stay in clear, and a name
a target shares stays too).

What counts as found, in the text as written:

- a key that starts or ends with a letter or digit of a spaced script (Latin, Greek, Cyrillic ...)
  must start and end a word there: "Kim" is not in "Kimchi" nor in "aKim", but is in "Kim's" and
  "Kim이"; Hangul, CJK and kana keys match inside words, so that particles may follow ("김민준이");
- a key of fewer than three characters must be written without spacing inside it: "지호" and "Al" are
  found as such, not in "지 호" or "a l", which ordinary text is full of;
- at one position the longest key wins, and where two overlap the one that starts first.

Which identifiers have keys: display names of two characters or more, account IDs of four or more,
each with at least one letter (a key of digits alone would hit amounts, dates and order numbers,
which are not identifiers; phone numbers are found by ``redaction``, as numbers).

Memory is the automaton's: roughly 100 bytes per distinct key character, about 1 MB for the 10,000
accounts of the generator; a directory of millions of accounts needs a few hundred MB.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import ahocorasick

__all__ = ["KEEP", "SHARED", "DirectoryIndex", "squeeze", "squeeze_with_origins"]

KEEP = 0  # a target's identifier (or one a target shares): stays in clear
SHARED = 1  # several non-targets': masked, no one pseudonym fits
_REF_OFFSET = 2  # the value of one account's key is (ref + 2) << _LENGTH_BITS | length
_LENGTH_BITS = 10
_MAX_KEY = (1 << _LENGTH_BITS) - 1
MIN_NAME = 2
MIN_UID = 4
MIN_SPACED = 3  # shorter keys must be written without spacing inside

_DROPPED_EXTRA = set("_.\u00b7\u2027\u30fb\u318d\uff65")  # "_", ".", middle dots (the Hangul one too)
_WORDLIKE = re.compile(
    r"[^\W\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff]"
)
_DECORATION = re.compile(r"^[\W_]+|[\W_]+$|\s*[(\[（【][^()\[\]（）【】]*[)\]）】]$")


def _dropped(char: str) -> bool:
    return char.isspace() or char in _DROPPED_EXTRA or unicodedata.category(char) in ("Cf", "Pd")


def _squeezed_char(char: str) -> str | None:
    """What one character becomes in squeezed text: its NFKC form, case-folded, spacing dropped
    (None: nothing, as ``str.translate`` wants it)."""
    folded = unicodedata.normalize("NFKC", char).casefold()
    kept = "".join(c for c in folded if not _dropped(c))
    return kept or None


class _Table(dict):
    """code point -> squeezed form, filled as characters are met (``str.translate`` calls __missing__)."""

    def __missing__(self, code: int) -> str | None:
        value = self[code] = _squeezed_char(chr(code))
        return value


_TABLE = _Table()


def squeeze(text: str) -> str:
    """``text`` squeezed (see the module's documentation); one C-level pass."""
    return text.translate(_TABLE)


def squeeze_with_origins(text: str) -> tuple[str, list[int]]:
    """``text`` squeezed, and for each character of the result the index in ``text`` it comes from."""
    pieces: list[str] = []
    origins: list[int] = []
    table = _TABLE
    for index, char in enumerate(text):
        piece = table[ord(char)]
        if piece:
            pieces.append(piece)
            origins.extend([index] * len(piece))
    return "".join(pieces), origins


def core_name(name: str) -> str:
    """The name without decorations: trailing "(회사)", "[work]", emoji, symbols, underscores."""
    previous = None
    while previous != name:
        previous = name
        name = _DECORATION.sub("", name)
    return name


def _has_letter(key: str) -> bool:
    return any(char.isalpha() for char in key)


class DirectoryIndex:
    """Account IDs and display names to find in text; ``add`` every account, then ``freeze``."""

    def __init__(self) -> None:
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        self._frozen = False

    def __len__(self) -> int:
        return len(self._automaton)

    def add(self, ref: int, *, uid: str, display_name: str, target: bool = False) -> None:
        """Index the account ``ref`` (a non-negative integer the caller can resolve, e.g. its pk)."""
        if self._frozen:
            raise RuntimeError("the index is frozen")
        name = unicodedata.normalize("NFC", display_name or "")
        for form in {name, core_name(name)}:
            key = squeeze(form)
            if len(key) >= MIN_NAME and _has_letter(key):
                self._put(key, ref, target)
        key = squeeze(uid or "")
        if len(key) >= MIN_UID and _has_letter(key):
            self._put(key, ref, target)

    def _put(self, key: str, ref: int, target: bool) -> None:
        if len(key) > _MAX_KEY:
            key = key[:_MAX_KEY]  # a prefix of an absurdly long name still finds it
        code = KEEP if target else ref + _REF_OFFSET
        old = self._automaton.get(key, None)
        if old is not None:
            old_code = old >> _LENGTH_BITS
            if KEEP in (old_code, code):
                code = KEEP
            elif old_code != code:
                code = SHARED
        self._automaton.add_word(key, code << _LENGTH_BITS | len(key))

    def freeze(self) -> DirectoryIndex:
        if not self._frozen and len(self._automaton):
            self._automaton.make_automaton()
        self._frozen = True
        return self

    # --- looking -----------------------------------------------------------------------------------

    def hit(self, text: str) -> bool:
        """Whether a key occurs in the squeezed ``text`` at all (the cheap check: the exact rules of
        ``matches`` may still find nothing)."""
        if not self._frozen or not len(self._automaton):
            return False
        for _found in self._automaton.iter(squeeze(text)):
            return True
        return False

    def matches(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, code) of the identifiers found in ``text``, in order, not overlapping; ``code``
        is KEEP, SHARED or ``ref + 2`` (see ``ref``)."""
        if not self._frozen or not len(self._automaton):
            return []
        hits = list(self._automaton.iter(squeeze(text)))
        if not hits:
            return []
        _squeezed, origins = squeeze_with_origins(text)
        found = sorted(self._candidates(text, hits, origins), key=lambda item: (item[0], -item[1]))
        chosen: list[tuple[int, int, int]] = []
        end_of_last = 0
        for start, end, code in found:
            if start >= end_of_last:
                chosen.append((start, end, code))
                end_of_last = end
        return chosen

    @staticmethod
    def ref(code: int) -> int | None:
        """The account of a code (None for KEEP and SHARED)."""
        return code - _REF_OFFSET if code >= _REF_OFFSET else None

    @staticmethod
    def _candidates(text: str, hits: list[tuple[int, int]], origins: list[int]) -> Iterator[tuple[int, int, int]]:
        for last, value in hits:
            length = value & _MAX_KEY
            start, end = origins[last - length + 1], origins[last] + 1
            if start and _WORDLIKE.match(text[start]) and _WORDLIKE.match(text[start - 1]):
                continue  # inside a word of a spaced script
            if end < len(text) and _WORDLIKE.match(text[end - 1]) and _WORDLIKE.match(text[end]):
                continue
            if length < MIN_SPACED and end - start != length and squeeze(text[start:end]) != text[start:end].casefold():
                continue  # a short key written with spacing inside: ordinary text, not a name
            yield start, end, value >> _LENGTH_BITS
