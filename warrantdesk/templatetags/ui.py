"""The small pieces every table repeats, rendered in Python: ``{% status_badge %}`` and ``{% when %}``.

A table of 50 warrants rendered these as an ``{% include %}`` and six ``|date`` filters a row, which
was most of the page's time; the markup is the same, built once a row with ``format_html``."""

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def status_badge(status, label):
    """``<span class="badge badge--received">Received</span>``: the status's class, its label."""
    return format_html('<span class="badge badge--{}">{}</span>', str(status).lower(), label)


@register.simple_tag
def when(value, time_format="TIME_FORMAT"):
    """A date and time in the reader's time zone and language: the machine-readable ``datetime``
    attribute, the short date, then the time in a ``span.time`` ("" for no value)."""
    if not value:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html(
        '<time datetime="{}">{} <span class="time">{}</span></time>',
        local.isoformat(),
        date_format(local, "SHORT_DATE_FORMAT"),
        date_format(local, time_format),
    )
