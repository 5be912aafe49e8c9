"""Labels of the audit details requests_app writes (``warrantdesk.audit_labels``)."""

from django.utils.translation import gettext_lazy as _

from warrantdesk import audit_labels

from .models import Document, FollowUpToken, SignatureOutcome, Warrant
from .workflow import Status


def register() -> None:
    audit_labels.register(
        labels={
            "agency": _("agency"),
            "kind": _("kind"),
            "via": _("received via"),
            "targets": _("targets"),
            "officer": _("officer"),
            "size": _("size (bytes)"),
            "document": _("document"),
            "outcome": _("outcome"),
            "signer_sha256": _("signer certificate SHA-256"),
            "investigator": _("investigator"),
            "sha256": _("SHA-256"),
            "signature_sha256": _("detached signature SHA-256"),
            "from": _("from"),
            "to": _("to"),
            "by": _("by"),
            "follow_up": _("follow-up request"),
            "reference": _("reference"),
            "tokens": _("pseudonyms"),
            "invalid": _("invalid pseudonyms"),
            "approved": _("approved"),
            "refused": _("refused"),
        },
        values={
            "kind": [*Warrant.Kind.choices, *Document.Kind.choices],
            "via": Warrant.Via.choices,
            "outcome": SignatureOutcome.choices,
            "from": Status.choices,
            "to": Status.choices,
            "invalid": FollowUpToken.Validity.choices,
        },
    )
