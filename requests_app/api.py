import datetime as dt
import json

from django.contrib.auth import get_user_model
from django.http import FileResponse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from warrantdesk.access import acting_user, deny
from warrantdesk.api import LoggedIn
from warrantdesk.params import api_filter_form, openapi_parameters, parse_id

from . import duplicates, registry, selectors, services
from .filters import WarrantFilterForm
from .models import Agency, Investigator, Warrant
from .serializers import (
    AgencySerializer,
    AssignSerializer,
    CertificateInputSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    EventSerializer,
    InvestigatorCreateSerializer,
    InvestigatorSerializer,
    InvestigatorUpdateSerializer,
    PreservationOrderInputSerializer,
    PreservationOrderSerializer,
    SignatureCheckSerializer,
    TransitionSerializer,
    TrustAnchorSerializer,
    WarrantCreateSerializer,
    WarrantDetailSerializer,
    WarrantListSerializer,
)
from .services import TargetInput


def _not_found(request: Request, object_type: str, pk) -> NotFound:
    deny(request.user, object_type=object_type, object_id=pk, path=request.path)
    return NotFound("Not found.")


class WarrantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Warrants assigned to the caller (all of them for administrators)."""

    permission_classes = [LoggedIn]
    queryset = Warrant.objects.none()  # replaced per request; keeps the schema generator happy
    filter_form = WarrantFilterForm

    def get_queryset(self):
        if self.action != "list":
            return selectors.warrant_list_visible_to(user=self.request.user)
        form = api_filter_form(self.filter_form, self.request.query_params)
        return (
            selectors.warrant_list_filtered(user=self.request.user, **form.filters())
            .select_related("created_by", "approved_by")
            .order_by(form.ordering(), "pk")
        )

    @extend_schema(parameters=openapi_parameters(WarrantFilterForm))
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

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
        if isinstance(data, MultiValueDict) and isinstance(data.get("targets"), str):
            # Multipart: nested targets arrive as a JSON string next to the file.
            data = {key: data.get(key) for key in data}
            try:
                data["targets"] = json.loads(data["targets"])
            except ValueError as exc:  # JSONDecodeError, or a number too long to convert
                raise ValidationError({"targets": "Send targets as a JSON list."}) from exc
            data.update({key: request.FILES[key] for key in request.FILES})
        serializer = WarrantCreateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        targets = [TargetInput(t["kind"], t["identifier"]) for t in fields.pop("targets")]
        upload = fields.pop("document", None)
        signature = fields.pop("signature", None)
        try:
            warrant = services.warrant_register(
                actor=request.user, targets=targets, upload=upload, signature_upload=signature, **fields
            )
        except duplicates.PossibleDuplicate as warning:
            return _possible_duplicate(warning)
        shown = selectors.warrant_get_visible(user=request.user, pk=warrant.pk)  # as the caller sees it now
        return Response(
            WarrantDetailSerializer(shown, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=DocumentUploadSerializer, responses={200: DocumentSerializer(many=True), 201: DocumentSerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def documents(self, request: Request, pk=None) -> Response:
        warrant = self.get_object()
        if request.method == "GET":
            documents = warrant.documents.select_related("uploaded_by", "warrant__agency")
            return Response(DocumentSerializer(documents, many=True, context={"request": request}).data)
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            document = services.document_upload(
                warrant=warrant,
                upload=serializer.validated_data["file"],
                kind=serializer.validated_data["kind"],
                signature_upload=serializer.validated_data.get("signature"),
                actor=request.user,
                confirm_duplicate=serializer.validated_data["confirm_duplicate"],
            )
        except duplicates.PossibleDuplicate as warning:
            return _possible_duplicate(warning)
        return Response(DocumentSerializer(document, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PreservationOrderInputSerializer,
        responses={200: PreservationOrderSerializer(many=True), 201: PreservationOrderSerializer},
        description="GET: the warrant's preservation orders, furthest first. POST (multipart): record an agency's "
        "order with its PDF; the destruction of the warrant's keys then waits until the end of ``until``. "
        "Once the keys were destroyed: 409 (nothing left to preserve).",
    )
    @action(detail=True, methods=["get", "post"], url_path="preservation-orders", pagination_class=None)
    def preservation_orders(self, request: Request, pk=None) -> Response:
        warrant = self.get_object()
        context = {"request": request}
        if request.method == "GET":
            orders = warrant.preservation_orders.select_related("document__uploaded_by", "recorded_by")
            return Response(PreservationOrderSerializer(orders, many=True, context=context).data)
        serializer = PreservationOrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = services.preservation_order_record(
            warrant=warrant,
            actor=request.user,
            upload=data["file"],
            until=timezone.make_aware(dt.datetime.combine(data["until"], dt.time.max)),
            note=data["note"],
        )
        return Response(PreservationOrderSerializer(order, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: SignatureCheckSerializer(many=True), 202: DocumentSerializer},
        description="GET: every signature check of the warrant's own documents (not of its follow-up requests), "
        "newest first. POST: check the current warrant document again (in the background), e.g. after a "
        "registry change.",
    )
    @action(detail=True, methods=["get", "post"], url_path="signature-checks", pagination_class=None)
    def signature_checks(self, request: Request, pk=None) -> Response:
        warrant = self.get_object()
        if request.method == "POST":
            document = services.warrant_recheck_signature(warrant=warrant, actor=request.user)
            return Response(DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)
        checks = selectors.warrant_signature_checks(warrant=warrant)
        return Response(SignatureCheckSerializer(checks, many=True).data)

    @extend_schema(request=TransitionSerializer, responses={200: WarrantDetailSerializer})
    @action(detail=True, methods=["post"])
    def transitions(self, request: Request, pk=None) -> Response:
        warrant = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.warrant_transition(warrant=warrant, actor=request.user, **serializer.validated_data)
        shown = selectors.warrant_get_visible(user=request.user, pk=pk)  # as the caller sees it now
        return Response(WarrantDetailSerializer(shown, context={"request": request}).data)

    @extend_schema(responses={200: EventSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
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


def _possible_duplicate(warning: duplicates.PossibleDuplicate) -> Response:
    """409 naming the possible duplicates (ids and references only of cases the caller may see);
    sending the same request again with ``confirm_duplicate: true`` logs it anyway."""
    return Response(
        {
            "detail": warning.message,
            "code": warning.code,
            "duplicates": [duplicate.as_dict() for duplicate in warning.duplicates],
        },
        status=status.HTTP_409_CONFLICT,
    )


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


def _registry_admin(request: Request) -> bool:
    return request.user.has_perm("requests_app.change_agency")


class AgencyViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Agencies (everyone signed in may list them); administrators manage them and their anchors."""

    permission_classes = [LoggedIn]
    queryset = Agency.objects.filter(active=True)
    serializer_class = AgencySerializer

    def get_object(self) -> Agency:
        agency = Agency.objects.filter(pk=self.kwargs["pk"]).first() if parse_id(self.kwargs["pk"]) else None
        if agency is None or not _registry_admin(self.request):
            raise _not_found(self.request, "agency", self.kwargs["pk"])
        return agency

    @extend_schema(request=AgencySerializer, responses={201: AgencySerializer})
    def create(self, request: Request) -> Response:
        serializer = AgencySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agency = registry.agency_save(actor=acting_user(request), **serializer.validated_data)
        return Response(AgencySerializer(agency).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AgencySerializer})
    def retrieve(self, request: Request, pk=None) -> Response:
        return Response(AgencySerializer(self.get_object()).data)

    @extend_schema(
        request=CertificateInputSerializer,
        responses={200: TrustAnchorSerializer(many=True), 201: TrustAnchorSerializer(many=True)},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def anchors(self, request: Request, pk=None) -> Response:
        """GET: the agency's trust anchors. POST: add CA certificate(s) (PEM bundle or DER)."""
        agency = self.get_object()
        if request.method == "POST":
            serializer = CertificateInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            added = registry.anchor_add(
                agency=agency, certificate=serializer.certificate_bytes(), actor=acting_user(request)
            )
            return Response(TrustAnchorSerializer(added, many=True).data, status=status.HTTP_201_CREATED)
        return Response(TrustAnchorSerializer(agency.anchors.all(), many=True).data)


class InvestigatorViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The registry of investigators, for administrators."""

    permission_classes = [LoggedIn]
    serializer_class = InvestigatorSerializer
    queryset = Investigator.objects.none()

    def get_queryset(self):
        if not _registry_admin(self.request):
            raise _not_found(self.request, "investigator", self.kwargs.get("pk", ""))
        return Investigator.objects.select_related("agency").order_by("agency__code", "name")

    def get_object(self) -> Investigator:
        investigator = self.get_queryset().filter(pk=self.kwargs["pk"]).first() if parse_id(self.kwargs["pk"]) else None
        if investigator is None:
            raise _not_found(self.request, "investigator", self.kwargs["pk"])
        return investigator

    @extend_schema(request=InvestigatorCreateSerializer, responses={201: InvestigatorSerializer})
    def create(self, request: Request) -> Response:
        self.get_queryset()
        serializer = InvestigatorCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        investigator = registry.investigator_register(
            agency=data["agency"],
            certificate=serializer.certificate_bytes(),
            name=data["name"],
            title=data["title"],
            is_chief=data["is_chief"],
            actor=acting_user(request),
            valid_at=data["valid_at"],
        )
        return Response(InvestigatorSerializer(investigator).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: InvestigatorSerializer})
    def retrieve(self, request: Request, pk=None) -> Response:
        return Response(InvestigatorSerializer(self.get_object()).data)

    @extend_schema(request=InvestigatorUpdateSerializer, responses={200: InvestigatorSerializer})
    def partial_update(self, request: Request, pk=None) -> Response:
        investigator = self.get_object()
        serializer = InvestigatorUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        investigator = registry.investigator_update(
            investigator=investigator, actor=acting_user(request), **serializer.validated_data
        )
        return Response(InvestigatorSerializer(investigator).data)
