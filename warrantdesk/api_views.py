from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets

from warrantdesk.access import deny

from . import selectors
from .api import LoggedIn
from .filters import AuditFilterForm
from .models import AuditEntry
from .params import api_filter_form, openapi_parameters
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
    """The audit log, newest first, for auditors. Filters: actor, action, warrant, since, until."""

    permission_classes = [LoggedIn]
    serializer_class = AuditEntrySerializer
    queryset = AuditEntry.objects.none()
    filter_form = AuditFilterForm

    def get_queryset(self):
        if not self.request.user.has_perm(AUDIT_PERMISSION):
            raise deny(self.request.user, object_type="audit", object_id="", path=self.request.path)
        form = api_filter_form(self.filter_form, self.request.query_params)
        return selectors.audit_entries_filtered(**form.filters())

    @extend_schema(parameters=openapi_parameters(AuditFilterForm))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
