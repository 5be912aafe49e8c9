from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .dates import receipt_errors, warning_message
from .duplicates import of_document, of_warrant
from .models import (
    NOTE_MAX_LENGTH,
    Agency,
    Document,
    Investigator,
    PreservationOrder,
    SignatureCheck,
    TrustAnchor,
    Warrant,
    WarrantEvent,
    WarrantTarget,
)
from .services import current_warrant_document, latest_signature_check, signature_gate
from .verification import EXPLANATIONS
from .workflow import Status


class AgencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "code", "name", "kind", "contact_email", "active"]
        read_only_fields = ["id", "active"]


class TrustAnchorSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrustAnchor
        fields = ["id", "subject", "certificate_sha256", "not_after", "active", "added_at", "certificate_pem"]


class CertificateInputSerializer(serializers.Serializer):
    """A certificate as an uploaded file (PEM or DER) or as PEM text."""

    certificate = serializers.FileField(required=False)
    certificate_pem = serializers.CharField(required=False, allow_blank=False)

    def validate(self, data):
        if not data.get("certificate") and not data.get("certificate_pem"):
            raise serializers.ValidationError(
                _("Send the certificate as a file (certificate) or PEM (certificate_pem).")
            )
        return data

    def certificate_bytes(self) -> bytes:
        upload = self.validated_data.get("certificate")
        return upload.read() if upload else self.validated_data["certificate_pem"].encode()


class InvestigatorSerializer(serializers.ModelSerializer):
    agency: "serializers.SlugRelatedField[Agency]" = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Investigator
        fields = [
            "id",
            "agency",
            "name",
            "title",
            "is_chief",
            "active",
            "certificate_subject",
            "certificate_sha256",
            "certificate_not_after",
            "certificate_valid_at",
        ]
        read_only_fields = fields


class InvestigatorCreateSerializer(CertificateInputSerializer):
    agency = serializers.SlugRelatedField(slug_field="code", queryset=Agency.objects.all())
    name = serializers.CharField(max_length=200)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    is_chief = serializers.BooleanField(default=False)
    valid_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Validate the certificate's chain as of this past moment instead of now: for warrants received "
        "while a certificate that has since expired was valid. Recorded as certificate_valid_at.",
    )


class InvestigatorUpdateSerializer(serializers.Serializer):
    is_chief = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)


class SignatureCheckSerializer(serializers.ModelSerializer):
    outcome_display = serializers.CharField(source="get_outcome_display", read_only=True)
    explanation = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()
    investigator: "serializers.SlugRelatedField[Investigator]" = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    checked_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = SignatureCheck
        fields = [
            "id",
            "document",
            "outcome",
            "outcome_display",
            "explanation",
            "signer_subject",
            "signer_fingerprint",
            "signing_time",
            "timestamp",
            "validated_at",
            "investigator",
            "reasons",
            "revocation_checked",
            "signatures",
            "warnings",
            "checked_by",
            "checked_at",
        ]

    def get_explanation(self, check: SignatureCheck) -> str:
        return str(EXPLANATIONS[check.outcome])

    @extend_schema_field(
        serializers.ListField(
            child=serializers.DictField(),
            help_text="Facts the reader must see, e.g. a signature made after the document was received: "
            '{"code": "signed_after_receipt" | "timestamped_after_receipt", "signature", "signing_time", '
            '"received_at", "message"}.',
        )
    )
    def get_warnings(self, check: SignatureCheck) -> list[dict]:
        return [{**warning, "message": warning_message(warning)} for warning in check.warnings or ()]


class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = WarrantTarget
        fields = ["kind", "identifier"]


class TargetInputSerializer(serializers.Serializer):
    """One target to log: both fields required (the model's default kind is no reason to guess one)."""

    kind = serializers.ChoiceField(choices=WarrantTarget.Kind.choices)
    identifier = serializers.CharField(max_length=200)


