import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from warrantdesk.models import ChoiceLabels

from .dates import receipt_errors, warning_message
from .workflow import OPEN, Status

# The longest note, reason or justification a person may type, on a form or through the API (a
# validator there, not a column limit: the columns stay TextFields). Longer text is refused with a
# message, never cut; pages show the first part of a long note with "Show all".
NOTE_MAX_LENGTH = 4000


class Agency(models.Model):
    class Kind(models.TextChoices):
        PROSECUTION = "PROSECUTION", _("Prosecution")
        POLICE = "POLICE", _("Police")
        OTHER = "OTHER", _("Other")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.POLICE)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")

    def __str__(self) -> str:
        return self.name


class TrustAnchor(models.Model):
    """A CA certificate (root or intermediate) accepted for one agency's signatures."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="anchors", verbose_name=_("agency"))
    subject = models.CharField(_("subject"), max_length=500, editable=False)
    certificate_pem = models.TextField(_("certificate (PEM)"))
    certificate_sha256 = models.CharField(_("certificate SHA-256"), max_length=64, editable=False)
    not_after = models.DateTimeField(_("valid until"), editable=False)
    active = models.BooleanField(_("active"), default=True)
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["agency__name", "subject"]
        verbose_name = _("trust anchor")
        verbose_name_plural = _("trust anchors")
        constraints = [
            models.UniqueConstraint(fields=["agency", "certificate_sha256"], name="anchor_once_per_agency"),
        ]

    def __str__(self) -> str:
        return f"{self.agency.code}: {self.subject}"


class Investigator(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="investigators", verbose_name=_("agency"))
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200, blank=True)
    is_chief = models.BooleanField(_("chief investigator"), default=False)
    certificate_pem = models.TextField(_("certificate (PEM)"), blank=True)
    certificate_sha256 = models.CharField(_("certificate SHA-256"), max_length=64, blank=True, db_index=True)
    certificate_subject = models.CharField(_("certificate subject"), max_length=500, blank=True, editable=False)
    certificate_not_after = models.DateTimeField(_("certificate valid until"), null=True, blank=True, editable=False)
    # The moment the certificate's chain was validated at when it was registered: the registration
    # time, or an earlier moment for warrants received while the certificate was valid (--valid-at).
    certificate_valid_at = models.DateTimeField(_("certificate validated as of"), null=True, blank=True, editable=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["agency__name", "name"]
        verbose_name = _("investigator")
        verbose_name_plural = _("investigators")
        constraints = [
            models.UniqueConstraint(
                fields=["certificate_sha256"],
                condition=~Q(certificate_sha256=""),
                name="investigator_certificate_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.agency.code})"


class ReferenceCounter(models.Model):
    """Gap-free yearly numbering of internal references (WD-2026-000123)."""

    year = models.PositiveSmallIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class WarrantQuerySet(models.QuerySet):
    def overdue(self, now=None):
        return self.filter(deadline__lt=now or timezone.now(), status__in=OPEN)


class Warrant(ChoiceLabels):
    class Kind(models.TextChoices):
        ORDINARY = "ORDINARY", _("Ordinary")
        EMERGENCY = "EMERGENCY", _("Emergency")

    class Via(models.TextChoices):
        PAPER = "PAPER", _("Paper")
        FAX = "FAX", _("Fax")
        EMAIL = "EMAIL", _("E-mail")
        PORTAL = "PORTAL", _("Portal")
        API = "API", _("API")

    reference = models.CharField(_("reference"), max_length=32, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="warrants", verbose_name=_("agency"))
    warrant_number = models.CharField(_("warrant number"), max_length=100)
    # The number as compared for possible duplicates (duplicates.warrant_number_key), set by the service.
    warrant_number_key = models.CharField(max_length=100, blank=True, default="", editable=False)
    court = models.CharField(_("court"), max_length=200)
    case_number = models.CharField(_("case number"), max_length=100, blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=300)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.ORDINARY)
    received_at = models.DateTimeField(_("received at"))
    received_via = models.CharField(_("received via"), max_length=16, choices=Via.choices, default=Via.PORTAL)
    deadline = models.DateTimeField(_("deadline"))
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    rooms = models.JSONField(_("rooms in scope"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="warrants_logged", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = WarrantQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("warrant")
        verbose_name_plural = _("warrants")
        permissions = [
            ("review_warrant", "Can approve or reject warrants"),
            ("assign_warrant", "Can assign officers to warrants"),
        ]
        indexes = [
            models.Index(fields=["status", "deadline"], name="warrant_status_deadline"),
            models.Index(fields=["agency", "received_at"], name="warrant_agency_received"),
            models.Index(fields=["agency", "warrant_number_key"], name="warrant_agency_number_key"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(period_start__lt=F("period_end")), name="warrant_period_ordered"),
            # Four eyes, enforced by the database too: nobody approves a warrant they logged.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="warrant_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True, approved_at__isnull=True)
                | Q(approved_by__isnull=False, approved_at__isnull=False),
                name="warrant_approval_complete",
            ),
            # The backstop of dates.receipt_errors (which also wants the deadline strictly after).
            models.CheckConstraint(condition=Q(deadline__gte=F("received_at")), name="warrant_deadline_after_receipt"),
        ]

    def __str__(self) -> str:
        return f"Warrant #{self.pk} {self.reference}"

    def get_absolute_url(self) -> str:
        return reverse("requests_app:warrant-detail", args=[self.pk])

    def clean(self) -> None:
        if errors := receipt_errors(received_at=self.received_at, deadline=self.deadline):
            raise ValidationError(errors)

    @property
    def is_open(self) -> bool:
        """The agency is still waiting for an answer: the deadline matters."""
        return self.status in OPEN

    @property
    def is_overdue(self) -> bool:
        return self.status in OPEN and self.deadline < timezone.now()

    @property
    def is_emergency(self) -> bool:
        return self.kind == self.Kind.EMERGENCY


class WarrantTarget(ChoiceLabels):
    class Kind(models.TextChoices):
        UID = "UID", _("Account ID")
        PHONE = "PHONE", _("Phone number")
        EMAIL = "EMAIL", _("E-mail address")

    warrant = models.ForeignKey(Warrant, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.UID)
    identifier = models.CharField(_("identifier"), max_length=200)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["warrant", "kind", "identifier"], name="target_unique_per_warrant")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.identifier}"


def document_path(instance: "Document | None", filename: str) -> str:
    # Server-made name: the client's file name is never used as a path.
    return f"documents/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.pdf"


def signature_path(instance: "Document | None", filename: str) -> str:
    return f"signatures/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.p7s"


class Document(ChoiceLabels):
    """An uploaded document: stored once under a server-made name, never edited."""

    class Kind(models.TextChoices):
        WARRANT = "WARRANT", _("Warrant")
        SUPPORTING = "SUPPORTING", _("Supporting document")
        FOLLOW_UP = "FOLLOW_UP", _("Follow-up request")
        PRESERVATION = "PRESERVATION", _("Preservation order")

    warrant = models.ForeignKey(Warrant, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.WARRANT)
    file = models.FileField(upload_to=document_path, editable=False)
    # A detached CMS signature (.p7s) over the PDF, for agencies that sign outside the PDF.
    signature_file = models.FileField(upload_to=signature_path, blank=True, editable=False)
    signature_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    original_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64, editable=False)
    size = models.PositiveBigIntegerField(editable=False)
    content_type = models.CharField(max_length=100, editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        constraints = [
            models.UniqueConstraint(fields=["warrant", "sha256"], name="document_once_per_warrant"),
        ]
        indexes = [models.Index(fields=["sha256"], name="document_sha256")]

    def __str__(self) -> str:
        return f"Document #{self.pk} {self.original_name}"

    def get_absolute_url(self) -> str:
        return reverse("requests_app:document-download", args=[self.pk])


class WarrantEvent(ChoiceLabels):
    """Append-only status history of a warrant (one row per move), as healthchecks' Flip."""

    warrant = models.ForeignKey(Warrant, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.warrant_id}: {self.from_status or '∅'} → {self.to_status}"


