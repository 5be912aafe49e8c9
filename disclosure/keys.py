"""Per-warrant pseudonym keys and the operator's manifest-signing key, loaded from settings.

No key material is ever logged, audited, shown or sent: audit entries name only key ids.
"""

from __future__ import annotations

import base64

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from warrantdesk import keystore, operator_keys
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from . import pseudonyms
from .exports import verify_package
from .models import CaseKey

KeyUnavailable = keystore.KeyUnavailable  # the one refusal for keys, wherever they are kept
KeyDestroyed = keystore.KeyDestroyed


def require_kek() -> None:
    """KeyUnavailable unless a key-encryption key is configured (nothing can be sealed without one)."""
    keystore.keks()


def case_key(warrant, *, create: bool = False) -> tuple[str, bytes]:
    """The warrant's pseudonym (key id, key) from the key store, made on first use when ``create``;
    KeyDestroyed (with its date) once crypto-shredded, KeyUnavailable when there is none."""
    record = CaseKey.objects.filter(warrant=warrant).first()
    if record is None:
        if not create:
            raise KeyUnavailable(_("This warrant has no pseudonym key."))
        return _case_key_create(warrant)
    if record.destroyed_at is not None:
        raise KeyDestroyed(keystore.warrant_pseudonyms_key(warrant.reference), record.destroyed_at)
    return record.key_id, keystore.get(keystore.warrant_pseudonyms_key(warrant.reference))


@transaction.atomic
def _case_key_create(warrant) -> tuple[str, bytes]:
    record, created = CaseKey.objects.get_or_create(warrant=warrant, defaults={"key_id": pseudonyms.new_key_id()})
    # The key store makes the key once, whoever asks first; the row only names it.
    key = keystore.get_or_create(keystore.warrant_pseudonyms_key(warrant.reference))
    if created:
        audit_record(
            action=AuditAction.KEY_CREATED,
            warrant=warrant,
            obj=record,
            details={"key_id": record.key_id, "kek_id": keystore.current_kek_id()},
        )
    return record.key_id, key


def case_keys(warrant) -> dict[str, bytes]:
    """{key id: key} for reidentify(); empty when the warrant has no key or it was destroyed."""
    try:
        key_id, key = case_key(warrant)
    except KeyUnavailable:
        return {}
    return {key_id: key}


@transaction.atomic
def case_key_destroy(*, warrant, actor) -> CaseKey:
    """Crypto-shredding of a warrant: destroy its pseudonym key and its files key in the key store
    (``disclosure.shredding`` calls it once the warrant has been closed long enough). Every pseudonym
    of the warrant becomes irreversible and its stored files (documents, packages, identity sheets)
    unreadable, in every copy of the database and of the media directory; the database keeps only
    the key id and the date (``CaseKey.destroyed_at``; a warrant that never had a pseudonym key gets
    its record now, so that the date is kept). Idempotent: a run cut short between the two keys is
    completed by the next one, and the date is the key store's first destruction time."""
    record = CaseKey.objects.select_for_update().filter(warrant=warrant).first()
    already = record is not None and record.destroyed_at is not None
    destroyed = [
        keystore.destroy(keystore.warrant_pseudonyms_key(warrant.reference)),
        keystore.destroy(keystore.warrant_files_key(warrant.reference)),
    ]
    if already and record is not None:
        return record
    when = min((at for at in destroyed if at is not None), default=None) or timezone.now()
    if record is None:
        record = CaseKey.objects.create(warrant=warrant, key_id=pseudonyms.new_key_id(), destroyed_at=when)
    else:
        record.destroyed_at = when
        record.save(update_fields=["destroyed_at"])
    audit_record(
        action=AuditAction.KEY_DESTROYED,
        actor=actor,
        actor_label=None if actor is not None else "system",
        warrant=warrant,
        obj=record,
        details={"key_id": record.key_id, "keys": ["pseudonyms", "files"], "destroyed_at": when.isoformat()},
    )
    return record


def warrant_keys_destroyed_at(warrant):
    """When the warrant's keys were destroyed (None while they live)."""
    return CaseKey.objects.filter(warrant=warrant).values_list("destroyed_at", flat=True).first()


# --- the operator's signing key ---------------------------------------------------------------------


def signing_key() -> Ed25519PrivateKey:
    pem = settings.WARRANTDESK_SIGNING_KEY
    if not pem:
        raise KeyUnavailable(_("No operator signing key is configured (WARRANTDESK_SIGNING_KEY)."))
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyUnavailable(
            _("The operator signing key (WARRANTDESK_SIGNING_KEY) is not a readable PEM key.")
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnavailable(_("The operator signing key must be an Ed25519 key."))
    return key


def operator_public_key() -> Ed25519PublicKey:
    """The public half of the configured signing key: what the operator publishes for agencies to pin."""
    return signing_key().public_key()


def verification_keys() -> list[operator_keys.OperatorKey]:
    """The keys the operator's past signatures verify with: the current key (first, when one is
    configured), then the retired ones (``WARRANTDESK_RETIRED_SIGNING_KEYS``). Signing uses the current
    key alone (``sign``)."""
    try:
        current = operator_public_key()
    except KeyUnavailable:
        current = None
    return operator_keys.keyring(current)


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, in hex: the fingerprint published and printed by
    ``verify_package.py`` (one definition, there, so that the standalone checker agrees)."""
    return verify_package.key_fingerprint(key)


def format_fingerprint(fingerprint: str) -> str:
    """The fingerprint in groups of four hex digits, as people compare it."""
    return verify_package.format_fingerprint(fingerprint)


def sign(data: bytes) -> str:
    return base64.b64encode(signing_key().sign(data)).decode()
