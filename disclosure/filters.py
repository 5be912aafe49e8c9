"""The notification list's filters, parsed by one form."""

from django import forms
from django.utils.translation import gettext_lazy as _

from warrantdesk.params import FilterForm, FlagField, PageField

from .models import Notification


class NotificationFilterForm(FilterForm):
    id_format = "f-%s"
    status = forms.ChoiceField(label=_("Status"), choices=[("", ""), *Notification.Status.choices], required=False)
    overdue = FlagField(label=_("Overdue only"))
    page = PageField()
