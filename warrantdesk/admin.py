from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .audit import audit_record
from .models import AuditAction, AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, for auditors and administrators alike."""

    list_display = ["seq", "at", "actor_label", "action", "warrant_ref", "object_type", "object_id", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_label", "warrant_ref", "object_id"]
    date_hierarchy = "at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Admin for registry models: every save and delete writes an audit entry in the same transaction."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            action=AuditAction.REGISTRY_CHANGED,
            actor=request.user,
            obj=obj,
            details={"op": "change" if change else "add", "fields": sorted(form.changed_data)},
        )

    def delete_model(self, request, obj):
        audit_record(action=AuditAction.REGISTRY_CHANGED, actor=request.user, obj=obj, details={"op": "delete"})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class AuditedUserAdmin(UserAdmin):
    """Who holds which role is security-relevant: every change of a user is audited."""

    def save_related(self, request, form, formsets, change):
        before = sorted(form.instance.groups.values_list("name", flat=True)) if change else []
        super().save_related(request, form, formsets, change)
        after = sorted(form.instance.groups.values_list("name", flat=True))
        audit_record(
            action=AuditAction.ROLE_CHANGED,
            actor=request.user,
            obj=form.instance,
            details={
                "op": "change" if change else "add",
                "user": form.instance.get_username(),
                "fields": sorted(form.changed_data),
                "roles_before": before,
                "roles_after": after,
                "superuser": form.instance.is_superuser,
                "active": form.instance.is_active,
            },
        )

    def delete_model(self, request, obj):
        audit_record(
            action=AuditAction.ROLE_CHANGED, actor=request.user, obj=obj, details={"op": "delete", "user": obj.username}
        )
        super().delete_model(request, obj)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