class SignatureOutcome(models.TextChoices):
    VALID = "VALID", _("Valid chief-investigator signature")
    UNSIGNED = "UNSIGNED", _("Not signed")
    TAMPERED = "TAMPERED", _("Tampered or invalid signature")
    MODIFIED = "MODIFIED", _("Modified after signing")
    UNTRUSTED = "UNTRUSTED", _("Untrusted certificate chain")
    EXPIRED = "EXPIRED", _("Certificate expired or not yet valid")
    REVOKED = "REVOKED", _("Certificate revoked")
    WEAK_ALGORITHM = "WEAK_ALGORITHM", _("Key or algorithm too weak")
    UNKNOWN_SIGNER = "UNKNOWN_SIGNER", _("Unknown signer")
    NOT_CHIEF = "NOT_CHIEF", _("Signer is not a chief investigator")
    OTHER_AGENCY = "OTHER_AGENCY", _("Signer belongs to another agency")
    MALFORMED = "MALFORMED", _("Malformed signature or unreadable PDF")
    PENDING = "PENDING", _("Check in progress")


class SignatureCheck(ChoiceLabels):
    """One verification of one document against the registry as it was then. Never edited:
    a re-check after a registry change adds a new row."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="signature_checks")
    outcome = models.CharField(_("outcome"), max_length=20, choices=SignatureOutcome.choices)
    signer_subject = models.CharField(_("signer"), max_length=500, blank=True)
    signer_fingerprint = models.CharField(_("certificate SHA-256"), max_length=64, blank=True)
    signing_time = models.DateTimeField(_("signing time claimed"), null=True, blank=True)
    timestamp = models.DateTimeField(_("trusted timestamp"), null=True, blank=True)
    validated_at = models.DateTimeField(_("validated as of"), null=True, blank=True)
    investigator = models.ForeignKey(
        Investigator, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("investigator")
    )
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    signatures = models.JSONField(default=list, blank=True)  # per-signature findings, for the record
    # Facts that do not change the outcome but the reader must see, as {"code": ..., values}: e.g.
    # a signature claiming to be made after its document was received. Shown through warning_messages.
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    revocation_checked = models.BooleanField(_("revocation checked"), default=False)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-checked_at", "-pk"]
        verbose_name = _("signature check")
        verbose_name_plural = _("signature checks")
        indexes = [models.Index(fields=["document", "-checked_at"], name="sigcheck_document_latest")]

    def __str__(self) -> str:
        return f"Signature check #{self.pk} {self.outcome}"

    @property
    def is_valid(self) -> bool:
        return self.outcome == SignatureOutcome.VALID

    @property
    def warning_messages(self) -> list[str]:
        """The stored warnings in the reader's language."""
        return [warning_message(warning) for warning in self.warnings or ()]


