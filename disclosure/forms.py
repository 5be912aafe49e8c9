from django import forms
from django.utils.translation import gettext_lazy as _

from warrantdesk.dates import DateTimeWidget, DateWidget, date_help, datetime_help
from warrantdesk.params import DateFilterField

from .models import Delivery


class DeliveryForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[(c.value, c.label) for c in Delivery.Channel if c != Delivery.Channel.LINK]
    )
    recipient = forms.CharField(label=_("Recipient"), max_length=200)
    delivered_at = forms.DateTimeField(
        label=_("Handed over at"),
        widget=DateTimeWidget(),
        help_text=datetime_help(),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class LinkForm(forms.Form):
    recipient = forms.CharField(label=_("Investigator"), max_length=200)
    hours = forms.IntegerField(label=_("Valid for (hours)"), min_value=1, max_value=24 * 14, required=False)


class DeferForm(forms.Form):
    """A reviewer's deferral of a user notice: until a day, with the reason (the service requires it)."""

    until = DateFilterField(label=_("Until"), widget=DateWidget(), help_text=date_help())
    justification = forms.CharField(label=_("Justification"), required=False)
