"""The warrant list's filters (web page and API alike), parsed by one form."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from warrantdesk.params import DateFilterField, FilterForm, FlagField, IdChoiceField, PageField

from .models import Agency
from .workflow import Status

ORDERS = [
    ("deadline", _("Deadline, soonest first")),
    ("-deadline", _("Deadline, latest first")),
    ("-received_at", _("Most recently received")),
]


class WarrantFilterForm(FilterForm):
    id_format = "f-%s"
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=[("", ""), *Status.choices], required=False)
    agency = IdChoiceField(label=_("Agency"), queryset=Agency.objects.all(), required=False)
    deadline_before = DateFilterField(label=_("Deadline on or before"), required=False)
    order = forms.ChoiceField(label=_("Sort by"), choices=ORDERS, required=False)
    overdue = FlagField(label=_("Overdue"))
    emergency = FlagField(label=_("Emergency"))
    page = PageField()

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of ``selectors.warrant_list_filtered``."""
        data = self.cleaned_data
        return {
            "status": data["status"],
            "agency_id": data["agency"].pk if data["agency"] else None,
            "deadline_before": data["deadline_before"],
            "overdue": data["overdue"],
            "emergency": data["emergency"],
            "search": data["q"],
        }

    def ordering(self) -> str:
        return self.cleaned_data["order"] or "deadline"
