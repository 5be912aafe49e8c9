from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, serializers, views, viewsets
from rest_framework.response import Response

from warrantdesk.access import deny

from . import checkpoints, selectors
from .api import LoggedIn
from .filters import AuditFilterForm
from .models import AuditEntry, Checkpoint
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


# --- signed checkpoints and proofs -------------------------------------------------------------------


def _auditor_only_api(request) -> None:
    if not request.user.has_perm(AUDIT_PERMISSION):
        raise deny(request.user, object_type="audit", object_id="", path=request.path)


def _positive_int(value: str | None, name: str) -> int:
    from rest_framework.exceptions import ValidationError

    if value is None or value == "":
        raise ValidationError({name: [f"Required: ?{name}=<a whole number of 1 or more>."]})
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) < 1:
        raise ValidationError({name: [f"Expected a whole number of 1 or more, not {value[:20]!r}."]})
    return int(value)


def _checkpoint(size: str) -> Checkpoint:
    """The checkpoint the address names: an address that names none (not a size, or no checkpoint of
    that size) is a 404 like every other malformed id; the query parameters get their 400."""
    from rest_framework.exceptions import NotFound

    if not size.isascii() or not size.isdigit() or len(size) > 18 or int(size) < 1:
        raise NotFound()
    checkpoint = Checkpoint.objects.filter(tree_size=int(size)).first()
    if checkpoint is None:
        raise NotFound()
    return checkpoint


class CheckpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Checkpoint
        fields = ["tree_size", "root_hash", "origin", "key_fingerprint", "created_at", "created_by", "note"]


class CheckpointListView(generics.ListAPIView):
    """Signed checkpoints of the audit log (C2SP signed notes), newest first. Auditors and administrators."""

    permission_classes = [LoggedIn]
    serializer_class = CheckpointSerializer

    def get_queryset(self):
        _auditor_only_api(self.request)
        return Checkpoint.objects.order_by("-tree_size")


class CheckpointDetailView(views.APIView):
    """One checkpoint by its tree size."""

    permission_classes = [LoggedIn]

    @extend_schema(responses=CheckpointSerializer)
    def get(self, request, size: str):
        _auditor_only_api(request)
        return Response(CheckpointSerializer(_checkpoint(size)).data)


class InclusionProofView(views.APIView):
    """``?entry=<seq>``: the proof that audit entry #seq is in this checkpoint, for verify_checkpoint.py."""

    permission_classes = [LoggedIn]

    @extend_schema(parameters=[OpenApiParameter("entry", int, required=True)], responses=OpenApiTypes.OBJECT)
    def get(self, request, size: str):
        _auditor_only_api(request)
        checkpoint = _checkpoint(size)
        seq = _positive_int(request.query_params.get("entry"), "entry")
        return Response(checkpoints.inclusion(checkpoint=checkpoint, seq=seq))


class ConsistencyProofView(views.APIView):
    """``?from=<size>``: the proof that the checkpoint of that size is a prefix of this one."""

    permission_classes = [LoggedIn]

    @extend_schema(parameters=[OpenApiParameter("from", int, required=True)], responses=OpenApiTypes.OBJECT)
    def get(self, request, size: str):
        _auditor_only_api(request)
        checkpoint = _checkpoint(size)
        older_size = _positive_int(request.query_params.get("from"), "from")
        older = Checkpoint.objects.filter(tree_size=older_size).first()
        if older is None:
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"from": [f"No checkpoint of {older_size} entries was signed."]})
        return Response(checkpoints.consistency(old=older, new=checkpoint))
