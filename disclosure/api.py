from django.contrib.auth.models import User
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from requests_app import selectors
from requests_app.models import Warrant
from requests_app.shortcuts import warrant_or_404
from warrantdesk.access import deny
from warrantdesk.api_permissions import LoggedIn
from warrantdesk.openapi import WARRANT_ID
from warrantdesk.params import parse_id

from . import keys, services
from .models import Delivery, DownloadLink, Export
from .retention import retention_gap
from .scope import warrant_scope


class ExportSerializer(serializers.ModelSerializer):
    warrant: "serializers.SlugRelatedField[Warrant]" = serializers.SlugRelatedField(
        slug_field="reference", read_only=True
    )
    requested_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    percent = serializers.IntegerField(read_only=True)
    download_url = serializers.SerializerMethodField()
    manifest_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "warrant",
            "kind",
            "follow_up",
            "status",
            "stage",
            "progress_done",
            "progress_total",
            "percent",
            "counts",
            "package_sha256",
            "package_size",
            "manifest_sha256",
            "purged_at",
            "error",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "download_url",
            "manifest_url",
        ]

    def get_download_url(self, export: Export) -> str | None:
        if export.status != Export.Status.READY or export.purged_at is not None:
            return None
        return f"/api/v1/exports/{export.pk}/download/"

    def get_manifest_url(self, export: Export) -> str | None:
        """The signed manifest, kept after the package itself was purged."""
        return f"/api/v1/exports/{export.pk}/manifest/" if export.manifest else None


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "channel", "recipient", "delivered_at", "package_sha256", "note", "recorded_at"]
        read_only_fields = ["id", "package_sha256", "recorded_at"]
        extra_kwargs = {"delivered_at": {"required": False}}

    def validate_delivered_at(self, value):
        """A hand-over happens in this system's lifetime, and not in the future (a few minutes of clock skew)."""
        import datetime as dt

        from django.utils import timezone

        since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        if value is not None and not (since <= value <= timezone.now() + dt.timedelta(minutes=5)):
            raise serializers.ValidationError("The time of the hand-over must be in the past, after 2000.")
        return value


class LinkInputSerializer(serializers.Serializer):
    recipient = serializers.CharField(max_length=200)
    hours = serializers.IntegerField(min_value=1, max_value=24 * 14, required=False)


class LinkSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True, help_text="Shown once: only its hash is stored.")

    class Meta:
        model = DownloadLink
        fields = ["id", "recipient", "expires_at", "url"]


