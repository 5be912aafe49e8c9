"""Redaction of message text: the identifiers of non-targets become pseudonyms or are masked.

Pure: the standard library, ``disclosure.identifiers`` and ``disclosure.directory`` only; no Django.

``Redactor(people, lookup=..., pseudonym=...).redact(text)`` finds, in one pass over the text:

- **Phone numbers** in the usual Korean and international forms: ``010-1234-5678``, ``010 1234 5678``,
  ``010.1234.5678``, ``(02) 123-4567``, ``02-123-4567``, ``031-123-4567``, ``+82 10-1234-5678``,
  ``+82-10-1234-5678``, ``+82 (0)10 1234 5678``, ``0082-10-1234-5678``, ``82 10 1234 5678``,
  ``+1 415 555 0100``, ``+44 20 7946 0958``. Separators as Korean users type them: dashes of every kind,
  the Hangul vowel ``ㅡ`` used as a dash (and ``ㅢ``, ``一``, ``ー``, box lines), tildes, slashes, dots and
  middle dots, with up to three spaces around, or up to three spaces of any kind (no-break, ideographic,
  invisible U+200B ...); full-width digits and the digits of other scripts (``٠١٠``, ``𝟎𝟏𝟎``) too.
  A run of digits with no separator counts only as a Korean mobile number (``01012345678``, 010/011/
  016/017/018/019), or after "+" with at least ten digits; dates (``2025-10-23``), times, amounts
  (``1,000,000``, ``+12000000``), order numbers (``12345``), bank accounts (``123-45-678901``) and
  bare landline-looking runs are left alone. The number is normalised (``identifiers.normalize_phone``):
  a target's stays exactly as written, a non-target's (a participant, or an account that ``lookup``
  finds) becomes ``[[<pseudonym>]]``, a number of no account becomes ``[phone number removed]``. A "+"
  number that is neither Korean nor North American is grouped freely, so one followed by another
  figure ("+44 20 7946 0958 2 times") is also tried without its trailing groups against the accounts.
- **E-mail addresses** (ASCII, case-insensitive): same rules; ``[e-mail removed]`` when no account.
- **Resident registration numbers** ``YYMMDD-NNNNNNN`` (or 13 digits without the hyphen, or with
  spaces around or instead of it, or any separator a phone number may have, or with the serial starred
  out: ``YYMMDD-N******``) with a valid month and day and a gender digit 1-8 (5-8 for
  foreign residents): always ``[resident registration number removed]``, a target's too: an RRN is
  on no account, so it cannot be matched to one, and a warrant asks for the target's communications,
  not for the national identity numbers found in them.
- **Display names** of the participants (``people``) and **@mentions** of them: a non-target's name,
  anywhere in the text, becomes ``[[<pseudonym>]]``; an "@" in front stays (``@[[p1...]]``, so that the
  reader still sees a mention). Latin (and other spaced-script) names match case-insensitively on word
  boundaries ("Kim" not in "Kimchi" nor in "aKim", but in "Kim's" and "Kim이"); Hangul (and CJK, kana)
  names match as substrings, so that particles may follow ("김민수가", "민수야"). Whitespace inside a
  name matches any run of whitespace. At one position the longest name wins ("Kim Minsu" over "Kim");
  a target's name is never replaced and wins over a non-target name inside it (target "Kim Minsu",
  non-target "Kim": "Kim Minsu" stays, a lone "Kim" goes); where two names overlap without one
  containing the other, the one that starts first wins. A name shared by a target and a non-target
  stays in clear (it is the target's); a name shared by several non-targets only becomes
  ``[name removed]``, since no one pseudonym is right. Decorated names ("김민준 🌸", "김민준(회사)",
  "Kim (work)") are also found without the decoration ("김민준", "Kim"), unless that is someone else's
  display name. One-character names are matched only as @mentions ("@민"): as bare substrings they
  would blank out ordinary words. For names with spaces, "@KimMinsu", "@kim_minsu" and "@kim.minsu"
  are mentions too.
- **The account directory** (``directory``, a ``disclosure.directory.DirectoryIndex``): the account
  IDs and display names of every account, not only the participants, in any width, case or spacing
  ("박 지 성", "ＪＡＮＥ　ＤＯＥ", "jane_doe", "WRITER_KIM77"); see that module for the rules. A find
  that is one account's becomes its ``[[<pseudonym>]]`` (``resolve`` gives its Person, once), a name
  several accounts share ``[name removed]``, a target's stays. At one position the longer of a
  directory find and a find above wins; on a tie, the find above (a participant's name, a mention).

Text that is already redacted stays as it is: ``[[token]]`` placeholders, bare tokens and the
``[... removed]`` masks are never matched inside, so ``redact(redact(x)) == redact(x)``. Text in which
nothing is found is returned unchanged (the same object), and the fast path decides that with one
``search`` of one compiled pattern over the lower-cased text; every branch of that pattern starts with
a literal character, so that the regular expression engine skips in C to the characters where a name or
a number may start. The directory is asked too, with one ``str.translate`` and one pass of its
automaton (C) over the squeezed text. Only text where either finds something goes through the exact
(slower) scan. Text not
in Unicode NFC (decomposed Hangul, say) is examined in NFC, and is returned in NFC when something in it
was replaced. Full-width forms (``０１０``, ``ｋｉｍ＠ｅｘａｍｐｌｅ．ｃｏｍ``) are read as their ASCII
equivalents when the text has a full-width digit, "+", "(" or "@" or a participant's name.

``PLACEHOLDER`` finds the tokens that this module put in, so that a renderer can replace them with
readable aliases ("Participant 7").

``contacts(text)`` lists the phone numbers and e-mail addresses ``redact(text)`` may ask ``lookup``
about, for a caller that answers many texts' at once beforehand (the export: one database question a
batch instead of one a value).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from disclosure.directory import KEEP, SHARED, DirectoryIndex
from disclosure.identifiers import normalize_email, normalize_phone

__all__ = [
    "EMAIL_REMOVED",
    "NAME_REMOVED",
    "PHONE_REMOVED",
    "PLACEHOLDER",
    "RRN_REMOVED",
    "Person",
    "Redactor",
]

PLACEHOLDER = re.compile(r"\[\[(p1\.[a-z0-9]+\.[a-z2-7]+)\]\]")
_TOKEN = re.compile(r"p1\.[a-z0-9]+\.[a-z2-7]+")
_PLACEHOLDER_PLAIN = r"\[\[p1\.[a-z0-9]+\.[a-z2-7]+\]\]"

PHONE_REMOVED = "[phone number removed]"
EMAIL_REMOVED = "[e-mail removed]"
RRN_REMOVED = "[resident registration number removed]"
NAME_REMOVED = "[name removed]"
_MASKS = (PHONE_REMOVED, EMAIL_REMOVED, RRN_REMOVED, NAME_REMOVED)


@dataclass(frozen=True)
class Person:
    uid: str
    display_name: str
    phone: str = ""  # normalized E.164 ("+821012345678") or ""
    email: str = ""  # normalized lower-case or ""
    target: bool = False


# --- patterns -----------------------------------------------------------------------------------
# They run on the lower-cased text (same length as the text, so positions carry over); in the slow
# path, full-width forms (０-９, ＋, ＠, Ａ-Ｚ ...) are first mapped to ASCII, one character for one.

# Separators inside a phone number or a resident registration number: one dash-like character with
# up to three spaces around it, or up to three spaces. Dash-like as Korean users type it: ASCII and
# typographic dashes and minus signs, the Hangul vowels ㅡ/ㅢ (compatibility, conjoining and
# half-width forms), the CJK "一" and the katakana "ー", box-drawing lines, tildes and wave dashes,
# slashes, dots and middle dots. Spaces: any Unicode space, and the invisible ones (U+200B ...).
_DASH = (
    "\\-\u2010-\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d\u02d7\u2043"  # dashes, minus
    "\u3161\u3162\u1173\u1174\uffda\uffdb\u4e00\u30fc\uff70\u2500\u2501"  # ㅡ ㅢ 一 ー ─ ━
    "~\u301c\u3030\uff5e\u223c\u2053\u02dc"  # tildes, wave dashes
    "/\uff0f\u2215\u2044"  # slashes
    ".\uff0e\u00b7\u2027\u30fb\uff65\u318d"  # dots, middle dots
)
_SPACE = " \t\u00a0\u1680\u2000-\u200d\u202f\u205f\u2060\u3000\ufeff"
_SEP = f"(?:[{_SPACE}]{{0,3}}[{_DASH}][{_SPACE}]{{0,3}}|[{_SPACE}]{{1,3}})"
# Korean area codes after the trunk zero: mobile, Seoul, the provinces, VoIP, personal, free phone.
_AREA = "(?:1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8]|80)"
_END = "(?![0-9])"
# Everything after a leading "0" (its left side is checked by the caller): a separated domestic number,
# or a bare mobile number.
_DOMESTIC_AFTER_0 = (
    f"(?:{_AREA}(?:{_SEP}[0-9]{{3,4}}{_SEP}?|[0-9]{{3,4}}{_SEP})[0-9]{{4}}{_END}|1[016789][0-9]{{7,8}}{_END})"
)
_DOMESTIC_PAREN = rf"\(0{_AREA}\){_SEP}?[0-9]{{3,4}}{_SEP}?[0-9]{{4}}{_END}"
_KOREA_REST = rf"{_SEP}?(?:\(0\){_SEP}?|0)?{_AREA}{_SEP}?[0-9]{{3,4}}{_SEP}?[0-9]{{4}}{_END}"
# "+82", or "0082" (the international prefix dialled from Korea); "82" alone only before a mobile
# number, or before a number whose groups are separated: "821012345678", "82 2 123 4567".
_KOREA_INTL = (
    rf"\+82{_KOREA_REST}|(?<![0-9])0082{_KOREA_REST}"
    rf"|(?<![0-9+])82{_SEP}?(?:\(0\){_SEP}?|0)?"
    rf"(?:1[016789]{_SEP}?[0-9]{{3,4}}{_SEP}?[0-9]{{4}}|{_AREA}{_SEP}[0-9]{{3,4}}{_SEP}[0-9]{{4}}){_END}"
)
_NANP = rf"\+1{_SEP}?(?:\([0-9]{{3}}\)|[0-9]{{3}}){_SEP}?[0-9]{{3}}{_SEP}?[0-9]{{4}}{_END}"
# Any other "+" number: whole digit runs, up to six groups after the first, in an atomic group
# (no backtracking, so no pathological run time on long digit strings).
_OTHER_INTL = rf"\+[1-9](?>[0-9]*(?:{_SEP}?\([0-9]+\)|{_SEP}[0-9]+){{0,6}})"
# After the first digit of a resident registration number (left side checked by the caller).
# (the serial may be starred out by the writer, as in "900101-1******", which still gives the birth
# date and sex away); the two parts joined directly or by a separator as in phone numbers
# ("900101 - 1234567", "900101 1234567", "900101ㅡ1234567").
_RRN_AFTER_FIRST = (
    f"[0-9](?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]){_SEP}?[1-8](?:[0-9]{{6}}{_END}|[*x\uff0a\u25cf\u2022]{{6}})"
)
_NOT_AFTER_DIGIT = "(?<![0-9].)"  # placed after the first digit: the character before it is no digit
# Bounded parts (64 characters before the "@", labels of 63), so that a long run of letters costs
# linear time, not quadratic.
_EMAIL = r"[a-z0-9._%+\-]{1,64}@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24}"
_TOKEN_BARE = r"(?<![a-z0-9.])p1\.[a-z0-9]+\.[a-z2-7]+(?![a-z0-9])"
_ALREADY_REDACTED = re.compile("|".join([_PLACEHOLDER_PLAIN, _TOKEN_BARE, *(re.escape(mask) for mask in _MASKS)]))
# Word characters of scripts that put spaces between words: Latin, Greek, Cyrillic ... but not Hangul,
# CJK ideographs or kana, where names run into the particles and words around them.
_WORDLIKE = (
    r"[^\W\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff]"
)
_WORDLIKE_CHAR = re.compile(_WORDLIKE)
_DECORATION = re.compile(r"^[\W_]+|[\W_]+$|\s*[(\[（【][^()\[\]（）【】]*[)\]）】]$")
_RIGHT_BOUNDARY = f"(?!(?<={_WORDLIKE}){_WORDLIKE})"
_ASCII_WORD = re.compile("[0-9a-z_]")
_ASCII_LEFT_BOUNDARY = "(?<![0-9a-z_].)"  # placed after the first character
_ASCII_RIGHT_BOUNDARY = "(?!(?<=[0-9a-z_])[0-9a-z_])"

# The exact scan's groups that need no participant (the Redactor adds mentions and names, and "email"
# second when the text has an "@"); ``Redactor.contacts`` scans with these alone.
_SCAN_PARTS = (
    "(?P<keep>" + "|".join([_PLACEHOLDER_PLAIN, _TOKEN_BARE, *(re.escape(mask) for mask in _MASKS)]) + ")",
    f"(?P<rrn>(?<![0-9])[0-9]{_RRN_AFTER_FIRST})",
    f"(?P<phone>(?<![0-9])0{_DOMESTIC_AFTER_0}|(?<![0-9]){_DOMESTIC_PAREN}|{_KOREA_INTL}|{_NANP})",
    f"(?P<intl>{_OTHER_INTL})",
)
_CONTACTS = re.compile("|".join(_SCAN_PARTS)).finditer
_CONTACTS_WITH_EMAIL = re.compile("|".join([_SCAN_PARTS[0], f"(?P<email>{_EMAIL})", *_SCAN_PARTS[1:]])).finditer

# Quick triggers for the fast check besides the exact patterns: anything full-width or an "@" sends
# the text to the slow path, which knows the details.
_FAST_TRIGGERS = [
    "@", "\uff20", "\uff0b", "\uff08", *(chr(0xFF10 + d) for d in range(10)), r"\+[0-9]", r"\(0",
]  # fmt: skip

# Decimal digits of other scripts and styles (Arabic-Indic, mathematical bold, ...): read as ASCII.
_OTHER_DIGITS = {
    code: ord("0") + unicodedata.decimal(chr(code))
    for code in range(0x80, 0x110000)
    if unicodedata.decimal(chr(code), None) is not None and not 0xFF10 <= code <= 0xFF19
}
# The same characters as a class: the decimal digits (``\d`` in a str pattern is Unicode's Nd, the
# characters unicodedata.decimal knows) but ASCII and full-width ones. Not a list of the 660 characters:
# some are beyond the BMP, so the regular expression engine has no bitmap for the list and compares a
# text's every character with them one by one (7 µs for a chat line: most of the fast check's time).
_OTHER_DIGIT_CLASS = r"[^\D0-9\uff10-\uff19]"
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20} | _OTHER_DIGITS
_DIGIT_GROUP = re.compile(r"[0-9]+\)?")
_HAS_FULLWIDTH = re.compile(f"[\uff01-\uff5e\u3000]|{_OTHER_DIGIT_CLASS}")
# What a text holding a phone number or an e-mail address has (each phone pattern has a "+" or a group
# of three digits, an address a character of its local part before the "@"; the slow path reads full-width
# forms and other digits as ASCII): ``contacts`` skips the rest.
_MAY_HOLD_CONTACTS = re.compile(
    f"[0-9]{{3}}|[0-9a-zA-Z._%+\\-]@|[+\uff0b\uff20\uff10-\uff19]|{_OTHER_DIGIT_CLASS}"
).search

_MAX_TRIE_DEPTH = 3  # below this depth the remaining suffixes are a flat alternation, longest first


def _fold(text: str) -> str:
    """Lower case, one character for one, so that positions in the result are positions in ``text``."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _name_key(text: str) -> str:
    """The form under which a (folded) name or a matched (folded) piece of text is looked up."""
    return " ".join(text.split()).replace("ς", "σ")


