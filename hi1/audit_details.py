"""The labels of the HI-1 audit details (hi1.received, hi1.sent, hi1.refused), for the timeline and the
audit log (warrantdesk.audit_labels)."""

from django.utils.translation import gettext_lazy as _

from warrantdesk import audit_labels

from .models import Message


def register() -> None:
    audit_labels.register(
        labels={"transaction": _("HI-1 transaction"), "http": _("HTTP status"), "error_code": _("error code")},
        values={
            "kind": [
                *Message.Kind.choices,
                ("export", _("Exported as an HI-1 message")),
                ("fetched", _("Fetched by the agency")),
            ]
        },
    )