class ExportViewSet(viewsets.GenericViewSet):
    """Exports of the warrants assigned to the caller."""

    permission_classes = [LoggedIn]
    serializer_class = ExportSerializer
    queryset = Export.objects.none()

    def get_object(self) -> Export:
        pk = self.kwargs["pk"]
        export = Export.objects.select_related("warrant").filter(pk=pk).first() if parse_id(pk) else None
        if export is None or selectors.warrant_get_visible(user=self.request.user, pk=export.warrant_id) is None:
            deny(self.request.user, object_type="export", object_id=pk, path=self.request.path)
            raise NotFound("Not found.")
        return export

    def retrieve(self, request: Request, pk=None) -> Response:
        """Status and progress (messages done / total) of one export."""
        return Response(ExportSerializer(self.get_object()).data)

    @extend_schema(responses={(200, "application/zip"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk=None) -> FileResponse:
        export = self.get_object()
        handle = services.export_open(export=export, actor=request.user)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=export.download_name,
            content_type="application/zip",
        )

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def manifest(self, request: Request, pk=None) -> HttpResponse:
        """The package's signed manifest.json as it was published (its SHA-256 is manifest_sha256); kept
        after the package was purged and after the warrant's keys were destroyed. Audited."""
        export = self.get_object()
        response = HttpResponse(
            services.export_manifest_open(export=export, actor=request.user),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{export.download_name.removesuffix(".zip")}-manifest.json"'
        )
        return response

    @extend_schema(request=DeliverySerializer, responses={201: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def deliveries(self, request: Request, pk=None) -> Response:
        """Record that the package was handed over; the warrant moves to delivered."""
        export = self.get_object()
        serializer = DeliverySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        delivery = services.export_record_delivery(export=export, actor=request.user, **serializer.validated_data)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LinkInputSerializer, responses={201: LinkSerializer})
    @action(detail=True, methods=["post"])
    def links(self, request: Request, pk=None) -> Response:
        """Issue a one-time download link for the agency's investigator (the URL is returned once)."""
        export = self.get_object()
        serializer = LinkInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link, token = services.export_issue_link(export=export, actor=request.user, **serializer.validated_data)
        link.url = request.build_absolute_uri(f"/d/{token}/")
        return Response(LinkSerializer(link).data, status=status.HTTP_201_CREATED)


class RetiredOperatorKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField(help_text="Always Ed25519.")
    public_key_pem = serializers.CharField(help_text="The retired public key, PEM (SubjectPublicKeyInfo).")
    fingerprint_sha256 = serializers.CharField(
        help_text="SHA-256 of the key's DER SubjectPublicKeyInfo, 64 hex digits."
    )
    fingerprint = serializers.CharField(help_text="The same fingerprint in groups of four hex digits, for people.")
    retired_on = serializers.DateField(allow_null=True, help_text="The day the key was retired, when recorded.")


class OperatorKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField(help_text="Always Ed25519.")
    public_key_pem = serializers.CharField(help_text="The operator's public key, PEM (SubjectPublicKeyInfo).")
    fingerprint_sha256 = serializers.CharField(
        help_text="SHA-256 of the key's DER SubjectPublicKeyInfo, 64 hex digits."
    )
    fingerprint = serializers.CharField(help_text="The same fingerprint in groups of four hex digits, for people.")
    retired_keys = RetiredOperatorKeySerializer(
        many=True,
        help_text="Keys the operator signed with before replacing its key (packages, identity sheets and "
        "reports signed before the change verify with them); empty when it never did.",
    )


class OperatorKeyView(APIView):
    """The key that signs every package's manifest: public (no account needed), for agencies to pin
    when they run ``verify_package.py --public-key`` or ``--fingerprint``. The keys it replaced are
    listed beside it (``retired_keys``), for packages signed before the change."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        responses={200: OperatorKeySerializer, 503: OpenApiResponse(description="No operator key is configured.")},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        try:
            public = keys.operator_public_key()
        except keys.KeyUnavailable as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        fingerprint = keys.public_key_fingerprint(public)
        retired = [key for key in keys.verification_keys() if not key.current]
        return Response(
            OperatorKeySerializer(
                {
                    "algorithm": "Ed25519",
                    "public_key_pem": keys.public_key_pem(public).decode(),
                    "fingerprint_sha256": fingerprint,
                    "fingerprint": keys.format_fingerprint(fingerprint),
                    "retired_keys": [
                        {
                            "algorithm": "Ed25519",
                            "public_key_pem": key.pem.decode(),
                            "fingerprint_sha256": key.fingerprint,
                            "fingerprint": key.fingerprint_grouped,
                            "retired_on": key.retired_on,
                        }
                        for key in retired
                    ],
                }
            ).data
        )


# --- a warrant's scope and exports (/api/v1/warrants/<id>/scope/ and .../exports/) ---------------------


class _ScopeTargetSerializer(serializers.Serializer):
    kind = serializers.CharField()
    identifier = serializers.CharField()
    account = serializers.CharField(required=False)


class _ScopeIntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class _ScopeRoomSerializer(serializers.Serializer):
    room = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    intervals = _ScopeIntervalSerializer(many=True)
    messages = serializers.IntegerField()
    participants = serializers.IntegerField()


class _RetentionGapSerializer(serializers.Serializer):
    retention_days = serializers.IntegerField(help_text="The store's retention when this was computed.")
    received_at = serializers.DateTimeField()
    horizon_at_receipt = serializers.DateTimeField(help_text="Receipt minus retention: older messages were deleted.")
    period_days = serializers.FloatField()
    days_before_receipt = serializers.FloatField(help_text="How long before receipt the period starts.")
    days_beyond_retention = serializers.FloatField(help_text="Days of the period that hold no data (beyond retention).")


class ScopeSerializer(serializers.Serializer):
    """Documentation of the scope preview (the response is built by the view)."""

    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    counts = serializers.DictField(child=serializers.IntegerField())
    targets = _ScopeTargetSerializer(many=True)
    unmatched = _ScopeTargetSerializer(many=True)
    rooms = _ScopeRoomSerializer(many=True)
    retention = _RetentionGapSerializer()


@extend_schema(parameters=[WARRANT_ID])
class WarrantScopeView(APIView):
    """What a warrant covers, before any export."""

    permission_classes = [LoggedIn]

    @extend_schema(
        responses={200: ScopeSerializer},
        description="What the warrant covers: rooms, messages, participants (counts only for non-targets), "
        "and target identifiers that match no account.",
    )
    def get(self, request: Request, pk) -> Response:
        warrant = warrant_or_404(request, pk)
        scope = warrant_scope(warrant)
        return Response(
            {
                "period_start": scope.warrant.period_start,
                "period_end": scope.warrant.period_end,
                "counts": {
                    "rooms": len(scope.rooms),
                    "messages": scope.message_count,
                    "participants": len(scope.participant_ids),
                    "targets": len(scope.target_accounts),
                    "non_targets": len(scope.non_target_ids),
                },
                "targets": [
                    {"kind": target.kind, "identifier": target.identifier, "account": account.uid}
                    for target, account in scope.matched
                ],
                "unmatched": [{"kind": target.kind, "identifier": target.identifier} for target in scope.unmatched],
                "rooms": [
                    {
                        "room": item.room.external_id,
                        "title": item.room.title,
                        "kind": item.room.kind,
                        "intervals": [{"start": i.start, "end": i.end} for i in item.intervals],
                        "messages": item.messages,
                        "participants": len(item.participants),
                    }
                    for item in scope.rooms
                ],
                "retention": retention_gap(warrant).as_dict(),
            }
        )


class ExportStartSerializer(serializers.Serializer):
    retry = serializers.BooleanField(required=False, default=False, help_text="Retry after a failure.")


@extend_schema(parameters=[WARRANT_ID])
class WarrantExportsView(APIView):
    """A warrant's conversation exports; POST starts one."""

    permission_classes = [LoggedIn]

    @extend_schema(responses={200: ExportSerializer(many=True)}, description="The warrant's exports, newest first.")
    def get(self, request: Request, pk) -> Response:
        warrant = warrant_or_404(request, pk)
        exports = warrant.exports.filter(kind="CONVERSATIONS").select_related("warrant", "requested_by")
        return Response(ExportSerializer(exports, many=True).data)

    @extend_schema(
        request=ExportStartSerializer,
        responses={202: ExportSerializer},
        description="Start an export of an approved warrant (send retry=true to retry after a failure or an "
        "interruption); it runs in the background: follow it at /api/v1/exports/<id>/.",
    )
    def post(self, request: Request, pk) -> Response:
        warrant = warrant_or_404(request, pk)
        data = request.data if isinstance(request.data, dict) else {}  # a JSON list asks for no retry
        retry = str(data.get("retry", "")).lower() in {"1", "true", "yes"}
        start = services.export_retry if retry else services.export_start
        export = start(warrant=warrant, actor=request.user)
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)
