import json

from django.conf import settings
from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import gettext_lazy as _


class ChoiceLabels(models.Model):
    """``get_<field>_display()`` that translates one label, the value's.

    Django's own builds ``dict(make_hashable(field.flatchoices))``, and hashing a lazy label translates
    it: every call translated every label of the field (57 for an audit entry's action), which made
    the gettext calls the largest single cost of the warrant list and the audit log (720 a warrant
    list page of 50 rows). The values are hashed as Django hashes them; the labels are left lazy."""

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field):
        value = getattr(self, field.attname)
        hashable = make_hashable(value)
        for choice, label in field.flatchoices:
            if make_hashable(choice) == hashable:
                return force_str(label, strings_only=True)
        return force_str(value, strings_only=True)


class CanonicalJSONEncoder(json.JSONEncoder):
    """Sorted keys whatever the caller asks; anything not JSON-native becomes its string.

    Used for ``AuditEntry.details`` so every write through the ORM stores the canonical text
    that the chain hashes (see warrantdesk.audit.details_text)."""

    def __init__(self, **kwargs):
        kwargs["sort_keys"] = True
        super().__init__(**kwargs)

    def default(self, o):
        return str(o)


class AuditAction(models.TextChoices):
    LOGIN = "auth.login", _("Signed in")
    LOGIN_FAILED = "auth.login_failed", _("Failed sign-in")
    LOGOUT = "auth.logout", _("Signed out")
    ACCESS_DENIED = "access.denied", _("Access denied")
    WARRANT_CREATED = "warrant.created", _("Warrant logged")
    WARRANT_ASSIGNED = "warrant.assigned", _("Officer assigned")
    WARRANT_TRANSITION = "warrant.transition", _("Status changed")
    DOCUMENT_UPLOADED = "document.uploaded", _("Document uploaded")
    DOCUMENT_REFUSED = "document.refused", _("Upload refused")
    DOCUMENT_VIEWED = "document.viewed", _("Document downloaded")
    SIGNATURE_CHECKED = "signature.checked", _("Signature checked")
    KEY_CREATED = "key.created", _("Warrant key created")
    KEY_DESTROYED = "key.destroyed", _("Warrant key destroyed")
    EXPORT_REQUESTED = "export.requested", _("Export requested")
    EXPORT_STARTED = "export.started", _("Export started")
    EXPORT_READY = "export.ready", _("Export ready")
    EXPORT_FAILED = "export.failed", _("Export failed")
    EXPORT_DOWNLOADED = "export.downloaded", _("Export downloaded")
    EXPORT_DELIVERED = "export.delivered", _("Export delivered")
    EXPORT_PURGED = "export.purged", _("Export package purged")
    LINK_ISSUED = "link.issued", _("Download link issued")
    LINK_USED = "link.used", _("Download link used")
    LINK_REFUSED = "link.refused", _("Download link refused")
    FOLLOWUP_CREATED = "followup.created", _("Follow-up request logged")
    FOLLOWUP_DECISION = "followup.decision", _("Follow-up decision")
    FOLLOWUP_DECIDED = "followup.decided", _("Follow-up request decided")
    FOLLOWUP_DISCLOSED = "followup.disclosed", _("Identities disclosed")
    SIGNATURE_RECHECK_REQUESTED = "signature.recheck", _("Signature re-check requested")
    REGISTRY_CHANGED = "registry.changed", _("Registry changed")
    ROLE_CHANGED = "role.changed", _("Role changed")
    AUDIT_EXPORTED = "audit.exported", _("Audit log exported")
    AUDIT_VERIFIED = "audit.verified", _("Audit log verified")
    NOTIFICATION_PLANNED = "notification.planned", _("Notifications planned")
    NOTIFICATION_DEFERRED = "notification.deferred", _("Notification deferred")
    NOTIFICATION_SENT = "notification.sent", _("Notification sent")
    NOTIFICATION_FAILED = "notification.failed", _("Notification failed")
    NOTIFICATION_UNCONFIRMED = "notification.unconfirmed", _("Notification unconfirmed")
    NOTIFICATION_CONFIRMED = "notification.confirmed", _("Notification marked sent")
    NOTIFICATION_REQUEUED = "notification.requeued", _("Notification re-queued")
    NOTIFICATION_LETTER = "notification.letter", _("Notification letter downloaded")
    NOTIFICATION_TO_LETTER = "notification.to_letter", _("Notification switched to a paper letter")
    PERIODIC_RAN = "periodic.ran", _("Periodic job ran")
    RETENTION_PURGED = "retention.purged", _("Retention purge ran")
    HOLD_PLACED = "hold.placed", _("Preservation hold placed")
    HOLD_RELEASED = "hold.released", _("Preservation hold released")
    KEYS_ROTATED = "keys.rotated", _("Key-encryption key rotation")
    REPORT_PUBLISHED = "report.published", _("Transparency report published")
    TWO_FACTOR_ENROLLED = "auth.2fa_enrolled", _("Two-factor sign-in set up")
    TWO_FACTOR_VERIFIED = "auth.2fa_verified", _("Second factor passed")
    TWO_FACTOR_FAILED = "auth.2fa_failed", _("Second factor refused")
    RECOVERY_CODE_USED = "auth.recovery_used", _("Recovery code used")
    TWO_FACTOR_RESET = "auth.2fa_reset", _("Two-factor sign-in reset")
    API_CLIENT_CREATED = "apiclient.created", _("API client created")
    API_CLIENT_REVOKED = "apiclient.revoked", _("API client revoked")
    API_CLIENT_REFUSED = "apiclient.refused", _("API client refused")
    HI1_RECEIVED = "hi1.received", _("HI-1 message received")
    HI1_SENT = "hi1.sent", _("HI-1 message sent")
    HI1_REFUSED = "hi1.refused", _("HI-1 message refused")


