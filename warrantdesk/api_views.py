from rest_framework import mixins, serializers, viewsets

from requests_app.permissions import deny

from . import selectors
from .api import LoggedIn
from .models import AuditAction, AuditEntry
from .views import AUDIT_PERMISSION


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")
    warrant = serializers.CharField(source="warrant_ref")

    class Meta:
        model = AuditEntry
        fields = [
            "seq",
            "at",
            "actor",
            "action",
            "warrant",
            "object_type",
            "object_id",
            "ip",
            "details",
            "prev_hash",
            "hash",
        ]


class AuditEntryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit log, newest first, for auditors. Filters: actor, action, warrant."""

    permission_classes = [LoggedIn]
    serializer_class = AuditEntrySerializer
    queryset = AuditEntry.objects.none()

    def get_queryset(self):
        if not self.request.user.has_perm(AUDIT_PERMISSION):
            raise deny(self.request.user, object_type="audit", object_id="", path=self.request.path)
        params = self.request.query_params
        return selectors.audit_entries_filtered(
            actor=params.get("actor", ""),
            action=params.get("action", "") if params.get("action", "") in AuditAction.values else "",
            warrant_ref=params.get("warrant", ""),
        )
