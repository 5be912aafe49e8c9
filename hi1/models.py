"""The HI-1 interface's own records: who may send (endpoints and the API clients bound to an agency),
the transactions received (for idempotency), the objects they created, and every message in and out."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from disclosure.models import Export
from requests_app.models import Agency, Document, FollowUpRequest, Warrant
from warrantdesk.models import ApiClient, ChoiceLabels


class Endpoint(models.Model):
    """An agency's HI-1 sender identifier (CountryCode + UniqueIdentifier of its messages' headers)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="hi1_endpoints", verbose_name=_("agency"))
    country_code = models.CharField(_("country code"), max_length=2)
    unique_identifier = models.CharField(_("unique identifier"), max_length=200)

    class Meta:
        verbose_name = _("HI-1 endpoint")
        verbose_name_plural = _("HI-1 endpoints")
        constraints = [
            models.UniqueConstraint(fields=["country_code", "unique_identifier"], name="hi1_endpoint_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}-{self.unique_identifier} ({self.agency.code})"


class ClientBinding(models.Model):
    """An API client (warrantdesk.ApiClient) that speaks HI-1 for one agency, and only for it."""

    client = models.OneToOneField(ApiClient, on_delete=models.PROTECT, related_name="hi1_binding")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+", verbose_name=_("agency"))

    class Meta:
        verbose_name = _("HI-1 client binding")

    def __str__(self) -> str:
        return f"{self.client} -> {self.agency.code}"


class Transaction(models.Model):
    """One received message, by its sender's TransactionIdentifier: the same identifier again gets
    the stored response and creates nothing. The response holds object identifiers, statuses and
    error descriptions only (never an identifier of a person, never a document), so it is kept as text."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="transactions")
    transaction_id = models.UUIDField()
    request_sha256 = models.CharField(max_length=64)
    response = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(default=200)
    received_at = models.DateTimeField(default=timezone.now)
    completed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "transaction_id"], name="hi1_transaction_once"),
        ]

    def __str__(self) -> str:
        return f"HI-1 transaction {self.transaction_id}"


class Object(models.Model):
    """An HI-1 object (by the sender's ObjectIdentifier) and what warrantdesk made of it."""

    class Kind(models.TextChoices):
        AUTHORISATION = "AUTHORISATION", _("Authorisation")
        LDTASK = "LDTASK", _("LD task")
        DOCUMENT = "DOCUMENT", _("Document")
        DELIVERY = "DELIVERY", _("Delivery")

    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="hi1_objects")
    object_id = models.UUIDField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    warrant = models.ForeignKey(Warrant, on_delete=models.PROTECT, related_name="hi1_objects")
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    follow_up = models.ForeignKey(FollowUpRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    export = models.ForeignKey(Export, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # What the message said that has no column on the warrant (legal type, priority, format types, approver).
    facts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "object_id"], name="hi1_object_once")]

    def __str__(self) -> str:
        return f"HI-1 {self.kind} {self.object_id}"


class Message(ChoiceLabels):
    """A message in or out of a warrant's HI-1 exchange, stored sealed under the warrant's files key
    (hi1/exchange.py); only its hash and size in the clear."""

    class Direction(models.TextChoices):
        IN = "IN", _("Received")
        OUT = "OUT", _("Sent")

    class Kind(models.TextChoices):
        REQUEST = "REQUEST", _("Request")
        RESPONSE = "RESPONSE", _("Response")
        DELIVER = "DELIVER", _("Delivery")

    warrant = models.ForeignKey(Warrant, on_delete=models.PROTECT, related_name="hi1_messages")
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    file = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    fetched_at = models.DateTimeField(null=True, blank=True)  # a delivery, when the agency fetched it

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"HI-1 {self.direction} {self.kind} {self.sha256[:12]}"