def _char_pattern(char: str) -> str:
    if char == " ":
        return r"\s+"
    if char in "σς":
        return "[σς]"
    return re.escape(char)


def _literal(chars: str) -> str:
    return "".join(_char_pattern(c) for c in chars)


def _suffixes(node: dict, prefix: str, out: list[tuple[str, str]]) -> None:
    """Every (rest of the name, whole name) below ``node``."""
    for key, child in node.items():
        if key == "":
            out.append((prefix, child))
        else:
            _suffixes(child, prefix + key, out)


def _emit(node: dict, depth: int) -> str:
    """A regular expression for the names below ``node``: a trie near the root (cheap dispatch on the
    first characters), flat alternatives further down (bounded nesting); always longest first."""
    if depth >= _MAX_TRIE_DEPTH:
        items: list[tuple[str, str]] = []
        _suffixes(node, "", items)
        items.sort(key=lambda item: (-len(item[0]), item[0]))
        alternatives = [_literal(rest) for rest, _name in items]
    else:
        alternatives = []
        for key in sorted(k for k in node if k):
            child = node[key]
            # path compression: a chain of single children is one literal
            chain = key
            while len(child) == 1 and "" not in child:
                ((next_key, child),) = child.items()
                chain += next_key
            alternatives.append(_literal(chain) + _emit(child, depth + len(chain)))
        if "" in node:
            alternatives.append("")
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


