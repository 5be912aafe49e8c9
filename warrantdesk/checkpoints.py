"""Signed checkpoints of the audit log (C2SP signed notes over the Merkle tree's root).

The operator signs, daily and on demand, the note ``<origin>\\n<size>\\n<base64 root>\\n`` with its
Ed25519 audit key (the package-signing key ``WARRANTDESK_SIGNING_KEY``, read here: warrantdesk
imports no app). An auditor who keeps a checkpoint can later demand a consistency proof to any newer
one; the operator cannot produce one if it rewrote anything the old checkpoint covers, even after
recomputing the whole hash chain. ``verify_checkpoints`` re-checks every stored checkpoint against
the entries themselves.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import merkle, operator_keys
from . import verify_checkpoint as notes
from .exceptions import DomainError
from .models import Checkpoint

DEFAULT_ORIGIN = "warrantdesk.example/audit-log"


class AuditKeyUnavailable(DomainError):
    code = "audit_key_unavailable"
    status_code = 503  # the operator's configuration, not the request, is at fault


def origin() -> str:
    """The log's name on the first line of every checkpoint (and the signature's key name):
    ``WARRANTDESK_AUDIT_ORIGIN``, one line without spaces, by convention host/path of the log."""
    value = getattr(settings, "WARRANTDESK_AUDIT_ORIGIN", "") or os.environ.get("WARRANTDESK_AUDIT_ORIGIN", "")
    value = value.strip() or DEFAULT_ORIGIN
    if any(character.isspace() for character in value) or "+" in value:
        raise AuditKeyUnavailable(_("WARRANTDESK_AUDIT_ORIGIN must be one word without spaces or '+'."))
    return value


def signing_key() -> Ed25519PrivateKey:
    pem = settings.WARRANTDESK_SIGNING_KEY
    if not pem:
        raise AuditKeyUnavailable(_("No operator signing key is configured (WARRANTDESK_SIGNING_KEY)."))
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AuditKeyUnavailable(
            _("The operator signing key (WARRANTDESK_SIGNING_KEY) is not a readable PEM key.")
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyUnavailable(_("The operator signing key must be an Ed25519 key."))
    return key


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def verification_keys() -> list[operator_keys.OperatorKey]:
    """The keys a stored checkpoint may be signed with: the current key, then the retired ones
    (``WARRANTDESK_RETIRED_SIGNING_KEYS``). AuditKeyUnavailable without a usable current key."""
    return operator_keys.keyring(public_key())


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def sign_note(body: str, *, name: str, key: Ed25519PrivateKey) -> str:
    signature = key.sign(body.encode())
    return body + "\n" + notes.signature_line(name, notes.key_id(name, key.public_key()), signature)


def checkpoint_create(*, created_by: str) -> Checkpoint | None:
    """Bring the tree up to the log's head and sign a checkpoint of it; None when the log is empty.

    A checkpoint of a size already signed is returned as it is (one checkpoint per size)."""
    key = signing_key()
    name = origin()
    merkle.tree_extend()
    size = merkle.tree_size()
    if size == 0:
        return None
    existing = Checkpoint.objects.filter(tree_size=size).first()
    if existing is not None:
        return existing
    root = merkle.root(size)
    note = sign_note(notes.checkpoint_body(name, size, root), name=name, key=key)
    try:
        with transaction.atomic():
            return Checkpoint.objects.create(
                tree_size=size,
                root_hash=root.hex(),
                origin=name,
                note=note,
                key_fingerprint=notes.key_fingerprint(key.public_key()),
                created_at=timezone.now(),
                created_by=created_by[:150],
            )
    except IntegrityError:  # a concurrent run signed the same size first
        return Checkpoint.objects.get(tree_size=size)


def checkpoint_scheduled() -> dict[str, int]:
    """The daily periodic job: its summary holds counts only."""
    checkpoint = checkpoint_create(created_by="schedule")
    return {"tree_size": checkpoint.tree_size if checkpoint else 0}


@dataclass(frozen=True)
class CheckpointProblem:
    tree_size: int
    message: str


@dataclass(frozen=True)
class CheckpointCheck:
    problem: str | None  # None: the checkpoint holds
    key: operator_keys.OperatorKey | None  # the key whose signature the note carries, when one does


def checkpoint_check(
    checkpoint: Checkpoint, *, keys: Sequence[operator_keys.OperatorKey], recomputed_root: bytes | None
) -> CheckpointCheck:
    """What is wrong with one stored checkpoint, if anything, and which key signed it: the note must
    parse and carry a valid signature by one of ``keys`` (the current and retired operator keys; the
    note's key id picks the key), the one whose fingerprint is stored with it; it must state the stored
    size and root, and that root must be the one the entries give now (``recomputed_root``; None when
    the log no longer reaches that size)."""
    try:
        parsed = notes.parse_checkpoint(checkpoint.note)
        signer = notes.note_signer(parsed, [key.public_key for key in keys])
    except notes.ProofError as exc:
        return CheckpointCheck(str(exc), None)
    key = next(key for key in keys if key.public_key is signer)

    def failed(problem: str) -> CheckpointCheck:
        return CheckpointCheck(problem, key)

    if checkpoint.key_fingerprint != key.fingerprint:
        return failed(
            f"the key fingerprint stored with it ({checkpoint.key_fingerprint[:16]}…) is not that of the key "
            f"that signed the note ({key.fingerprint[:16]}…)"
        )
    if parsed.size != checkpoint.tree_size or parsed.root.hex() != checkpoint.root_hash:
        return failed("the signed note does not state the size and root stored with it")
    if recomputed_root is None:
        return failed(f"the log no longer holds {checkpoint.tree_size} entries")
    if recomputed_root != parsed.root:
        return failed(
            f"the first {checkpoint.tree_size} entries no longer give the signed root: an entry covered by "
            "this checkpoint was changed"
        )
    return CheckpointCheck(None, key)


def inclusion(*, checkpoint: Checkpoint, seq: int) -> dict:
    """An inclusion proof of audit entry ``seq`` in ``checkpoint``, as the API serves it."""
    from . import audit
    from .models import AuditEntry

    if not 1 <= seq <= checkpoint.tree_size:
        raise DomainError(
            _("Entry #%(seq)s is not covered by the checkpoint of %(size)s entries.")
            % {"seq": seq, "size": checkpoint.tree_size}
        )
    entry = AuditEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise DomainError(_("There is no audit entry #%(seq)s.") % {"seq": seq}, code="not_found")
    canonical = audit.canonical_bytes(
        at=entry.at,
        actor_id=entry.actor_id,
        actor_label=entry.actor_label,
        action=entry.action,
        warrant_ref=entry.warrant_ref,
        object_type=entry.object_type,
        object_id=entry.object_id,
        ip=entry.ip,
        details=entry.details,
        prev_hash=entry.prev_hash,
    )
    proof = merkle.inclusion_proof(seq - 1, checkpoint.tree_size)
    return {
        "tree_size": checkpoint.tree_size,
        "entry": seq,
        "leaf_index": seq - 1,
        "canonical": canonical.decode("ascii"),
        "leaf_hash": _b64(notes.leaf_hash(canonical)),
        "proof": [_b64(node) for node in proof],
        "checkpoint": checkpoint.note,
    }


def consistency(*, old: Checkpoint, new: Checkpoint) -> dict:
    """A consistency proof from ``old`` to ``new``, as the API serves it."""
    if old.tree_size > new.tree_size:
        raise DomainError(
            _("The first checkpoint (%(old)s entries) must not be larger than the second (%(new)s).")
            % {"old": old.tree_size, "new": new.tree_size}
        )
    proof = [] if old.tree_size == new.tree_size else merkle.consistency_proof(old.tree_size, new.tree_size)
    return {
        "from": old.tree_size,
        "to": new.tree_size,
        "proof": [_b64(node) for node in proof],
        "old_checkpoint": old.note,
        "checkpoint": new.note,
    }


def _b64(value: bytes) -> str:
    import base64

    return base64.b64encode(value).decode()
