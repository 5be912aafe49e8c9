"""``{% for label, value in entry.details|audit_details %}``: audit details in the reader's language."""

from django import template

from warrantdesk import audit_labels

register = template.Library()


@register.filter
def audit_details(details) -> list[tuple[str, str]]:
    return audit_labels.rows(details)
