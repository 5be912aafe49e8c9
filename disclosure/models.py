"""The operator's conversation store, as warrantdesk reads it. Read-only for the legal team: rows
come from the importer (``manage.py import_chat``) or the generator, never from a form."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from warrantdesk.models import ChoiceLabels

from .bodies import BodyCipher
from .identifiers import normalize_email, normalize_phone


class Account(ChoiceLabels):
    class Locale(models.TextChoices):
        KO = "ko", _("Korean")
        EN = "en", _("English")

    uid = models.CharField(_("account ID"), max_length=64, unique=True)
    display_name = models.CharField(_("display name"), max_length=200)
    phone = models.CharField(_("phone number"), max_length=32, blank=True)
    phone_normalized = models.CharField(max_length=20, blank=True, db_index=True, editable=False)
    email = models.EmailField(_("e-mail address"), blank=True)
    email_normalized = models.CharField(max_length=254, blank=True, db_index=True, editable=False)
    locale = models.CharField(_("language"), max_length=5, choices=Locale.choices, default=Locale.KO)
    # Only where the operator has one: the address block of a paper notice (accounts without e-mail).
    postal_address = models.TextField(_("postal address"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["uid"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return f"Account {self.uid}"

    @classmethod
    def normalized_fields(cls, *, phone: str = "", email: str = "") -> dict:
        """Values for the matching columns, to pass along with ``phone`` and ``email``."""
        return {"phone_normalized": normalize_phone(phone) or "", "email_normalized": normalize_email(email)}


class Room(ChoiceLabels):
    class Kind(models.TextChoices):
        DIRECT = "DIRECT", _("Direct chat")
        GROUP = "GROUP", _("Group chat")
        OPEN = "OPEN", _("Open chat")

    external_id = models.CharField(_("room ID"), max_length=128, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.GROUP)
    title = models.CharField(_("title"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["external_id"]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")

    def __str__(self) -> str:
        return f"Room {self.external_id}"


class Membership(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(_("joined at"))
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)

    class Meta:
        ordering = ["room", "joined_at"]
        indexes = [models.Index(fields=["account", "room"], name="membership_account_room")]
        constraints = [
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(left_at__gt=models.F("joined_at")),
                name="membership_left_after_joined",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.room_id}"


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "TEXT", _("Text")
        PHOTO = "PHOTO", _("Photo")
        VIDEO = "VIDEO", _("Video")
        FILE = "FILE", _("File")
        EMOTICON = "EMOTICON", _("Emoticon")
        SYSTEM = "SYSTEM", _("System")

    # No separate single-column indexes: the two composite indexes below lead with these columns.
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages", db_index=False)
    sender = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="messages", db_index=False)
    sent_at = models.DateTimeField(_("sent at"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TEXT)
    # The text, sealed under the key of its day and generation (disclosure/bodies.py): nonce || ciphertext.
    sealed_body = models.BinaryField(editable=False)
    key_generation = models.PositiveSmallIntegerField(default=1, editable=False)
    # Imported messages: a keyed digest (HMAC under the day's fingerprint key) of (room, sender, time,
    # text, n-th repeat in the file), so importing the same export again adds nothing. NULL for generated
    # messages.
    fingerprint = models.CharField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["room", "sent_at", "pk"]
        indexes = [
            # The scope query: a room's messages in a time range, and who sent them.
            models.Index(fields=["room", "sent_at", "sender"], name="message_room_time_sender"),
            models.Index(fields=["sender", "sent_at"], name="message_sender_time"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["room", "fingerprint"], name="message_imported_once"),
        ]

    def __str__(self) -> str:
        return f"Message #{self.pk} in {self.room_id}"

    @property
    def body(self) -> str:
        """The text, opened with its day's key (one key-store read per call: for single messages; an
        export opens rows in bulk through ``bodies.row_opener``). KeyDestroyed once its day was purged."""
        return BodyCipher().open(self.sealed_body, self.sent_at, self.key_generation)

    @body.setter
    def body(self, text: str) -> None:
        """Seal ``text`` under the key of the message's day (set ``sent_at`` first)."""
        self.sealed_body, self.key_generation = BodyCipher(create=True).seal(text, self.sent_at)


