"""The audit log's filters (page, CSV download and API alike), parsed by one form."""

from typing import Any

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import AuditAction
from .params import DateFilterField, FilterForm, FlagField, PageField

# What an auditor reads by subject: each topic is a set of actions (the audit log's "Topic" filter).
TOPICS: dict[str, tuple[str | Promise, tuple[AuditAction, ...]]] = {
    "signatures": (_("Signature verdicts"), (AuditAction.SIGNATURE_CHECKED, AuditAction.SIGNATURE_RECHECK_REQUESTED)),
    "approvals": (_("Approvals and status changes"), (AuditAction.WARRANT_TRANSITION, AuditAction.WARRANT_ASSIGNED)),
    "exports": (
        _("Exports and deliveries"),
        (
            AuditAction.EXPORT_REQUESTED,
            AuditAction.EXPORT_STARTED,
            AuditAction.EXPORT_READY,
            AuditAction.EXPORT_FAILED,
            AuditAction.EXPORT_DOWNLOADED,
            AuditAction.EXPORT_DELIVERED,
            AuditAction.LINK_ISSUED,
            AuditAction.LINK_USED,
            AuditAction.LINK_REFUSED,
        ),
    ),
    "reveals": (
        _("Reveal decisions"),
        (
            AuditAction.FOLLOWUP_CREATED,
            AuditAction.FOLLOWUP_DECISION,
            AuditAction.FOLLOWUP_DECIDED,
            AuditAction.FOLLOWUP_DISCLOSED,
        ),
    ),
    "notifications": (
        _("Notifications and deferrals"),
        tuple(action for action in AuditAction if action.value.startswith("notification.")),
    ),
    "registry": (_("Registry and roles"), (AuditAction.REGISTRY_CHANGED, AuditAction.ROLE_CHANGED)),
    "access": (
        _("Sign-ins and refusals"),
        (
            AuditAction.LOGIN,
            AuditAction.LOGIN_FAILED,
            AuditAction.LOGOUT,
            AuditAction.ACCESS_DENIED,
            AuditAction.DOCUMENT_REFUSED,
            AuditAction.LINK_REFUSED,
        ),
    ),
    "retention": (
        _("Holds, purges and keys"),
        (
            AuditAction.HOLD_PLACED,
            AuditAction.HOLD_RELEASED,
            AuditAction.RETENTION_PURGED,
            AuditAction.KEY_CREATED,
            AuditAction.KEY_DESTROYED,
            AuditAction.KEYS_ROTATED,
        ),
    ),
}


class AuditFilterForm(FilterForm):
    id_format = "a-%s"
    actor = forms.CharField(label=_("Actor (user name)"), max_length=150, required=False)
    action = forms.ChoiceField(label=_("Action"), choices=[("", ""), *AuditAction.choices], required=False)
    warrant = forms.CharField(label=_("Warrant reference"), max_length=32, required=False)
    q = forms.CharField(label=_("Search actions and details"), max_length=200, required=False)
    topic = forms.ChoiceField(
        label=_("Topic"),
        choices=[("", ""), *((key, label) for key, (label, _actions) in TOPICS.items())],
        required=False,
    )
    after_hours = FlagField(label=_("After hours only"))
    since = DateFilterField(label=_("From"), required=False)
    until = DateFilterField(label=_("Until"), required=False)
    page = PageField()

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of ``selectors.audit_entries_filtered``."""
        data = self.cleaned_data
        return {
            "actor": data["actor"],
            "action": data["action"],
            "warrant_ref": data["warrant"],
            "since": data["since"],
            "until": data["until"],
            "search": data["q"].strip(),
            "actions": TOPICS[data["topic"]][1] if data["topic"] else (),
            "after_hours": data["after_hours"],
        }
