from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Delivery


class DeliveryForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[(c.value, c.label) for c in Delivery.Channel if c != Delivery.Channel.LINK]
    )
    recipient = forms.CharField(label=_("Recipient"), max_length=200)
    delivered_at = forms.DateTimeField(
        label=_("Handed over at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class LinkForm(forms.Form):
    recipient = forms.CharField(label=_("Investigator"), max_length=200)
    hours = forms.IntegerField(label=_("Valid for (hours)"), min_value=1, max_value=24 * 14, required=False)