class DuplicateSerializer(serializers.Serializer):
    """Another warrant this one may duplicate. ``warrant`` and ``reference`` are null when the caller is
    not assigned to that case: its existence is told, nothing about it."""

    reason = serializers.ChoiceField(
        choices=[("warrant_number", "Same agency and warrant number"), ("document", "Same file")]
    )
    warrant = serializers.IntegerField(allow_null=True)
    reference = serializers.CharField(allow_null=True)
    assigned = serializers.BooleanField()


def _viewer(serializer: serializers.Serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


class DocumentSerializer(serializers.ModelSerializer):
    uploaded_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    download_url = serializers.SerializerMethodField()
    duplicates = serializers.SerializerMethodField(help_text="Other warrants holding the same file (SHA-256).")

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
            "duplicates",
        ]

    def get_download_url(self, document: Document) -> str:
        return f"/api/v1/documents/{document.pk}/download/"

    @extend_schema_field(DuplicateSerializer(many=True))
    def get_duplicates(self, document: Document) -> list[dict]:
        return [duplicate.as_dict() for duplicate in of_document(document, user=_viewer(self))]


class EventSerializer(serializers.ModelSerializer):
    actor: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = WarrantEvent
        fields = ["from_status", "to_status", "actor", "at", "note"]


class WarrantListSerializer(serializers.ModelSerializer):
    agency: "serializers.SlugRelatedField[Agency]" = serializers.SlugRelatedField(slug_field="code", read_only=True)
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
    created_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    approved_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    signature = serializers.SerializerMethodField(help_text="The latest check of the current warrant document.")
    gate = serializers.SerializerMethodField(help_text="Why approval/export is blocked; empty when allowed.")
    duplicates = serializers.SerializerMethodField(
        help_text="Possible duplicates: other warrants of the agency with the same warrant number, or holding one "
        "of this warrant's files."
    )

    class Meta(WarrantListSerializer.Meta):
        fields = [
            *WarrantListSerializer.Meta.fields,
            "signature",
            "gate",
            "duplicates",
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

    @extend_schema_field(SignatureCheckSerializer(allow_null=True))
    def get_signature(self, warrant: Warrant):
        check = _signature_of(warrant)
        return SignatureCheckSerializer(check).data if check else None

    def get_gate(self, warrant: Warrant) -> str:
        return signature_gate(warrant)

    @extend_schema_field(DuplicateSerializer(many=True))
    def get_duplicates(self, warrant: Warrant) -> list[dict]:
        return [duplicate.as_dict() for duplicate in of_warrant(warrant, user=_viewer(self))]


def _signature_of(warrant: Warrant):
    return latest_signature_check(current_warrant_document(warrant))


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
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)
    targets = TargetInputSerializer(many=True, allow_empty=False)
    document = serializers.FileField(required=False, help_text="The warrant document (PDF).")
    signature = serializers.FileField(required=False, help_text="A detached CMS signature (.p7s) over the PDF.")
    confirm_duplicate = serializers.BooleanField(
        default=False,
        help_text="Log it although the same agency and warrant number, or the same file, is already logged "
        "(after a 409 possible_duplicate answer, once checked).",
    )

    def validate(self, data):
        errors = receipt_errors(received_at=data["received_at"], deadline=data["deadline"])
        if data["period_start"] >= data["period_end"]:
            errors["period_end"] = "The period must end after it starts."
        if errors:
            raise serializers.ValidationError(errors)
        return data


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    signature = serializers.FileField(required=False, help_text="A detached CMS signature (.p7s) over the PDF.")
    kind = serializers.ChoiceField(choices=Document.Kind.choices, default=Document.Kind.WARRANT)
    confirm_duplicate = serializers.BooleanField(
        default=False,
        help_text="Upload it although the same file is attached to another warrant (after a 409 possible_duplicate "
        "answer, once checked).",
    )


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=Status.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)


class AssignSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class PreservationOrderSerializer(serializers.ModelSerializer):
    document = DocumentSerializer(read_only=True)
    recorded_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = PreservationOrder
        fields = ["id", "until", "note", "document", "recorded_by", "recorded_at"]


class PreservationOrderInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The order as received (PDF).")
    until = serializers.DateField(help_text="The last day to preserve (kept to the end of that day, local time).")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)
