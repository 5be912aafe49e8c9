"""The operator's conversation store, as warrantdesk reads it. Read-only for the legal team: rows
come from the importer (``manage.py import_chat``) or the generator, never from a form."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .identifiers import normalize_email, normalize_phone


class Account(models.Model):
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


class Room(models.Model):
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

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="messages")
    sent_at = models.DateTimeField(_("sent at"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(_("text"), blank=True)
    # Imported messages: a stable digest of (room, sender, time, text, n-th repeat in the file), so
    # importing the same export again adds nothing. NULL for generated messages.
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
