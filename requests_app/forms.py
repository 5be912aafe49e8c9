import datetime as dt

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from warrantdesk.dates import DateTimeWidget, DateWidget, datetime_help
from warrantdesk.roles import user_roles

from .models import NOTE_MAX_LENGTH, Agency, Document, Warrant, WarrantTarget
from .services import TargetInput

DATETIME_WIDGET = DateTimeWidget()


def cap_note(field: forms.Field) -> forms.Field:
    """Refuse a note longer than NOTE_MAX_LENGTH with Django's "at most N characters (it has M)".

    A validator, not ``max_length``: that would add a ``maxlength`` attribute, and browsers cut a
    pasted text at it without a word."""
    field.validators.append(MaxLengthValidator(NOTE_MAX_LENGTH))
    return field


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
        if self.is_bound and "confirm_duplicate" in self.data:  # the officer saw the warning and ticked the box
            self.offer_duplicate_confirmation()
        self.fields["agency"].queryset = Agency.objects.filter(active=True)
        self.fields["agency"].empty_label = _("Choose the issuing agency")
        cap_note(self.fields["notes"])
        for name in ("received_at", "deadline", "period_start", "period_end"):
            self.fields[name].help_text = datetime_help()  # input formats: warrantdesk/formats

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

    def offer_duplicate_confirmation(self) -> None:
        """After a possible-duplicate warning: show the "log it anyway" box, unticked."""
        self.fields["confirm_duplicate"] = forms.BooleanField(
            label=_("Log it anyway: I have checked it is not the same warrant"), required=False
        )

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        fields = {name: data[name] for name in self.Meta.fields}
        return {
            **fields,
            "targets": data["targets"],
            "rooms": data["rooms_text"],
            "upload": data["document"],
            "signature_upload": data["signature"],
            "confirm_duplicate": data.get("confirm_duplicate", False),
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
    confirm_duplicate = forms.BooleanField(
        label=_("Upload it even if the same file is attached to another case"),
        required=False,
        help_text=_("Only after a warning that this file may be a duplicate, once you have checked it is not."),
    )


class TransitionForm(forms.Form):
    to = forms.CharField(widget=forms.HiddenInput)
    note = cap_note(forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})))


class AssignForm(forms.Form):
    """A colleague to give access to the case, picked from those who may be assigned (the API takes
    a user name instead). The value is the user name, so a stale page posts something readable."""

    username = forms.ChoiceField(label=_("Colleague"))

    def __init__(self, *args, officers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.officers = {officer.get_username(): officer for officer in officers}
        self.fields["username"].choices = [
            ("", _("Choose a colleague")),
            *((username, officer_label(officer)) for username, officer in self.officers.items()),
        ]


def officer_label(officer) -> str:
    """ "Park Seoyeon (reviewer.park) · Reviewer": the name a colleague knows, the login, the role."""
    roles = ", ".join(gettext(role.value) for role in sorted(user_roles(officer)))
    name = officer.get_full_name()
    who = f"{name} ({officer.get_username()})" if name else officer.get_username()
    return f"{who} · {roles}" if roles else who


def is_confirmed(request, reference: str) -> bool:
    """Did the person tick the "I confirm" box naming this case (``confirm`` = its reference)?

    Approving, rejecting, deciding on a reveal and issuing a download link ask for it on the page
    itself (a required checkbox whose label names the case), so the confirmation works without
    JavaScript and a screen reader reads what is confirmed. The API does not ask: a client there
    states the case explicitly."""
    return request.POST.get("confirm", "") == reference


class PreservationOrderForm(forms.Form):
    """An agency's preservation order: its PDF, the last day to preserve, a note."""

    file = forms.FileField(
        label=_("Preservation order (PDF)"), widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"})
    )
    until = forms.DateField(label=_("Preserve until"), widget=DateWidget())
    note = cap_note(forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})))

    def until_end(self):
        """The end of the last day to preserve, in the operator's time zone."""
        day = self.cleaned_data["until"]
        return timezone.make_aware(dt.datetime.combine(day, dt.time.max))
