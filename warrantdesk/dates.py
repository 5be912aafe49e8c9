"""Date and time inputs that follow the language: one widget, one help text.

``DateTimeWidget`` is an ``<input type="datetime-local">`` (browsers show their own picker and send
ISO). Where a browser shows a plain text box, or a date is pasted, what a person types is accepted
in the forms either language writes (``warrantdesk/formats``): 2026-12-04 14:30, 2026. 12. 4. 오후
2:30, 2026년 12월 4일 14시 30분, 12/4 style excepted. ``datetime_help()`` names the format of the
active language next to the field.
"""

from __future__ import annotations

import importlib
import re

from django import forms
from django.utils.functional import lazy
from django.utils.translation import get_language
from django.utils.translation import gettext as _

_MERIDIEM = {"오전": "AM", "오후": "PM"}
_MERIDIEM_RE = re.compile("|".join(_MERIDIEM))
_SPACES = re.compile(r"\s+")


def normalise_typed_date(text: str) -> str:
    """ "2026. 12. 4. 오후 2:30" → "2026. 12. 4. PM 2:30": strptime knows only the C locale's AM/PM."""
    text = _MERIDIEM_RE.sub(lambda match: _MERIDIEM[match.group(0)], text)
    return _SPACES.sub(" ", text).strip()


class DateTimeWidget(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")

    def value_from_datadict(self, data, files, name):
        value = super().value_from_datadict(data, files, name)
        return normalise_typed_date(value) if isinstance(value, str) else value


class DateWidget(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")

    def value_from_datadict(self, data, files, name):
        value = super().value_from_datadict(data, files, name)
        return normalise_typed_date(value) if isinstance(value, str) else value


def _example(name: str) -> str:
    language = (get_language() or "en").split("-")[0]
    try:
        module = importlib.import_module(f"warrantdesk.formats.{language}.formats")
    except ImportError:
        module = importlib.import_module("warrantdesk.formats.en.formats")
    return getattr(module, name)


def _datetime_help() -> str:
    return _("Date and time, for example %(example)s.") % {"example": _example("DATETIME_INPUT_EXAMPLE")}


def _date_help() -> str:
    return _("A date, for example %(example)s.") % {"example": _example("DATE_INPUT_EXAMPLE")}


datetime_help = lazy(_datetime_help, str)
date_help = lazy(_date_help, str)