def _trie(names: Iterable[str]) -> dict:
    root: dict = {}
    for name in names:
        node = root
        for char in name:
            node = node.setdefault(char, {})
        node[""] = name
    return root


def _names_pattern(names: Iterable[str]) -> str:
    """A group matching any of ``names`` (longest first at each position), then one exact right word
    boundary for all: after a name that ends in a letter or digit of a spaced script, no such character
    may follow. The left boundary is checked by the caller (``_starts_word``)."""
    root = _trie(names)
    if not root:
        return ""
    alternatives = [_char_pattern(first) + _emit(root[first], 1) for first in sorted(root)]
    return "(?:" + "|".join(alternatives) + ")" + _RIGHT_BOUNDARY


def _fast_name_alternatives(names: Iterable[str]) -> list[str]:
    """For the fast check: one alternative per first character, each starting with that literal
    character, so that the whole pattern gets a first-character set that the engine scans for in C.
    The word boundaries here only look at ASCII (cheap to compile, once per alternative); being looser
    than the exact ones, they can only send more text to the exact slow path, never less."""
    root = _trie(names)
    alternatives = []
    for first in sorted(root):
        left = _ASCII_LEFT_BOUNDARY if _ASCII_WORD.match(first) else ""
        alternatives.append(_char_pattern(first) + left + _emit(root[first], 1) + _ASCII_RIGHT_BOUNDARY)
    return alternatives


