"""Text warrantdesk writes itself: stored in English, shown in the reader's language.

Status-history notes, signature reasons, token refusals and export failures are stored in English,
the source language of the message catalogue, and translated when shown (the ``stored_text``
template filter, ``render``). A text translated when it was made would stay in the language of
whoever or whatever triggered it: the worker writes English, a Korean officer's request Korean.

A fixed sentence needs nothing more than ``gettext_noop("…")`` where it is made. A sentence with
values in it (a number, a name, a date, another sentence) is declared once, at module level::

    EXPORT_NOTE = template(gettext_noop("Export #%(number)s"))
    note = EXPORT_NOTE % {"number": export.pk}                       # "Export #12", stored as is

    EXPIRED = template(gettext_noop("%(who)s had expired %(when)s."), texts={"who", "when"})
    AT = template(gettext_noop("at %(point)s"), texts={"point"}, fragment=True)

When shown, a stored text that is not itself a catalogue entry is matched against the declared
templates (the most specific first, anchored at both ends); its values are taken back out and put
into the translated template: "Export #12" → "제공 패키지 #12". Values named in ``texts`` are
sentences, labels or *fragments* themselves and are translated the same way (a fragment template,
such as "at %(point)s", is matched only as such a value, never as a whole stored text); values that look like the dates
warrantdesk writes (``2026-11-20 09:00 UTC``, ``2026-11-20``) are shown in the reader's date format
and time zone; every other value (numbers, names, subjects) is shown as stored.

Why not a code and parameters in a JSON column: the stored English stays the record (the API's
``reasons``, audit details, old rows keep their shape and meaning); a row written before a template
was declared is translated as soon as it is; no migration. A text that matches nothing is shown as
stored, so a reworded template only leaves older rows in English.

Pure Python at import time (no Django): ``requests_app.signatures`` declares its reasons here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_UTC_MINUTE = re.compile(r"\A(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC\Z")
_DAY = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
_MAX_DEPTH = 4
MIN_FIXED_CHARACTERS = 8


def gettext_noop(message: str) -> str:
    """Marks ``message`` for the catalogue (``makemessages`` looks for this name) and returns it."""
    return message


@dataclass(frozen=True)
class _Template:
    msgid: str
    regex: re.Pattern[str]
    texts: frozenset[str]
    fragment: bool
    specificity: int  # characters of fixed text: the more, the less likely a wrong match


_templates: dict[str, _Template] = {}
_ordered: list[_Template] = []


def template(msgid: str, *, texts: Iterable[str] = (), fragment: bool = False) -> str:
    """Declare a stored sentence with ``%(name)s`` values; returns ``msgid`` for ``msgid % values``.

    ``texts``: the values that are themselves stored texts (sentences, labels, fragments) to
    translate. ``fragment``: part of a sentence, matched only as such a value."""
    if msgid in _templates:
        return msgid
    names = _PLACEHOLDER.findall(msgid)
    if not names:
        raise ValueError(f"not a template (no %(name)s placeholder): {msgid!r}")
    specificity = len(_PLACEHOLDER.sub("", msgid))
    if not fragment and specificity < MIN_FIXED_CHARACTERS:
        # "%(a)s: %(b)s" would match any text with a colon in it, a person's note included
        raise ValueError(f"too little fixed text to be recognised when shown: {msgid!r}")
    pattern, seen, position = [r"\A"], set(), 0
    for match in _PLACEHOLDER.finditer(msgid):
        if position and match.start() == position:
            raise ValueError(f"two values next to each other cannot be told apart when shown: {msgid!r}")
        pattern.append(re.escape(msgid[position : match.start()].replace("%%", "%")))
        name = match.group(1)
        pattern.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
        seen.add(name)
        position = match.end()
    pattern.append(re.escape(msgid[position:].replace("%%", "%")) + r"\Z")
    declared = _Template(
        msgid=msgid,
        regex=re.compile("".join(pattern), re.DOTALL),
        texts=frozenset(texts),
        fragment=fragment,
        specificity=specificity,
    )
    _templates[msgid] = declared
    _ordered.append(declared)
    _ordered.sort(key=lambda item: -item.specificity)
    return msgid


def utc_minute(moment: dt.datetime) -> str:
    """A moment as warrantdesk writes it into stored English ("2026-11-20 09:00 UTC")."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def english(text) -> str:
    """A lazily translated label or sentence, in English (to store it)."""
    from django.utils import translation  # Django only when called: this module is pure at import (above)

    with translation.override("en"):
        return str(text)


def render(text: str | None) -> str:
    """``text`` (stored in English) in the active language; unchanged when no translation applies."""
    if not text:
        return text or ""
    from django.utils import translation  # pure at import (see the module docstring)

    language = translation.get_language() or "en"
    if language.split("-")[0] == "en":
        return text
    return _render(str(text), 0, fragments=False)


def _render(text: str, depth: int, *, fragments: bool) -> str:
    from django.utils.translation import gettext  # pure at import (see the module docstring)

    translated = gettext(text)
    if translated != text or depth >= _MAX_DEPTH:
        return translated
    for declared in _ordered:
        if declared.fragment and not fragments:
            continue
        match = declared.regex.match(text)
        if match is None:
            continue
        values = {
            name: _render(value, depth + 1, fragments=True) if name in declared.texts else _value(value)
            for name, value in match.groupdict().items()
        }
        try:
            return gettext(declared.msgid) % values
        except (KeyError, ValueError, TypeError):  # a broken translation: the English is still right
            return text
    return text


def _value(value: str) -> str:
    from django.utils import formats, timezone  # pure at import (see the module docstring)

    if found := _UTC_MINUTE.match(value):
        moment = dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
        local = timezone.localtime(moment)
        return f"{formats.date_format(local, 'SHORT_DATETIME_FORMAT')} ({local.tzname()})"
    if _DAY.match(value):
        try:
            return formats.date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
        except ValueError:
            return value
    return value
