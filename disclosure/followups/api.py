"""The follow-up requests on the REST API: a warrant's requests (list, log one) and one request
(read, the reviewers' decisions, a new signature check)."""

import json

from django.db.models import Count, Q
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from requests_app import selectors
from requests_app.models import FollowUpRequest, FollowUpToken
from requests_app.shortcuts import warrant_or_404
from warrantdesk.access import acting_user, deny
from warrantdesk.api_permissions import LoggedIn
from warrantdesk.openapi import WARRANT_ID
from warrantdesk.params import parse_id

from . import services
from .serializers import (
    FollowUpCreateSerializer,
    FollowUpDecideSerializer,
    FollowUpDecisionSerializer,
    FollowUpListSerializer,
    FollowUpSerializer,
)


@extend_schema(parameters=[WARRANT_ID])
class WarrantFollowUpsView(APIView):
    """``/api/v1/warrants/<id>/follow-ups/``: the follow-up requests of one warrant the caller may see."""

    permission_classes = [LoggedIn]

    @extend_schema(
        responses={200: FollowUpListSerializer(many=True)},
        description="The warrant's follow-up requests, newest first.",
    )
    def get(self, request: Request, pk) -> Response:
        warrant = warrant_or_404(request, pk)
        follow_ups = warrant.follow_ups.select_related("warrant", "created_by").annotate(
            token_count=Count("tokens"),
            approved_count=Count("tokens", filter=Q(tokens__decision=FollowUpToken.Decision.APPROVED)),
        )
        return Response(FollowUpListSerializer(follow_ups.order_by("-received_at", "-pk"), many=True).data)

    @extend_schema(
        request={"multipart/form-data": FollowUpCreateSerializer},
        responses={201: FollowUpSerializer},
        description="Log a follow-up "
        "request with its signed document (``document``), ``received_at``, ``deadline`` and ``tokens`` as JSON "
        'text: ``[{"token": "p1.…", "justification": "why this person matters"}, …]``. Each pseudonym is '
        "checked at once; an invalid one is refused with its reason, the others go to review once the "
        "signature is verified (in the background).",
    )
    def post(self, request: Request, pk) -> Response:
        warrant = warrant_or_404(request, pk)
        data = request.data
        if isinstance(data, MultiValueDict) and isinstance(data.get("tokens"), str):
            # Multipart: the list of pseudonyms arrives as a JSON string next to the file.
            data = {key: data.get(key) for key in data}
            try:
                data["tokens"] = json.loads(data["tokens"])
            except ValueError as exc:  # JSONDecodeError, or a number too long to convert
                raise ValidationError({"tokens": "Send tokens as a JSON list."}) from exc
            data.update({key: request.FILES[key] for key in request.FILES})
        serializer = FollowUpCreateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        follow_up = services.followup_register(
            warrant=warrant,
            actor=acting_user(request),
            tokens=[services.TokenInput(item["token"], item["justification"]) for item in fields["tokens"]],
            upload=fields["document"],
            signature_upload=fields.get("signature"),
            received_at=fields["received_at"],
            deadline=fields["deadline"],
        )
        return Response(FollowUpSerializer(_followup_visible(request, follow_up.pk)).data, status=201)


def _followup_visible(request: Request, pk) -> FollowUpRequest:
    follow_up = (
        FollowUpRequest.objects.select_related("warrant__agency", "document", "created_by").filter(pk=pk).first()
        if parse_id(pk)
        else None
    )
    if follow_up is None or selectors.warrant_get_visible(user=request.user, pk=follow_up.warrant_id) is None:
        raise deny(request.user, object_type="follow-up", object_id=pk, path=request.path)
    return follow_up


class FollowUpViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Follow-up de-anonymisation requests of the warrants assigned to the caller."""

    permission_classes = [LoggedIn]
    queryset = FollowUpRequest.objects.none()
    serializer_class = FollowUpSerializer

    def get_object(self) -> FollowUpRequest:
        return _followup_visible(self.request, self.kwargs["pk"])

    @extend_schema(
        methods=["GET"],
        responses={200: FollowUpDecisionSerializer(many=True)},
        description="The reviewers' decisions so far, oldest first.",
    )
    @extend_schema(
        methods=["POST"],
        request=FollowUpDecideSerializer,
        responses={200: FollowUpSerializer},
        description="The caller's decision, as a reviewer assigned to "
        "the warrant who did not log the request, on every pending pseudonym: "
        '``{"decisions": [{"token": <id>, "decision": "approve"}, {"token": <id>, "decision": "refuse", '
        '"reason": "…"}]}``. A pseudonym is approved when two different reviewers approve it, refused as soon '
        "as one refuses it. Once every pseudonym is decided, the identity sheet of the approved ones is built "
        "in the background (see ``identity_sheets``).",
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def decisions(self, request: Request, pk=None) -> Response:
        follow_up = self.get_object()
        if request.method == "GET":
            return Response(FollowUpSerializer().get_decisions(follow_up))
        serializer = FollowUpDecideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decisions = {
            item["token"]: (item["decision"] == "approve", item["reason"])
            for item in serializer.validated_data["decisions"]
        }
        services.followup_decide(request=follow_up, reviewer=acting_user(request), decisions=decisions)
        return Response(FollowUpSerializer(_followup_visible(request, pk)).data)

    @extend_schema(
        request=None,
        responses={200: FollowUpSerializer},
        description="Check the request's signature again with the registry as it is now (after an investigator "
        "was registered or made chief). A valid verdict sends a request whose signature had failed to review; "
        "409 once the request is past that point.",
    )
    @action(detail=True, methods=["post"], url_path="recheck-signature")
    def recheck_signature(self, request: Request, pk=None) -> Response:
        services.followup_recheck_signature(request=self.get_object(), actor=acting_user(request))
        return Response(FollowUpSerializer(_followup_visible(request, pk)).data)