def _core(name: str) -> str:
    """The name without decorations: trailing "(회사)", "[work]", emoji, symbols, underscores."""
    previous = None
    while previous != name:
        previous = name
        name = _DECORATION.sub("", name)
    return name


def _joined_forms(form: str, key: str) -> dict[str, str]:
    """``form`` and, for a name with spaces, the same joined by nothing, "_" and "." -> their keys."""
    forms = {form: key}
    if " " in form:
        for joiner in ("", "_", "."):
            forms[form.replace(" ", joiner)] = key.replace(" ", joiner)
    return forms


def _starts_word(low: str, start: int) -> bool:
    """Whether a name may start at ``start``: not in the middle of a word of a spaced script."""
    return not (start and _WORDLIKE_CHAR.match(low[start]) and _WORDLIKE_CHAR.match(low[start - 1]))


class Redactor:
    """Redacts the identifiers of non-targets in message text; see the module's documentation."""

    def __init__(
        self,
        people: Iterable[Person],
        *,
        lookup: Callable[[str, str], Person | None] | None = None,
        pseudonym: Callable[[Person], str],
        directory: DirectoryIndex | None = None,
        resolve: Callable[[int], Person | None] | None = None,
    ) -> None:
        self._lookup = lookup
        self._pseudonym = pseudonym
        self._directory = directory if directory is not None and len(directory) else None
        self._resolve = resolve
        self._resolved: dict[int, tuple[Person, ...]] = {}
        self._placeholders: dict[str, str] = {}
        self._looked_up: dict[tuple[str, str], tuple[Person, ...]] = {}
        self._by_phone: dict[str, list[Person]] = {}
        self._by_email: dict[str, list[Person]] = {}
        self._by_name: dict[str, list[Person]] = {}  # display names of two characters or more
        self._by_mention: dict[str, list[Person]] = {}  # display names of any length, "kim_minsu" ...
        self._by_core: dict[str, list[Person]] = {}  # "김민준" for "김민준 🌸", "Kim" for "Kim (work)"
        # Names are looked up in their folded, ASCII-for-full-width form (the slow path maps the text
        # the same way); the patterns also hold the folded form as written, for the fast check.
        name_forms: set[str] = set()
        mention_forms: set[str] = set()
        for person in people:
            phone = normalize_phone(person.phone) if person.phone else None
            if phone:
                _add(self._by_phone, phone, person)
            email = normalize_email(person.email)
            if email:
                _add(self._by_email, email, person)
            written = _name_key(_fold(unicodedata.normalize("NFC", person.display_name or "")))
            if not written:
                continue
            key = _name_key(written.translate(_FULLWIDTH))
            if len(key) >= 2:
                _add(self._by_name, key, person)
                name_forms.update((written, key))
            forms = _joined_forms(written, key)  # for @mentions: the name, "kim_minsu", "kimminsu" ...
            for form_key in forms.values():
                _add(self._by_mention, form_key, person)
            core = _name_key(_core(written))
            if core != written and len(core) >= 2:
                core_key = _name_key(core.translate(_FULLWIDTH))
                _add(self._by_core, core_key, person)
                name_forms.update((core, core_key))
                core_forms = _joined_forms(core, core_key)
                forms.update(core_forms)
                for form_key in core_forms.values():
                    if form_key != core_key:
                        _add(self._by_mention, form_key, person)
            mention_forms.update(forms)
            mention_forms.update(forms.values())

        names = _names_pattern(name_forms)
        mentions = _names_pattern(mention_forms)

        fast = [*_FAST_TRIGGERS, "0" + _NOT_AFTER_DIGIT + f"(?:{_DOMESTIC_AFTER_0}|{_RRN_AFTER_FIRST})"]
        fast += [str(d) + _NOT_AFTER_DIGIT + _RRN_AFTER_FIRST for d in range(1, 10)]
        fast += ["0" + _NOT_AFTER_DIGIT + "082" + _KOREA_REST, "8(?<![0-9+]8)2" + _KOREA_INTL.rsplit("82", 1)[1]]
        fast.append(_OTHER_DIGIT_CLASS)
        fast += _fast_name_alternatives(name_forms)
        self._fast = re.compile("|".join(fast)).search

        parts = list(_SCAN_PARTS)
        if mentions:
            parts.append(f"(?P<mention>@{mentions})")
        if names:
            parts.append(f"(?P<name>{names})")
        # two scanners: the e-mail pattern is tried at every letter, so only when the text has an "@"
        self._scan = re.compile("|".join(parts)).search
        self._scan_with_email = re.compile("|".join([parts[0], f"(?P<email>{_EMAIL})", *parts[1:]])).search

    # --- public ---------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        low = text.lower()
        if len(low) != len(text):
            low = _fold(text)
        if text.isascii() or unicodedata.is_normalized("NFC", text):
            if self._fast(low) is None and not (self._directory is not None and self._directory.hit(text)):
                return text  # the fast path: nothing to look at
            return self._redact(text, low, text)
        normal = unicodedata.normalize("NFC", text)
        low = _fold(normal)
        if self._fast(low) is None and not (self._directory is not None and self._directory.hit(normal)):
            return text
        return self._redact(normal, low, text)

    def contacts(self, text: str) -> list[tuple[str, str]]:
        """The phone numbers and e-mail addresses that ``redact(text)`` may ask ``lookup`` about, as
        ``(kind, normalised value)``: found with the same patterns, in the same form, without those of
        the people given and those already looked up. For a caller that answers many at once beforehand
        (one database question for a batch of texts, not one per value); ``redact`` still asks
        ``lookup`` for every value it meets, so what it gives never depends on this. A number that a
        name or a mention covers in the text is listed anyway (nothing is lost by asking)."""
        if _MAY_HOLD_CONTACTS(text) is None:
            return []
        if not (text.isascii() or unicodedata.is_normalized("NFC", text)):
            text = unicodedata.normalize("NFC", text)
        low = _fold(text)
        if _HAS_FULLWIDTH.search(low):
            low = low.translate(_FULLWIDTH)
        found: list[tuple[str, str]] = []
        for match in (_CONTACTS_WITH_EMAIL if "@" in low else _CONTACTS)(low):
            kind = match.lastgroup
            if kind == "email":
                values = [normalize_email(match.group())]
            elif kind == "phone":
                number = normalize_phone(match.group())
                values = [number] if number is not None else []
            elif kind == "intl":
                kind, values = "phone", [number for _length, number in _international_numbers(match.group())]
            else:  # a placeholder or mask (kept), a resident registration number (never looked up)
                continue
            given = self._by_phone if kind == "phone" else self._by_email
            found.extend((kind, v) for v in values if v not in given and (kind, v) not in self._looked_up)
        return found

    # --- the slow path --------------------------------------------------------------------------

    def _redact(self, text: str, low: str, original: str) -> str:
        """``text`` with its identifiers replaced; ``low`` is ``text`` folded (same positions),
        ``original`` what to return when nothing is replaced."""
        if _HAS_FULLWIDTH.search(low):
            low = low.translate(_FULLWIDTH)
        search = self._scan_with_email if "@" in low else self._scan
        listed = self._listed(text, low)  # account IDs and names of the directory, in order
        next_listed = 0
        pieces: list[str] = []
        done = 0  # text[:done] is in pieces
        pos = 0
        while True:
            match = search(low, pos)
            while next_listed < len(listed) and listed[next_listed][0] < pos:
                next_listed += 1
            replacement: str | None = None
            # the directory's find wins when it starts first, or at the same place and is longer
            if next_listed < len(listed) and (
                match is None
                or listed[next_listed][0] < match.start()
                or (listed[next_listed][0] == match.start() and listed[next_listed][1] > match.end())
            ):
                start, end, code = listed[next_listed]
                next_listed += 1
                kind = "listed"
                replacement = self._for_code(code)
            elif match is None:
                break
            else:
                kind = match.lastgroup
                start, end = match.span()
            if kind in ("listed", "keep"):  # a directory find's replacement is set; a placeholder stays
                pass
            elif kind == "name":
                if not _starts_word(low, start):
                    pos = start + 1  # inside a word: not this name; look again from the next character
                    continue
                key = _name_key(low[start:end])
                replacement = self._for_people(self._by_name.get(key) or self._by_core.get(key, ()), NAME_REMOVED)
            elif kind == "mention":
                key = _name_key(low[start + 1 : end])
                people = self._by_mention.get(key) or self._by_core.get(key, ())
                replacement = self._for_people(people, NAME_REMOVED)
                if replacement is not None:
                    replacement = text[start] + replacement  # the "@" stays
            elif kind == "email":
                replacement = self._for_people(self._accounts("email", normalize_email(low[start:end])), EMAIL_REMOVED)
            elif kind == "rrn":
                replacement = RRN_REMOVED
            elif kind == "phone":
                number = normalize_phone(low[start:end])
                if number is not None:
                    replacement = self._for_people(self._accounts("phone", number), PHONE_REMOVED)
            else:  # "intl": free grouping; the longest known number wins, else the whole run is masked
                end, replacement = self._international(low, start, end)
            if replacement is not None:
                pieces.append(text[done:start])
                pieces.append(replacement)
                done = end
            pos = end if end > start else end + 1
        if not pieces:
            return original
        pieces.append(text[done:])
        return "".join(pieces)

    def _listed(self, text: str, low: str) -> list[tuple[int, int, int]]:
        """The directory's finds in ``text`` (start, end, code), those overlapping a placeholder or a
        mask left out (already redacted text stays as it is)."""
        if self._directory is None:
            return []
        found = self._directory.matches(text)
        if found:
            kept = [match.span() for match in _ALREADY_REDACTED.finditer(low)]
            if kept:
                found = [item for item in found if not any(s < item[1] and item[0] < e for s, e in kept)]
        return found

    def _for_code(self, code: int) -> str | None:
        """What a directory find becomes: kept (a target's), masked (shared), or the one account's."""
        if code == KEEP:
            return None
        if code == SHARED:
            return NAME_REMOVED
        ref = DirectoryIndex.ref(code)
        people = self._resolved.get(ref)
        if people is None:
            person = self._resolve(ref) if self._resolve is not None and ref is not None else None
            people = self._resolved[ref] = (person,) if person is not None else ()
        return self._for_people(people, NAME_REMOVED)

    def _international(self, low: str, start: int, end: int) -> tuple[int, str | None]:
        """A number after "+" and a country code, grouped freely: the longest known number from its
        start (a following figure, as in "+44 20 7946 0958 2 times", may have been taken in), else the
        whole run masked if it is a phone number at all. Returns (end, replacement or None to keep)."""
        valid = False
        for length, number in _international_numbers(low[start:end]):
            valid = True
            people = self._accounts("phone", number)
            if people:
                return start + length, self._for_people(people, PHONE_REMOVED)
        return end, PHONE_REMOVED if valid else None

    def _accounts(self, kind: str, value: str) -> Sequence[Person]:
        found = (self._by_phone if kind == "phone" else self._by_email).get(value)
        if found:
            return found
        key = (kind, value)
        cached = self._looked_up.get(key)
        if cached is None:
            person = self._lookup(kind, value) if self._lookup is not None else None
            cached = self._looked_up[key] = (person,) if person is not None else ()
        return cached

    def _for_people(self, people: Iterable[Person], mask: str) -> str | None:
        """None to keep the text (a target's), else the placeholder of the one non-target, else ``mask``."""
        people = list(people)
        if not people:
            return mask
        if any(person.target for person in people):
            return None
        uids = {person.uid for person in people}
        if len(uids) > 1:
            return mask
        return self._placeholder(people[0])

    def _placeholder(self, person: Person) -> str:
        placeholder = self._placeholders.get(person.uid)
        if placeholder is None:
            token = self._pseudonym(person)
            if not _TOKEN.fullmatch(token):
                raise ValueError(f"not a pseudonym token: {token!r}")
            placeholder = self._placeholders[person.uid] = f"[[{token}]]"
        return placeholder


def _international_numbers(written: str) -> list[tuple[int, str]]:
    """The numbers a free-grouped "+" run may be, longest first: (length written, normalised number).
    Nothing for a run without separators shorter than 11 characters ("+12000000": an amount)."""
    if written[1:].isdigit() and len(written) < 11:
        return []
    numbers = []
    for group in reversed(list(_DIGIT_GROUP.finditer(written))):
        number = normalize_phone(written[: group.end()])
        if number is not None:
            numbers.append((group.end(), number))
    return numbers


def _add(index: dict[str, list[Person]], key: str, person: Person) -> None:
    people = index.setdefault(key, [])
    if all(existing.uid != person.uid for existing in people):
        people.append(person)