class CaseKey(models.Model):
    """The record of a warrant's pseudonym key. The key itself lives in the key store
    (``warrant/<reference>/pseudonyms``, warrantdesk.keystore), never in the database: destroying it
    there (``destroyed_at`` set here) makes every pseudonym of the warrant irreversible."""

    warrant = models.OneToOneField("requests_app.Warrant", on_delete=models.PROTECT, related_name="case_key")
    key_id = models.CharField(max_length=16, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    destroyed_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"Case key {self.key_id} of warrant {self.warrant_id}"


class PreservationHold(models.Model):
    """The conversation store keeps a warrant's scope past retention while this hold is active.

    Placed when the warrant is logged, released when it is rejected, and active until the warrant is
    closed plus ``WARRANTDESK_HOLD_MARGIN_DAYS``. Its ranges (rooms and periods, as the scope selector
    defines the warrant's scope) are recomputed by every purge run; the purge keeps every message that
    falls in an active hold's range.
    """

    warrant = models.OneToOneField("requests_app.Warrant", on_delete=models.PROTECT, related_name="preservation_hold")
    placed_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=32, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    messages_held = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("preservation hold")
        verbose_name_plural = _("preservation holds")

    def __str__(self) -> str:
        return f"Hold on warrant {self.warrant_id}"


class HoldRange(models.Model):
    """One room and period an active hold keeps: ``start <= sent_at < end``."""

    hold = models.ForeignKey(PreservationHold, on_delete=models.CASCADE, related_name="ranges")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["room", "start", "end"], name="holdrange_room_period")]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="holdrange_end_after_start")]

    def __str__(self) -> str:
        return f"Room {self.room_id} from {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"


class PendingRekey(models.Model):
    """A day (UTC) the retention purge deleted messages from, whose keys are not yet rotated or destroyed.

    Written in the transaction that deletes the messages and removed only once the day's old keys are
    gone (``disclosure.retention``), so that a purge that crashed in between, or ran while another one
    was re-keying the day, has the day re-keyed by the next run: a deleted message never stays readable
    in an older copy of the database. ``version`` grows with every deletion from the day.
    """

    day = models.DateField(unique=True)
    version = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"Re-key pending for {self.day:%Y-%m-%d}"


def package_path(instance: "Export", filename: str) -> str:
    return f"exports/{instance.warrant.reference}/{filename}"


class Export(ChoiceLabels):
    """One attempt at building a warrant's disclosure package. A failed attempt stays, with its reason;
    a retry is a new row. ``package`` is set only when the complete file has been published."""

    class Status(models.TextChoices):
        QUEUED = "QUEUED", _("Queued")
        RUNNING = "RUNNING", _("Running")
        READY = "READY", _("Ready")
        FAILED = "FAILED", _("Failed")

    class Kind(models.TextChoices):
        CONVERSATIONS = "CONVERSATIONS", _("Conversations package")
        IDENTITIES = "IDENTITIES", _("Identity sheet (follow-up)")

    warrant = models.ForeignKey("requests_app.Warrant", on_delete=models.PROTECT, related_name="exports")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CONVERSATIONS)
    follow_up = models.ForeignKey(
        "requests_app.FollowUpRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="exports"
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # last progress: tells a stalled worker
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    stage = models.CharField(max_length=40, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    package = models.FileField(upload_to=package_path, blank=True, editable=False)
    package_sha256 = models.CharField(max_length=64, blank=True)
    package_size = models.PositiveBigIntegerField(default=0)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    # The signed manifest itself (JSON text, no message content): kept when the package is purged, so
    # that what was disclosed stays provable (its hash is manifest_sha256).
    manifest = models.TextField(blank=True, editable=False)
    error = models.TextField(blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)  # the package file deleted (package expiry)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="READY") | ~Q(package_sha256=""), name="export_ready_has_package"
            ),
        ]

    def __str__(self) -> str:
        return f"Export #{self.pk} of warrant {self.warrant_id} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else 0

    @property
    def download_name(self) -> str:
        """The package's file name, saying what it is: ``WD-2026-000004-export-12.zip`` for a
        conversations package, ``WD-2026-000004-F1-identities-13.zip`` for a follow-up's identity sheet."""
        if self.kind == self.Kind.IDENTITIES and (follow_up := self.follow_up) is not None:
            return f"{follow_up.reference}-identities-{self.pk}.zip"
        return f"{self.warrant.reference}-export-{self.pk}.zip"


