"""The audit log's filters (page, CSV download and API alike), parsed by one form."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AuditAction
from .params import DateFilterField, FilterForm, PageField


class AuditFilterForm(FilterForm):
    id_format = "a-%s"
    actor = forms.CharField(label=_("Actor (user name)"), max_length=150, required=False)
    action = forms.ChoiceField(label=_("Action"), choices=[("", ""), *AuditAction.choices], required=False)
    warrant = forms.CharField(label=_("Warrant reference"), max_length=32, required=False)
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
        }
