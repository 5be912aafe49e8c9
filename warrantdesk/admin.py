from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from .api_clients import api_client_revoke
from .audit import audit_record
from .models import ApiClient, AuditAction, AuditEntry
from .two_factor import second_factor_reset


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

    actions = ["reset_second_factor"]

    @admin.action(description=_("Reset two-factor sign-in (the user sets it up again at the next sign-in)"))
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            second_factor_reset(user=user, actor=request.user)
        count = queryset.count()
        self.message_user(
            request,
            ngettext(
                "Two-factor sign-in reset for %(count)d user.", "Two-factor sign-in reset for %(count)d users.", count
            )
            % {"count": count},
        )

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

# Second-factor devices are changed only through the audited reset above, never edited one by one.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """API clients are created with ``manage.py api_client create`` (the token is printed once); here
    they are listed and revoked (audited)."""

    list_display = ["name", "prefix", "user", "scopes", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name != "token_hash"]

    def get_exclude(self, request, obj=None):
        return ["token_hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Revoke the selected API clients"))
    def revoke(self, request, queryset):
        for client in queryset:
            api_client_revoke(client=client, actor=request.user)
        self.message_user(request, _("Revoked."))
