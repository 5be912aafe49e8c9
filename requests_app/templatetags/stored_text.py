"""``{{ event.note|stored_text }}``: a note warrantdesk itself wrote, in the reader's language.

System notes are stored in English, the source language of the message catalogue (they are marked
with ``gettext_noop`` where they are made), and translated when shown, so that a Korean reader sees
Korean whoever or whatever wrote them. A note without a catalogue entry (typed by a person, or with
a number in it) is shown as it is.
"""

from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def stored_text(value: str) -> str:
    return gettext(value) if value else value
