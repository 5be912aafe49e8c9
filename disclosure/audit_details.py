"""Labels of the audit details disclosure writes (``warrantdesk.audit_labels``)."""

from django.utils.translation import gettext_lazy as _

from warrantdesk import audit_labels

from .models import Delivery, Export, Notification


def register() -> None:
    audit_labels.register(
        labels={
            "revealed": _("people revealed"),
            "manifest_sha256": _("manifest SHA-256"),
            "package_sha256": _("package SHA-256"),
            "messages": _("messages"),
            "rooms": _("rooms"),
            "participants": _("participants"),
            "pseudonymised": _("people pseudonymised"),
            "pseudonymised_participants": _("pseudonymised participants"),
            "pseudonymised_named_in_text": _("pseudonymised people named in text"),
            "channel": _("channel"),
            "recipient": _("recipient"),
            "expires_at": _("expires at"),
            "hours": _("valid for (hours)"),
            "notification": _("user notice"),
            "notifications": _("user notices"),
            "letters": _("paper letters"),
            "accounts": _("accounts"),
            "until": _("until"),
            "was": _("previous status"),
            "attempts": _("attempts"),
            "gave_up": _("given up"),
            "message_id": _("Message-ID"),
            "key_id": _("key id"),
            "kek_id": _("key-encryption key id"),
            "messages_removed": _("messages removed"),
            "kept_by_holds": _("messages kept by holds"),
            "days_destroyed": _("days whose keys were destroyed"),
            "days_rekeyed": _("days re-keyed"),
            "unreadable_removed": _("unreadable messages removed"),
            "holds_placed": _("holds placed"),
            "holds_released": _("holds released"),
            "holds_active": _("active holds"),
            "finished": _("finished"),
        },
        values={
            "kind": Export.Kind.choices,
            "channel": [*Delivery.Channel.choices, *Notification.Channel.choices],
            "was": Notification.Status.choices,
        },
    )
