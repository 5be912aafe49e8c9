"""``{{ event.note|stored_text }}``: a text warrantdesk itself wrote, in the reader's language.

System notes, signature reasons and other texts warrantdesk writes are stored in English, the
source language of the message catalogue, and translated when shown, so that a Korean reader sees
Korean whoever or whatever wrote them. Fixed sentences are catalogue entries (``gettext_noop``);
sentences with values ("Export #12") are declared templates (``warrantdesk.stored_text``). A text
with neither (typed by a person) is shown as it is.
"""

from django import template

from warrantdesk.stored_text import render

register = template.Library()


@register.filter
def stored_text(value: str) -> str:
    return render(value)