class FollowUpRequest(ChoiceLabels):
    """A separate, signed request to reveal named pseudonyms of a delivered export."""

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", _("Received: signature being checked")
        SIGNATURE_FAILED = "SIGNATURE_FAILED", _("Signature failed")
        IN_REVIEW = "IN_REVIEW", _("In review")
        DECIDED = "DECIDED", _("Decided")
        DISCLOSED = "DISCLOSED", _("Identities disclosed")
        REFUSED = "REFUSED", _("Refused")

    warrant = models.ForeignKey(Warrant, on_delete=models.PROTECT, related_name="follow_ups")
    reference = models.CharField(_("reference"), max_length=40, unique=True, editable=False)
    document = models.OneToOneField(Document, on_delete=models.PROTECT, related_name="follow_up", null=True)
    received_at = models.DateTimeField(_("received at"))
    deadline = models.DateTimeField(_("deadline"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("follow-up request")
        verbose_name_plural = _("follow-up requests")
        constraints = [
            models.CheckConstraint(condition=Q(deadline__gte=F("received_at")), name="followup_deadline_after_receipt"),
        ]

    def __str__(self) -> str:
        return f"Follow-up #{self.pk} {self.reference}"

    def get_absolute_url(self) -> str:
        return reverse("followups:detail", args=[self.pk])

    def clean(self) -> None:
        if errors := receipt_errors(received_at=self.received_at, deadline=self.deadline, what="request"):
            raise ValidationError(errors)


class FollowUpToken(ChoiceLabels):
    """One pseudonym asked for, with the investigators' reason. Never the identity behind it."""

    class Validity(models.TextChoices):
        VALID = "VALID", _("Valid pseudonym of this warrant")
        FOREIGN = "FOREIGN", _("Not a pseudonym of this warrant")
        UNKNOWN = "UNKNOWN", _("Not one of our pseudonyms")
        ALTERED = "ALTERED", _("Altered or damaged")
        KEY_DESTROYED = "KEY_DESTROYED", _("The warrant's key was destroyed")
        NOT_DISCLOSED = "NOT_DISCLOSED", _("Not in any delivered export")
        TARGET = "TARGET", _("A target, already disclosed")

    class Decision(models.TextChoices):
        PENDING = "PENDING", _("Pending")
        APPROVED = "APPROVED", _("Approved")
        REFUSED = "REFUSED", _("Refused")

    request = models.ForeignKey(FollowUpRequest, on_delete=models.CASCADE, related_name="tokens")
    position = models.PositiveSmallIntegerField()
    token = models.CharField(_("pseudonym"), max_length=200)
    justification = models.TextField(_("why this person matters"))
    validity = models.CharField(_("validity"), max_length=16, choices=Validity.choices)
    validity_reason = models.CharField(max_length=300, blank=True)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices, default=Decision.PENDING)

    class Meta:
        ordering = ["request", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "token"], name="followup_token_once"),
            models.CheckConstraint(
                condition=Q(validity="VALID") | Q(decision="REFUSED"), name="followup_invalid_token_refused"
            ),
        ]

    def __str__(self) -> str:
        return f"Token {self.position} of follow-up {self.request_id}"

    @property
    def is_valid(self) -> bool:
        return self.validity == self.Validity.VALID


class FollowUpDecision(models.Model):
    token = models.ForeignKey(FollowUpToken, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approve = models.BooleanField()
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["token", "reviewer"], name="followup_one_decision_per_reviewer"),
            models.CheckConstraint(condition=Q(approve=True) | ~Q(reason=""), name="followup_refusal_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{'Approve' if self.approve else 'Refuse'} token {self.token_id} by {self.reviewer_id}"


class PreservationOrder(models.Model):
    """An agency's order to preserve a warrant's data longer, recorded with its document: it postpones
    the destruction of the warrant's keys (crypto-shredding) until ``until``."""

    warrant = models.ForeignKey(Warrant, on_delete=models.PROTECT, related_name="preservation_orders")
    document = models.OneToOneField(Document, on_delete=models.PROTECT, related_name="preservation_order")
    until = models.DateTimeField(_("preserve until"))
    note = models.TextField(_("note"), blank=True, max_length=NOTE_MAX_LENGTH)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-until", "-pk"]
        verbose_name = _("preservation order")
        verbose_name_plural = _("preservation orders")

    def __str__(self) -> str:
        return f"Preservation order #{self.pk} of warrant {self.warrant_id} until {self.until:%Y-%m-%d}"
