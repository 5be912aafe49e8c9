from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _
from guardian.admin import GuardedModelAdminMixin

from warrantdesk.exceptions import DomainError

from . import registry
from .models import Agency, Document, Investigator, SignatureCheck, TrustAnchor, Warrant, WarrantEvent, WarrantTarget


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AnchorInline(ReadOnlyInline):
    model = TrustAnchor
    fields = ["subject", "certificate_sha256", "not_after", "active"]
    readonly_fields = fields


class InvestigatorInline(ReadOnlyInline):
    model = Investigator
    fields = ["name", "title", "is_chief", "certificate_sha256", "certificate_not_after", "active"]
    readonly_fields = fields


class RegistryAdmin(admin.ModelAdmin):
    """Registry changes go through requests_app.registry, which validates and audits them."""

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: past checks refer to these rows


@admin.register(Agency)
class AgencyAdmin(RegistryAdmin):
    list_display = ["code", "name", "kind", "contact_email", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name"]
    inlines = [AnchorInline, InvestigatorInline]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj else []

    def save_model(self, request, obj, form, change):
        agency = registry.agency_save(
            code=obj.code, name=obj.name, kind=obj.kind, contact_email=obj.contact_email, actor=request.user
        )
        obj.pk = agency.pk


class CertificateForm(forms.ModelForm):
    certificate_file = forms.FileField(required=False, help_text="PEM or DER file")
    certificate_text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}), label="or paste PEM")

    def certificate_bytes(self) -> bytes:
        upload = self.cleaned_data.get("certificate_file")
        return upload.read() if upload else (self.cleaned_data.get("certificate_text") or "").encode()


class TrustAnchorForm(CertificateForm):
    class Meta:
        model = TrustAnchor
        fields = ["agency"]

    def clean(self):
        cleaned = super().clean()
        data = self.certificate_bytes()
        if not data:
            raise forms.ValidationError(_("Give the CA certificate as a file or pasted PEM."))
        try:
            registry.anchor_certificates_check(data)
        except DomainError as refusal:
            raise forms.ValidationError(refusal.message) from refusal
        self.cleaned_certificate = data
        return cleaned


@admin.register(TrustAnchor)
class TrustAnchorAdmin(RegistryAdmin):
    list_display = ["agency", "subject", "certificate_sha256", "not_after", "active"]
    list_filter = ["agency", "active"]
    actions = ["deactivate"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TrustAnchorForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["agency", "subject", "certificate_sha256", "not_after", "active", "certificate_pem"] if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["agency", "certificate_file", "certificate_text"]
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        anchors = registry.anchor_add(agency=obj.agency, certificate=form.cleaned_certificate, actor=request.user)
        obj.pk = anchors[0].pk

    @admin.action(description="Deactivate the selected anchors")
    def deactivate(self, request, queryset):
        for anchor in queryset:
            registry.anchor_deactivate(anchor=anchor, actor=request.user)


class InvestigatorForm(CertificateForm):
    valid_at = forms.DateTimeField(
        required=False,
        label="Validate as of",
        help_text="Optional: a past moment (YYYY-MM-DD HH:MM) to validate the certificate's chain at instead of "
        "now, for warrants received while a certificate that has since expired was valid.",
    )

    class Meta:
        model = Investigator
        fields = ["agency", "name", "title", "is_chief", "active"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            data = self.certificate_bytes()
            if not data:
                raise forms.ValidationError(_("Give the investigator's certificate as a file or pasted PEM."))
            if cleaned.get("agency"):
                try:
                    registry.investigator_certificate_check(
                        agency=cleaned["agency"], certificate=data, valid_at=cleaned.get("valid_at")
                    )
                except DomainError as refusal:
                    raise forms.ValidationError(refusal.message) from refusal
            self.cleaned_certificate = data
        return cleaned


@admin.register(Investigator)
class InvestigatorAdmin(RegistryAdmin):
    form = InvestigatorForm
    list_display = ["name", "agency", "title", "is_chief", "certificate_not_after", "certificate_valid_at", "active"]
    list_filter = ["agency", "is_chief", "active"]
    search_fields = ["name", "certificate_sha256", "certificate_subject"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["agency", "name", "title", "is_chief", "certificate_file", "certificate_text", "valid_at"]
        return [
            "agency",
            "name",
            "title",
            "is_chief",
            "active",
            "certificate_subject",
            "certificate_sha256",
            "certificate_not_after",
            "certificate_valid_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "agency",
            "name",
            "title",
            "certificate_subject",
            "certificate_sha256",
            "certificate_not_after",
            "certificate_valid_at",
        ]

    def save_model(self, request, obj, form, change):
        if change:
            registry.investigator_update(
                investigator=obj,
                is_chief=form.cleaned_data["is_chief"],
                active=form.cleaned_data["active"],
                actor=request.user,
            )
            return
        investigator = registry.investigator_register(
            agency=obj.agency,
            certificate=form.cleaned_certificate,
            name=obj.name,
            title=obj.title,
            is_chief=obj.is_chief,
            actor=request.user,
            valid_at=form.cleaned_data.get("valid_at"),
        )
        obj.pk = investigator.pk


class TargetInline(ReadOnlyInline):
    model = WarrantTarget
    fields = ["kind", "identifier"]


class DocumentInline(ReadOnlyInline):
    model = Document
    fields = ["kind", "original_name", "sha256", "size", "uploaded_by", "uploaded_at"]
    readonly_fields = fields


class EventInline(ReadOnlyInline):
    model = WarrantEvent
    fields = ["at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields


@admin.register(Warrant)
class WarrantAdmin(GuardedModelAdminMixin, admin.ModelAdmin):
    """Read-only view for administrators; all changes go through the workflow services."""

    list_display = ["reference", "agency", "warrant_number", "status", "kind", "deadline"]
    list_filter = ["status", "kind", "agency"]
    search_fields = ["reference", "warrant_number", "case_number"]
    inlines = [TargetInline, DocumentInline, EventInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SignatureCheck)
class SignatureCheckAdmin(admin.ModelAdmin):
    list_display = ["document", "outcome", "signer_subject", "investigator", "checked_at"]
    list_filter = ["outcome"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