class AuditEntry(ChoiceLabels):
    """One line of the append-only, hash-chained audit log.

    ``hash`` is SHA-256 over the canonical serialisation of the entry including ``prev_hash``
    (see warrantdesk/audit.py). ``seq`` is only the storage position; the order is proven by
    the chain itself. Rows are never updated or deleted (a trigger refuses both on PostgreSQL).
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    warrant_ref = models.CharField(max_length=32, blank=True, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=CanonicalJSONEncoder)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["actor", "at"], name="audit_actor_at")]

    def __str__(self) -> str:
        return f"Audit #{self.seq} {self.action}"


class AuditChainHead(models.Model):
    """The single row that serialises writers and remembers the last entry of the chain.

    Writers lock it with SELECT ... FOR UPDATE, so two concurrent writers can never both link to
    the same predecessor; comparing it with the last entry also reveals deleted tail entries.
    """

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="audit_head_singleton")]

    def __str__(self) -> str:
        return f"Audit head #{self.seq}"


class PeriodicJob(models.Model):
    """The schedule and the lease of one periodic job (see warrantdesk/periodic.py).

    A runner claims a due job with one conditional UPDATE that sets ``lease_until``, ``claim_token``
    and ``running_on``; only the holder of the token records the end of the run. A lease that is
    never released (a crashed runner) expires at ``lease_until`` and the job is claimed again.
    """

    class Outcome(models.TextChoices):
        OK = "OK", _("Succeeded")
        FAILED = "FAILED", _("Failed")

    name = models.CharField(max_length=64, unique=True)
    interval = models.DurationField()
    next_due = models.DateTimeField(db_index=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True)
    last_summary = models.JSONField(default=dict, blank=True)  # counts only, as in its audit entry
    last_error = models.CharField(max_length=300, blank=True)  # exception type and scrubbed message
    lease_until = models.DateTimeField(null=True, blank=True)
    running_on = models.CharField(max_length=120, blank=True)  # host:pid of the lease holder
    claim_token = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("periodic job")
        verbose_name_plural = _("periodic jobs")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(lease_until__isnull=True, claim_token="", running_on="")
                    | (models.Q(lease_until__isnull=False) & ~models.Q(claim_token=""))
                ),
                name="periodic_lease_has_holder",
            )
        ]

    def __str__(self) -> str:
        return f"Periodic job {self.name}"


class MerkleNode(models.Model):
    """One perfect subtree of the RFC 6962 Merkle tree over the audit entries (warrantdesk/merkle.py).

    ``level`` 0 holds the leaf hashes (leaf ``index`` = audit entry ``seq`` - 1); the node at ``level``
    k and ``index`` i covers leaves [i * 2**k, (i + 1) * 2**k). Nodes are appended by a catch-up step
    and never change: any root and any proof is a handful of these rows.
    """

    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        verbose_name = _("Merkle tree node")
        verbose_name_plural = _("Merkle tree nodes")

    def __str__(self) -> str:
        return f"Merkle node {self.level}/{self.index}"


class Checkpoint(models.Model):
    """A signed checkpoint of the audit log: the C2SP signed note over (origin, tree size, root)."""

    tree_size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)  # hex, the same root as the note's base64 line
    origin = models.CharField(max_length=200)
    note = models.TextField()  # the signed note exactly as served and verified
    key_fingerprint = models.CharField(max_length=64)  # SHA-256 of the signing key's DER SubjectPublicKeyInfo
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)  # "schedule", "command" or a username

    class Meta:
        ordering = ["-tree_size"]
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
        constraints = [models.CheckConstraint(condition=models.Q(tree_size__gt=0), name="checkpoint_not_empty")]

    def __str__(self) -> str:
        return f"Checkpoint {self.tree_size}"


class ApiClient(models.Model):
    """A script or system that calls the API with a token of its own (agencies' scripts, the ETSI HI-1
    interface), never with a staff password (warrantdesk/api_clients.py).

    The client acts as ``user`` (a service account: its roles and assigned cases bound what it sees),
    and further only within ``scopes`` ("warrants:read", "exports:write", …). The token is shown once
    at creation; only its SHA-256 is kept, with a public ``prefix`` that names it in lists, logs and
    the audit log. Another app binds a client to more (requests_app: to an agency) with its own
    one-to-one model pointing here; this app imports no other."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("token prefix"), max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_clients", verbose_name=_("acts as")
    )
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
