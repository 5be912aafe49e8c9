from rest_framework import serializers

from .models import Agency, Document, Warrant, WarrantEvent, WarrantTarget
from .workflow import Status


class AgencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "code", "name", "kind", "contact_email", "active"]


class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = WarrantTarget
        fields = ["kind", "identifier"]


class DocumentSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "kind",
            "original_name",
            "sha256",
            "size",
            "content_type",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]

    def get_download_url(self, document: Document) -> str:
        return f"/api/v1/documents/{document.pk}/download/"


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = WarrantEvent
        fields = ["from_status", "to_status", "actor", "at", "note"]


class WarrantListSerializer(serializers.ModelSerializer):
    agency = serializers.SlugRelatedField(slug_field="code", read_only=True)
    target_count = serializers.IntegerField(read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Warrant
        fields = [
            "id",
            "reference",
            "agency",
            "warrant_number",
            "court",
            "case_number",
            "kind",
            "status",
            "received_at",
            "deadline",
            "is_overdue",
            "target_count",
        ]


class WarrantDetailSerializer(WarrantListSerializer):
    targets = TargetSerializer(many=True, read_only=True)
    documents = DocumentSerializer(many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta(WarrantListSerializer.Meta):
        fields = [
            *WarrantListSerializer.Meta.fields,
            "legal_basis",
            "received_via",
            "period_start",
            "period_end",
            "rooms",
            "notes",
            "targets",
            "documents",
            "created_by",
            "created_at",
            "verified_at",
            "approved_by",
            "approved_at",
            "closed_at",
        ]


class WarrantCreateSerializer(serializers.Serializer):
    """Input for logging a warrant. Send JSON, or multipart with ``document`` and ``targets`` as JSON text."""

    agency = serializers.SlugRelatedField(slug_field="code", queryset=Agency.objects.filter(active=True))
    warrant_number = serializers.CharField(max_length=100)
    court = serializers.CharField(max_length=200)
    case_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    legal_basis = serializers.CharField(max_length=300)
    kind = serializers.ChoiceField(choices=Warrant.Kind.choices, default=Warrant.Kind.ORDINARY)
    received_at = serializers.DateTimeField()
    received_via = serializers.ChoiceField(choices=Warrant.Via.choices, default=Warrant.Via.API)
    deadline = serializers.DateTimeField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    rooms = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    targets = TargetSerializer(many=True, allow_empty=False)
    document = serializers.FileField(required=False, help_text="The warrant document (PDF).")

    def validate(self, data):
        if data["period_start"] >= data["period_end"]:
            raise serializers.ValidationError({"period_end": "The period must end after it starts."})
        return data


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=Document.Kind.choices, default=Document.Kind.WARRANT)


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=Status.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AssignSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
