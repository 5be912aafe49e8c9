"""The REST representation of follow-up requests: what callers send and what they get back."""

from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from requests_app.dates import receipt_errors
from requests_app.models import NOTE_MAX_LENGTH, FollowUpDecision, FollowUpRequest, FollowUpToken, Warrant
from requests_app.serializers import DocumentSerializer, SignatureCheckSerializer
from requests_app.services import latest_signature_check

from ..api import ExportSerializer
from .services import fishing_warnings, followup_signature_gate


class FollowUpTokenInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200, help_text="A pseudonym of the delivered export (p1.…).")
    justification = serializers.CharField(
        max_length=NOTE_MAX_LENGTH, help_text="Why this person matters to the investigation."
    )


class FollowUpCreateSerializer(serializers.Serializer):
    """Input for logging a follow-up request: multipart with ``document`` and ``tokens`` as JSON text."""

    document = serializers.FileField(help_text="The request, signed by a chief investigator of the agency (PDF).")
    signature = serializers.FileField(required=False, help_text="A detached CMS signature (.p7s) over the PDF.")
    received_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField()
    tokens = FollowUpTokenInputSerializer(many=True, allow_empty=False)

    def validate(self, data):
        if errors := receipt_errors(received_at=data["received_at"], deadline=data["deadline"], what="request"):
            raise serializers.ValidationError(errors)
        return data


class FollowUpTokenSerializer(serializers.ModelSerializer):
    validity_display = serializers.CharField(source="get_validity_display", read_only=True)

    class Meta:
        model = FollowUpToken
        fields = [
            "id",
            "position",
            "token",
            "justification",
            "validity",
            "validity_display",
            "validity_reason",
            "decision",
        ]


class FollowUpDecisionSerializer(serializers.ModelSerializer):
    """One reviewer's decision on one pseudonym (never the identity behind it)."""

    position = serializers.IntegerField(source="token.position", read_only=True)
    reviewer: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = FollowUpDecision
        fields = ["token", "position", "reviewer", "approve", "reason", "at"]


class FollowUpListSerializer(serializers.ModelSerializer):
    warrant: "serializers.SlugRelatedField[Warrant]" = serializers.SlugRelatedField(
        slug_field="reference", read_only=True
    )
    created_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    token_count = serializers.IntegerField(read_only=True)
    approved_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = FollowUpRequest
        fields = [
            "id",
            "reference",
            "warrant",
            "status",
            "received_at",
            "deadline",
            "created_by",
            "created_at",
            "decided_at",
            "token_count",
            "approved_count",
        ]


class FollowUpSerializer(serializers.ModelSerializer):
    warrant: "serializers.SlugRelatedField[Warrant]" = serializers.SlugRelatedField(
        slug_field="reference", read_only=True
    )
    created_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    document = DocumentSerializer(read_only=True, allow_null=True)  # the model allows none
    signature = serializers.SerializerMethodField(help_text="The latest check of the request's signature.")
    gate = serializers.SerializerMethodField(
        help_text="Why reviewers cannot decide yet; empty when the signature is valid."
    )
    tokens = FollowUpTokenSerializer(many=True, read_only=True)
    decisions = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField(help_text="Fishing-request warnings for the reviewers.")
    identity_sheets = serializers.SerializerMethodField(help_text="The identity sheet exports, newest first.")

    class Meta:
        model = FollowUpRequest
        fields = [
            "id",
            "reference",
            "warrant",
            "status",
            "received_at",
            "deadline",
            "created_by",
            "created_at",
            "decided_at",
            "document",
            "signature",
            "gate",
            "tokens",
            "decisions",
            "warnings",
            "identity_sheets",
        ]

    @extend_schema_field(SignatureCheckSerializer(allow_null=True))
    def get_signature(self, follow_up: FollowUpRequest):
        check = latest_signature_check(follow_up.document)
        return SignatureCheckSerializer(check).data if check else None

    def get_gate(self, follow_up: FollowUpRequest) -> str:
        return followup_signature_gate(follow_up)

    @extend_schema_field(FollowUpDecisionSerializer(many=True))
    def get_decisions(self, follow_up: FollowUpRequest):
        decisions = FollowUpDecision.objects.filter(token__request=follow_up).select_related("token", "reviewer")
        return FollowUpDecisionSerializer(decisions.order_by("at", "pk"), many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, follow_up: FollowUpRequest) -> list[str]:
        return fishing_warnings(follow_up)

    @extend_schema_field(ExportSerializer(many=True))
    def get_identity_sheets(self, follow_up: FollowUpRequest):
        sheets = follow_up.exports.select_related("warrant", "requested_by").order_by("-pk")
        return ExportSerializer(sheets, many=True).data


class FollowUpDecisionItemSerializer(serializers.Serializer):
    token = serializers.IntegerField(help_text="The id of a pending pseudonym of this request.")
    decision = serializers.ChoiceField(choices=[("approve", "Approve"), ("refuse", "Refuse")])
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH, help_text="Required to refuse."
    )

    def validate(self, data):
        if data["decision"] == "refuse" and not data["reason"].strip():
            raise serializers.ValidationError({"reason": "Give the reason for refusing."})
        return data


class FollowUpDecideSerializer(serializers.Serializer):
    """One reviewer's decision on every pending pseudonym of the request."""

    decisions = FollowUpDecisionItemSerializer(many=True, allow_empty=False)

    def validate_decisions(self, items):
        tokens = [item["token"] for item in items]
        if len(tokens) != len(set(tokens)):
            raise serializers.ValidationError(_("Decide on each pseudonym once."))
        return items