class Disclosure(models.Model):
    """Which account appeared in which export, and how. Never the pseudonym itself: no table
    links tokens to identities."""

    class Role(models.TextChoices):
        TARGET = "TARGET", _("Target")
        PSEUDONYMISED = "PSEUDONYMISED", _("Pseudonymised")
        REVEALED = "REVEALED", _("Revealed")

    export = models.ForeignKey(Export, on_delete=models.PROTECT, related_name="disclosures")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="disclosures")
    role = models.CharField(max_length=16, choices=Role.choices)
    messages = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["export", "account"], name="disclosure_once_per_export")]

    def __str__(self) -> str:
        return f"{self.account_id} in export {self.export_id}: {self.role}"


class Delivery(ChoiceLabels):
    class Channel(models.TextChoices):
        IN_PERSON = "IN_PERSON", _("Handed over in person")
        COURIER = "COURIER", _("Courier / registered mail")
        PORTAL = "PORTAL", _("Agency portal")
        LINK = "LINK", _("One-time download link")

    export = models.ForeignKey(Export, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=200)
    delivered_at = models.DateTimeField(_("delivered at"))
    package_sha256 = models.CharField(max_length=64)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-delivered_at"]

    def __str__(self) -> str:
        return f"Delivery of export {self.export_id} to {self.recipient}"


class DownloadLink(models.Model):
    """A one-time link to a package for the agency's investigator. Only the token's hash is stored."""

    export = models.ForeignKey(Export, on_delete=models.PROTECT, related_name="links")
    token_sha256 = models.CharField(max_length=64, unique=True)
    recipient = models.CharField(_("recipient"), max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Link for export {self.export_id} to {self.recipient}"


class Notification(ChoiceLabels):
    """The notice owed to one person about one warrant: what was disclosed about them, to whom.

    One row per (warrant, account), planned from the Disclosure rows of delivered exports. The
    ``message_id`` is fixed when the row is created, so every attempt sends the same Message-ID; see
    ``disclosure/notifications/sender.py`` for the at-most-once rule around ``SENDING``.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING", _("Pending")
        DEFERRED = "DEFERRED", _("Deferred")
        SENDING = "SENDING", _("Sending (unconfirmed)")
        SENT = "SENT", _("Sent")
        FAILED = "FAILED", _("Failed")
        NEEDS_LETTER = "NEEDS_LETTER", _("Needs a paper letter")

    class Channel(models.TextChoices):
        EMAIL = "EMAIL", _("E-mail")
        LETTER = "LETTER", _("Paper letter")

    warrant = models.ForeignKey("requests_app.Warrant", on_delete=models.PROTECT, related_name="notifications")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="notifications")
    target = models.BooleanField(_("target"), default=False)
    revealed = models.BooleanField(_("identity revealed on a follow-up request"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    disclosed_at = models.DateTimeField(_("disclosed at"))
    due_at = models.DateTimeField(_("due"))
    deferred_until = models.DateTimeField(_("deferred until"), null=True, blank=True)
    defer_justification = models.TextField(_("justification"), blank=True)
    deferred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    message_id = models.CharField(_("Message-ID"), max_length=200, unique=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    claim = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [models.Index(fields=["status", "due_at"], name="notification_status_due")]
        constraints = [
            models.UniqueConstraint(fields=["warrant", "account"], name="notification_once_per_warrant"),
            models.CheckConstraint(
                condition=~Q(status="SENT") | Q(sent_at__isnull=False), name="notification_sent_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="DEFERRED") | (Q(deferred_until__isnull=False) & ~Q(defer_justification="")),
                name="notification_deferral_justified",
            ),
        ]

    def __str__(self) -> str:
        return f"Notification #{self.pk} of warrant {self.warrant_id}"

    def get_absolute_url(self) -> str:
        return reverse("disclosure:notification-preview", args=[self.pk])

    @property
    def effective_due_at(self):
        if self.status == self.Status.DEFERRED and self.deferred_until:
            return max(self.due_at, self.deferred_until)
        return self.due_at

    @property
    def is_unconfirmed(self) -> bool:
        return self.status == self.Status.SENDING

    @property
    def gave_up(self) -> bool:
        return self.status == self.Status.FAILED and self.next_attempt_at is None

    @property
    def is_overdue(self) -> bool:
        """Owed and past its due date: not sent, and not under a deferral still running."""
        if self.status == self.Status.SENT:
            return False
        return self.effective_due_at < timezone.now()
