import json

from django.contrib.auth import get_user_model
from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from warrantdesk.api import LoggedIn

from . import selectors, services
from .models import Agency, Warrant
from .permissions import deny
from .serializers import (
    AgencySerializer,
    AssignSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    EventSerializer,
    TransitionSerializer,
    WarrantCreateSerializer,
    WarrantDetailSerializer,
    WarrantListSerializer,
)
from .services import TargetInput
from .workflow import Status


def _not_found(request: Request, object_type: str, pk) -> NotFound:
    deny(request.user, object_type=object_type, object_id=pk, path=request.path)
    return NotFound("Not found.")


class WarrantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Warrants assigned to the caller (all of them for administrators)."""

    permission_classes = [LoggedIn]
    queryset = Warrant.objects.none()  # replaced per request; keeps the schema generator happy

    def get_queryset(self):
        params = self.request.query_params
        return (
            selectors.warrant_list_filtered(
                user=self.request.user,
                status=params.get("status", "") if params.get("status", "") in Status.values else "",
                agency_id=int(params["agency"]) if params.get("agency", "").isdigit() else None,
                overdue=params.get("overdue") == "1",
                emergency=params.get("emergency") == "1",
            )
            .select_related("created_by", "approved_by")
            .order_by("deadline", "pk")
        )

    def get_serializer_class(self):
        if self.action == "list":
            return WarrantListSerializer
        if self.action == "create":
            return WarrantCreateSerializer
        return WarrantDetailSerializer

    def get_object(self) -> Warrant:
        warrant = selectors.warrant_get_visible(user=self.request.user, pk=self.kwargs["pk"])
        if warrant is None:
            raise _not_found(self.request, "warrant", self.kwargs["pk"])
        return warrant

    @extend_schema(request=WarrantCreateSerializer, responses={201: WarrantDetailSerializer})
    def create(self, request: Request) -> Response:
        data = request.data
        if hasattr(data, "getlist") and isinstance(data.get("targets"), str):
            # Multipart: nested targets arrive as a JSON string next to the file.
            data = {key: data.get(key) for key in data}
            try:
                data["targets"] = json.loads(data["targets"])
            except json.JSONDecodeError as exc:
                raise ValidationError({"targets": "Send targets as a JSON list."}) from exc
            data.update({key: request.FILES[key] for key in request.FILES})
        serializer = WarrantCreateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        targets = [TargetInput(t["kind"], t["identifier"]) for t in fields.pop("targets")]
        upload = fields.pop("document", None)
        warrant = services.warrant_register(actor=request.user, targets=targets, upload=upload, **fields)
        warrant = selectors.warrant_get_visible(user=request.user, pk=warrant.pk)
        return Response(WarrantDetailSerializer(warrant).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=DocumentUploadSerializer, responses={200: DocumentSerializer(many=True), 201: DocumentSerializer}
    )
    @action(detail=True, methods=["get", "post"])
    def documents(self, request: Request, pk=None) -> Response:
        warrant = self.get_object()
        if request.method == "GET":
            return Response(DocumentSerializer(warrant.documents.select_related("uploaded_by"), many=True).data)
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = services.document_upload(
            warrant=warrant,
            upload=serializer.validated_data["file"],
            kind=serializer.validated_data["kind"],
            actor=request.user,
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TransitionSerializer, responses={200: WarrantDetailSerializer})
    @action(detail=True, methods=["post"])
    def transitions(self, request: Request, pk=None) -> Response:
        warrant = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.warrant_transition(warrant=warrant, actor=request.user, **serializer.validated_data)
        return Response(WarrantDetailSerializer(selectors.warrant_get_visible(user=request.user, pk=pk)).data)

    @extend_schema(responses={200: EventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk=None) -> Response:
        warrant = self.get_object()
        return Response(EventSerializer(warrant.events.select_related("actor"), many=True).data)

    @extend_schema(request=AssignSerializer, responses={204: None})
    @action(detail=True, methods=["post"])
    def officers(self, request: Request, pk=None) -> Response:
        warrant = self.get_object()
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        officer = get_user_model().objects.filter(username=serializer.validated_data["username"]).first()
        if officer is None:
            raise ValidationError({"username": "No such user."})
        services.warrant_assign(warrant=warrant, user=officer, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentViewSet(viewsets.GenericViewSet):
    permission_classes = [LoggedIn]
    queryset = Warrant.objects.none()
    serializer_class = DocumentSerializer

    @extend_schema(responses={(200, "application/pdf"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk=None) -> FileResponse:
        document = selectors.document_get_visible(user=request.user, pk=pk)
        if document is None:
            raise _not_found(request, "document", pk)
        handle = services.document_open(document=document, actor=request.user)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"{document.warrant.reference}-{document.pk}.pdf",
            content_type="application/pdf",
        )


class AgencyViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [LoggedIn]
    queryset = Agency.objects.filter(active=True)
    serializer_class = AgencySerializer
