from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Agency, Document, Warrant, WarrantTarget
from .services import TargetInput

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class WarrantForm(forms.ModelForm):
    targets = forms.CharField(
        label=_("Targets"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, as written in the warrant. Prefix with phone: or email: for those kinds."),
    )
    rooms_text = forms.CharField(
        label=_("Rooms in scope"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional: one room identifier per line. Empty means every room of the targets."),
    )
    document = forms.FileField(
        label=_("Warrant document (PDF)"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
        help_text=_("The signed warrant as received. PDF only."),
    )
    signature = forms.FileField(
        label=_("Detached signature (.p7s)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".p7s,application/pkcs7-signature"}),
        help_text=_("Only if the agency signed outside the PDF."),
    )

    class Meta:
        model = Warrant
        fields = [
            "agency",
            "warrant_number",
            "court",
            "case_number",
            "legal_basis",
            "kind",
            "received_at",
            "received_via",
            "deadline",
            "period_start",
            "period_end",
            "notes",
        ]
        widgets = {
            "received_at": DATETIME_WIDGET,
            "deadline": DATETIME_WIDGET,
            "period_start": DATETIME_WIDGET,
            "period_end": DATETIME_WIDGET,
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.filter(active=True)
        self.fields["agency"].empty_label = _("Choose the issuing agency")
        for name in ("received_at", "deadline", "period_start", "period_end"):
            self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]

    def clean_targets(self) -> list[TargetInput]:
        parsed = []
        for line in self.cleaned_data["targets"].splitlines():
            line = line.strip()
            if not line:
                continue
            kind, _sep, value = line.partition(":")
            kind_key = kind.strip().upper()
            if _sep and kind_key in {"PHONE", "EMAIL", "UID"}:
                parsed.append(TargetInput(WarrantTarget.Kind(kind_key), value.strip()))
            else:
                parsed.append(TargetInput(WarrantTarget.Kind.UID, line))
        if not parsed:
            raise forms.ValidationError(_("Name at least one target."))
        return parsed

    def clean_rooms_text(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["rooms_text"].splitlines() if line.strip()]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and start >= end:
            self.add_error("period_end", _("The period must end after it starts."))
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        fields = {name: data[name] for name in self.Meta.fields}
        return {
            **fields,
            "targets": data["targets"],
            "rooms": data["rooms_text"],
            "upload": data["document"],
            "signature_upload": data["signature"],
        }


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Document.Kind.choices, initial=Document.Kind.WARRANT)
    file = forms.FileField(label=_("PDF file"), widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}))
    signature = forms.FileField(
        label=_("Detached signature (.p7s)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".p7s,application/pkcs7-signature"}),
        help_text=_("Only if the agency signed outside the PDF."),
    )


class TransitionForm(forms.Form):
    to = forms.CharField(widget=forms.HiddenInput)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AssignForm(forms.Form):
    username = forms.CharField(label=_("Officer's user name"), max_length=150)
