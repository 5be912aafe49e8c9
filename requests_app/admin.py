from django.contrib import admin
from guardian.admin import GuardedModelAdminMixin

from warrantdesk.admin import AuditedAdmin

from .models import Agency, Document, Investigator, Warrant, WarrantEvent, WarrantTarget


class InvestigatorInline(admin.TabularInline):
    model = Investigator
    extra = 0
    fields = ["name", "title", "is_chief", "certificate_sha256", "active"]
    readonly_fields = ["certificate_sha256"]
    can_delete = False


@admin.register(Agency)
class AgencyAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "contact_email", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name"]


@admin.register(Investigator)
class InvestigatorAdmin(AuditedAdmin):
    list_display = ["name", "agency", "title", "is_chief", "active"]
    list_filter = ["agency", "is_chief", "active"]
    search_fields = ["name", "certificate_sha256"]
    readonly_fields = ["certificate_sha256"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
