"""Every HI-1 message in and out of a warrant's exchange: stored sealed under the warrant's files key
(like its documents), audited with its hash, opened again for the warrant page."""

from __future__ import annotations

import hashlib
import io
import uuid

from django.core.files.storage import default_storage

from warrantdesk import keystore, sealed
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from .models import Message, Transaction


def message_store(
    *, warrant, direction: str, kind: str, data: bytes, actor=None, transaction_row: Transaction | None = None
) -> Message:
    """Seal and record one message of ``warrant``'s exchange, with its audit entry (in the caller's
    transaction; the sealed file goes again if that transaction does not commit)."""
    name, stored = sealed.store(
        default_storage,
        f"hi1/{warrant.reference}/{uuid.uuid4().hex}.xml",
        io.BytesIO(data),
        key_name=keystore.warrant_files_key(warrant.reference),
    )
    try:
        message = Message.objects.create(
            warrant=warrant,
            transaction=transaction_row,
            direction=direction,
            kind=kind,
            file=name,
            sha256=stored.sha256,
            size=stored.size,
        )
        audit_record(
            action=AuditAction.HI1_RECEIVED if direction == Message.Direction.IN else AuditAction.HI1_SENT,
            actor=actor,
            warrant=warrant,
            obj=message,
            details={
                "kind": kind,
                "sha256": stored.sha256,
                "size": stored.size,
                **({"transaction": str(transaction_row.transaction_id)} if transaction_row else {}),
            },
        )
    except BaseException:
        default_storage.delete(name)
        raise
    return message


def message_bytes(message: Message) -> bytes:
    with sealed.open_stored(default_storage, message.file, verify=True) as handle:
        return handle.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
