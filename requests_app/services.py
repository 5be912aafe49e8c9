"""Every change to a warrant goes through one of these functions.

Each takes the acting user, checks that this user may act on this case, and writes the change,
its status-history row and its audit entry in one transaction: either all of it happens or none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from guardian.shortcuts import assign_perm

from warrantdesk import keystore, sealed
from warrantdesk.audit import audit_record
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction
from warrantdesk.roles import Role

from . import documents, duplicates, signals, verification
from .dates import receipt_errors
from .models import (
    NOTE_MAX_LENGTH,
    Agency,
    Document,
    PreservationOrder,
    ReferenceCounter,
    SignatureCheck,
    Warrant,
    WarrantEvent,
    WarrantTarget,
    document_path,
    signature_path,
)
from .permissions import can, can_recheck_signature, can_view, forget_case_permissions
from .workflow import SYSTEM, FourEyesViolation, Status, check_transition


@dataclass(frozen=True)
class TargetInput:
    kind: str
    identifier: str


def _next_reference(year: int) -> str:
    counter, _created = ReferenceCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"WD-{year}-{counter.last:06d}"


def _require(user, permission: str, warrant: Warrant | None = None) -> None:
    allowed = user.has_perm(permission) if warrant is None else can(user, permission, warrant)
    if not allowed:
        raise PermissionDenied(_("You do not have permission to do this."))


def warrant_register(
    *,
    actor,
    agency: Agency,
    warrant_number: str,
    court: str,
    legal_basis: str,
    received_at: dt.datetime,
    deadline: dt.datetime,
    period_start: dt.datetime,
    period_end: dt.datetime,
    targets: Iterable[TargetInput],
    case_number: str = "",
    kind: str = Warrant.Kind.ORDINARY,
    received_via: str = Warrant.Via.PORTAL,
    rooms: Iterable[str] = (),
    notes: str = "",
    upload: UploadedFile | None = None,
    signature_upload: UploadedFile | None = None,
    confirm_duplicate: bool = False,
) -> Warrant:
    """Log an incoming warrant, with its document (and a detached .p7s signature) when given.

    The same agency and warrant number already logged, or the same file attached to another
    warrant, raises ``duplicates.PossibleDuplicate`` (409) unless ``confirm_duplicate``: the officer
    has seen the warning and logs it anyway (recorded in the audit entry).

    The officer who logs it is assigned to the case and, by the four-eyes rule, can never be the
    one who approves it. A refused file refuses the whole warrant: nothing is stored. The
    document's signature is checked in the background as soon as the warrant is committed.
    A receipt time in the future or a deadline not after it is refused (``dates.receipt_errors``).
    """
    _require(actor, "requests_app.add_warrant")
    if errors := receipt_errors(received_at=received_at, deadline=deadline):
        raise DomainError(" ".join(errors.values()), code="bad_dates")
    fields: dict[str, Any] = {  # the keyword arguments of _warrant_create, typed there
        "agency": agency,
        "warrant_number": warrant_number,
        "court": court,
        "legal_basis": legal_basis,
        "received_at": received_at,
        "deadline": deadline,
        "period_start": period_start,
        "period_end": period_end,
        "case_number": case_number,
        "kind": kind,
        "received_via": received_via,
        "rooms": rooms,
        "notes": notes,
        "confirm_duplicate": confirm_duplicate,
    }
    if upload is None:
        return _warrant_create(actor=actor, targets=targets, **fields)
    staged = upload_stage(upload, signature_upload, actor=actor)
    try:
        return _warrant_create(actor=actor, targets=targets, document=staged, **fields)
    except BaseException:
        staged.discard()
        raise


@transaction.atomic(durable=True)
def _warrant_create(
    *,
    actor,
    agency: Agency,
    warrant_number: str,
    court: str,
    legal_basis: str,
    received_at: dt.datetime,
    deadline: dt.datetime,
    period_start: dt.datetime,
    period_end: dt.datetime,
    targets: Iterable[TargetInput],
    case_number: str,
    kind: str,
    received_via: str,
    rooms: Iterable[str],
    notes: str,
    document: StagedUpload | None = None,
    confirm_duplicate: bool = False,
) -> Warrant:
    targets = list(dict.fromkeys(TargetInput(t.kind, t.identifier.strip()) for t in targets if t.identifier.strip()))
    if not targets:
        raise DomainError(_("A warrant must name at least one target."), code="no_targets")
    if period_start >= period_end:
        raise DomainError(_("The period must end after it starts."), code="bad_period")
    possible_duplicates = duplicates.find(
        agency=agency,
        warrant_number=warrant_number,
        sha256s=[document.checked.sha256] if document is not None else [],
        user=actor,
    )
    if possible_duplicates and not confirm_duplicate:
        raise duplicates.PossibleDuplicate(possible_duplicates)
    warrant = Warrant.objects.create(
        reference=_next_reference(timezone.localtime(received_at).year),
        agency=agency,
        warrant_number=warrant_number.strip(),
        warrant_number_key=duplicates.warrant_number_key(warrant_number),
        court=court.strip(),
        case_number=case_number.strip(),
        legal_basis=legal_basis.strip(),
        kind=kind,
        received_at=received_at,
        received_via=received_via,
        deadline=deadline,
        period_start=period_start,
        period_end=period_end,
        rooms=sorted({room.strip() for room in rooms if room.strip()}),
        notes=notes,
        created_by=actor,
    )
    WarrantTarget.objects.bulk_create(
        WarrantTarget(warrant=warrant, kind=target.kind, identifier=target.identifier) for target in targets
    )
    assign_perm("view_warrant", actor, warrant)
    forget_case_permissions(actor)
    WarrantEvent.objects.create(warrant=warrant, from_status="", to_status=warrant.status, actor=actor)
    audit_record(
        action=AuditAction.WARRANT_CREATED,
        actor=actor,
        warrant=warrant,
        obj=warrant,
        details={
            "agency": agency.code,
            "kind": kind,
            "via": received_via,
            "targets": len(targets),
            **_confirmed_duplicates(possible_duplicates),
        },
    )
    if document is not None:
        document_create(warrant=warrant, staged=document, actor=actor)
    transaction.on_commit(lambda: signals.warrant_logged.send(sender=Warrant, warrant=warrant), robust=True)
    return warrant


def _confirmed_duplicates(found: list[duplicates.Duplicate]) -> dict:
    """Audit details of a possible duplicate the officer confirmed: why and how many, not which case
    (the entry shows in this case's timeline, to people who may not be assigned to the other one)."""
    if not found:
        return {}
    return {"confirmed_duplicate": sorted({item.reason for item in found}), "duplicates": len(found)}


@transaction.atomic(durable=True)
def warrant_assign(*, warrant: Warrant, user, actor) -> Warrant:
    """Give an officer access to this one case (guardian object permission)."""
    _require(actor, "requests_app.assign_warrant", warrant)
    officer_roles = {Role.INTAKE_OFFICER.value, Role.REVIEWER.value, Role.ADMINISTRATOR.value}
    if not user.is_active or not user.groups.filter(name__in=officer_roles).exists():
        raise DomainError(_("Only active intake officers, reviewers and administrators can be assigned."))
    assign_perm("view_warrant", user, warrant)
    forget_case_permissions(user)
    audit_record(
        action=AuditAction.WARRANT_ASSIGNED,
        actor=actor,
        warrant=warrant,
        obj=warrant,
        details={"officer": user.get_username()},
    )
    return warrant


@dataclass
class StagedUpload:
    """Checked files already written to storage (sealed), not yet recorded; discarded if recording fails.

    Files staged for a warrant that does not exist yet are sealed under a staging key; recording them
    (``document_create``) re-keys them to the warrant's files key and destroys the staging key.
    """

    checked: documents.CheckedUpload
    stored_name: str
    key_name: str
    signature_name: str = ""
    signature_sha256: str = ""
    superseded: list[str] = field(default_factory=list)

    def discard(self) -> None:
        for name in (self.stored_name, self.signature_name, *self.superseded):
            if name:
                default_storage.delete(name)
        if self.key_name.startswith("staging/"):
            keystore.destroy(self.key_name)

    def adopt(self, warrant: Warrant) -> None:
        """Re-key the staged files to ``warrant``'s files key (nothing to do if already under it); the
        staged copies go once the transaction commits."""
        key_name = keystore.warrant_files_key(warrant.reference)
        if self.key_name == key_name:
            return
        staging_key, old = self.key_name, [n for n in (self.stored_name, self.signature_name) if n]
        self.stored_name = sealed.store_rekeyed(default_storage, self.stored_name, self.stored_name, key_name=key_name)
        if self.signature_name:
            self.signature_name = sealed.store_rekeyed(
                default_storage, self.signature_name, self.signature_name, key_name=key_name
            )
        self.key_name, self.superseded = key_name, old

        def forget_staged() -> None:
            for name in old:
                default_storage.delete(name)
            keystore.destroy(staging_key)

        transaction.on_commit(forget_staged)


def upload_stage(
    upload: UploadedFile, signature_upload: UploadedFile | None, *, actor, warrant: Warrant | None = None
) -> StagedUpload:
    """Check an uploaded PDF (and its detached signature) and store the files, before any row exists:
    a refused upload raises ``UploadRejected`` (recorded) and leaves nothing behind."""
    try:
        checked = documents.check_pdf_upload(upload, max_bytes=settings.WARRANTDESK_MAX_UPLOAD_BYTES)
        signature_sha256 = documents.check_signature_upload(signature_upload) if signature_upload else ""
    except documents.UploadRejected as refusal:
        audit_record(
            action=AuditAction.DOCUMENT_REFUSED,
            actor=actor,
            warrant=warrant,
            details={"reason": refusal.code, "size": upload.size},
        )
        raise
    key_name = keystore.warrant_files_key(warrant.reference) if warrant is not None else keystore.staging_key()
    upload.seek(0)
    stored_name, _sealed = sealed.store(
        default_storage,
        document_path(None, ""),
        upload,  # type: ignore[arg-type]  # stub: UploadedFile.read() takes no size; Django's passes it on
        key_name=key_name,
    )
    staged = StagedUpload(checked, stored_name, key_name)
    if signature_upload:
        signature_upload.seek(0)
        staged.signature_name, _sealed = sealed.store(
            default_storage,
            signature_path(None, ""),
            signature_upload,  # type: ignore[arg-type]  # stub: UploadedFile.read() takes no size; Django's passes it on
            key_name=key_name,
        )
        staged.signature_sha256 = signature_sha256
    return staged


def document_upload(
    *,
    warrant: Warrant,
    upload: UploadedFile,
    actor,
    kind: str = Document.Kind.WARRANT,
    signature_upload: UploadedFile | None = None,
    confirm_duplicate: bool = False,
) -> Document:
    """Store a document of a case after checking it is a PDF within the size limit.

    The same file attached to another warrant raises ``duplicates.PossibleDuplicate`` unless
    ``confirm_duplicate`` (recorded in the audit entry).

    A refused file leaves nothing behind but the audit entry that records the refusal. The file is
    written first and removed again if the database transaction does not commit. A new warrant
    document sends the warrant back to "received" and is checked in the background.
    """
    _require(actor, "requests_app.add_document", warrant)
    staged = upload_stage(upload, signature_upload, actor=actor, warrant=warrant)
    try:
        return _document_record(
            warrant=warrant, staged=staged, actor=actor, kind=kind, confirm_duplicate=confirm_duplicate
        )
    except BaseException:
        staged.discard()
        raise


@transaction.atomic(durable=True)
def _document_record(
    *, warrant: Warrant, staged: StagedUpload, actor, kind: str, confirm_duplicate: bool = False
) -> Document:
    warrant = Warrant.objects.select_for_update().get(pk=warrant.pk)
    if warrant.status not in {Status.RECEIVED, Status.SIGNATURE_FAILED, Status.VERIFIED}:
        raise Conflict(
            _("Documents can no longer be added: the warrant is “%(status)s”.")
            % {"status": warrant.get_status_display()}
        )
    found = duplicates.find(agency=warrant.agency, sha256s=[staged.checked.sha256], user=actor, exclude=warrant)
    if found and not confirm_duplicate:
        raise duplicates.PossibleDuplicate(found)
    document = document_create(warrant=warrant, staged=staged, actor=actor, kind=kind, confirmed_duplicates=found)
    if kind == Document.Kind.WARRANT and warrant.status != Status.RECEIVED:
        # A new warrant document voids any earlier signature verdict: it must be checked again.
        _transition(
            warrant=warrant, to=Status.RECEIVED, actor=actor, note=gettext_noop("New warrant document"), system=True
        )
    return document


def document_create(
    *,
    warrant: Warrant,
    staged: StagedUpload,
    actor,
    kind: str = Document.Kind.WARRANT,
    confirmed_duplicates: Sequence[duplicates.Duplicate] = (),
    details: dict | None = None,
) -> Document:
    """The ``Document`` row of a staged upload (warrant, follow-up or preservation-order document), with
    its audit entry (``details``: what the caller records along, e.g. a preservation order's date);
    the caller runs the signature check."""
    checked = staged.checked
    staged.adopt(warrant)
    try:
        with transaction.atomic():
            document = Document.objects.create(
                warrant=warrant,
                kind=kind,
                file=staged.stored_name,
                signature_file=staged.signature_name,
                signature_sha256=staged.signature_sha256,
                original_name=checked.display_name,
                sha256=checked.sha256,
                size=checked.size,
                content_type=checked.content_type,
                uploaded_by=actor,
            )
    except IntegrityError as exc:
        raise Conflict(_("This exact file is already attached to the warrant."), code="duplicate_document") from exc
    audit_record(
        action=AuditAction.DOCUMENT_UPLOADED,
        actor=actor,
        warrant=warrant,
        obj=document,
        details={
            "kind": kind,
            "sha256": checked.sha256,
            "size": checked.size,
            **({"signature_sha256": staged.signature_sha256} if staged.signature_name else {}),
            **_confirmed_duplicates(list(confirmed_duplicates)),
            **(details or {}),
        },
    )
    if kind in {Document.Kind.WARRANT, Document.Kind.FOLLOW_UP}:
        _schedule_signature_check(document, actor)
    return document


def _schedule_signature_check(document: Document, actor) -> None:
    from .tasks import check_document_signature

    actor_id = actor.pk if actor is not None else None
    transaction.on_commit(lambda: check_document_signature.enqueue(document.pk, actor_id))


def current_warrant_document(warrant: Warrant) -> Document | None:
    return warrant.documents.filter(kind=Document.Kind.WARRANT).order_by("-uploaded_at", "-pk").first()


def latest_signature_check(document: Document | None) -> SignatureCheck | None:
    if document is None:
        return None
    return document.signature_checks.select_related("investigator").order_by("-checked_at", "-pk").first()


def signature_gate(warrant: Warrant) -> str:
    """Why the warrant may not be approved, exported or revealed from; "" when it may."""
    document = current_warrant_document(warrant)
    if document is None:
        return str(_("No warrant document has been uploaded."))
    check = latest_signature_check(document)
    if check is None:
        return str(_("The signature of the current document has not been checked yet."))
    if not check.is_valid:
        return str(
            _("The current document has no valid chief-investigator signature: %(outcome)s.")
            % {"outcome": check.get_outcome_display()}
        )
    return ""


def document_check_signature(*, document: Document, actor=None) -> SignatureCheck:
    """Verify a document's signature now and store the verdict as a new row (old ones stay).

    When the document is its warrant's current one and the warrant is still being verified, the
    warrant moves to verified or signature_failed accordingly. Verification uses the registry as it
    is now and the warrant's recorded receipt time (or a trusted timestamp), never the signer's
    claimed signing time.
    """
    warrant = document.warrant
    with document_file(document) as handle:
        pdf = handle.read()
    detached = None
    if signature_name := document.signature_file.name:  # the same test as the FieldFile's truth
        with sealed.open_stored(default_storage, signature_name) as handle:
            detached = handle.read()
    # A follow-up request is judged at its own receipt time, exactly as a warrant is at its own.
    follow_up = getattr(document, "follow_up", None) if document.kind == Document.Kind.FOLLOW_UP else None
    received_at = follow_up.received_at if follow_up is not None else warrant.received_at
    verdict = verification.judge_document(pdf, agency=warrant.agency, at=received_at, detached_signature=detached)
    return _signature_check_record(document=document, verdict=verdict, actor=actor)


@transaction.atomic(durable=True)
def _signature_check_record(*, document: Document, verdict: verification.Verdict, actor) -> SignatureCheck:
    warrant = Warrant.objects.select_for_update().get(pk=document.warrant_id)
    finding = verdict.finding
    signer = finding.signer if finding else None
    check = SignatureCheck.objects.create(
        document=document,
        outcome=verdict.outcome,
        signer_subject=signer.subject[:500] if signer else "",
        signer_fingerprint=signer.fingerprint if signer else "",
        signing_time=finding.signing_time if finding else None,
        timestamp=finding.timestamp if finding else None,
        validated_at=finding.validated_at if finding else None,
        investigator=verdict.investigator,
        reasons=verdict.reasons,
        signatures=verdict.findings,
        revocation_checked=bool(finding and finding.revocation_info),
        warnings=verdict.warnings,
        checked_by=actor,
    )
    audit_record(
        action=AuditAction.SIGNATURE_CHECKED,
        actor=actor,
        actor_label=None if actor is not None else "system",
        warrant=warrant,
        obj=check,
        details={
            "document": document.pk,
            "outcome": verdict.outcome,
            "signer_sha256": check.signer_fingerprint,
            "investigator": verdict.investigator.pk if verdict.investigator else None,
            **({"warnings": [warning["code"] for warning in verdict.warnings]} if verdict.warnings else {}),
        },
    )
    signals.signature_checked.send(sender=Document, document=document, outcome=verdict.outcome)
    # A follow-up's verdict moves its request (a receiver in disclosure), never the warrant.
    if (
        document.kind != Document.Kind.FOLLOW_UP
        and document == current_warrant_document(warrant)
        and warrant.status
        in {
            Status.RECEIVED,
            Status.SIGNATURE_FAILED,
            Status.VERIFIED,
        }
    ):
        target = Status.VERIFIED if verdict.is_valid else Status.SIGNATURE_FAILED
        if warrant.status != target:
            with translation.override("en"):  # stored in English, shown in the reader's language
                note = str(check.get_outcome_display())
            _transition(warrant=warrant, to=target, actor=actor, note=note, system=True)
    return check


def warrant_recheck_signature(*, warrant: Warrant, actor) -> Document:
    """Check the current document again, e.g. after the registry changed; runs in the background."""
    if not can_recheck_signature(actor, warrant):
        raise PermissionDenied(_("You do not have permission to do this."))
    document = current_warrant_document(warrant)
    if document is None:
        raise Conflict(_("No warrant document has been uploaded."), code="no_document")
    with transaction.atomic():
        audit_record(
            action=AuditAction.SIGNATURE_RECHECK_REQUESTED, actor=actor, warrant=warrant, obj=document, details={}
        )
        _schedule_signature_check(document, actor)
    return document


@transaction.atomic(durable=True)
def document_open(*, document: Document, actor):
    """Open a stored document for download; every opening is audited (a refused one is not an opening)."""
    if not can_view(actor, document.warrant):
        raise PermissionDenied
    handle = document_file(document, verify=True)
    audit_record(
        action=AuditAction.DOCUMENT_VIEWED,
        actor=actor,
        warrant=document.warrant,
        obj=document,
        details={"sha256": document.sha256},
    )
    return handle


def document_file(document: Document, *, verify: bool = False) -> BinaryIO:
    """The plaintext of a stored document, streaming (stored sealed under its warrant's files key).
    Raises ``keystore.KeyDestroyed`` once the warrant's key was destroyed, ``sealed.SealedFileError``
    (with ``verify``: before the first byte) when the stored file was altered."""
    assert document.file.name is not None, "a document row always names its stored file"
    return sealed.open_stored(default_storage, document.file.name, verify=verify)


def warrant_move(*, warrant: Warrant, to: str, actor, note: str = "", system: bool = False) -> Warrant:
    """``warrant_transition`` for use inside another service's transaction (not durable)."""
    return _transition(warrant=warrant, to=to, actor=actor, note=note, system=system)


def _transition(*, warrant: Warrant, to: str, actor, note: str = "", system: bool = False) -> Warrant:
    warrant = Warrant.objects.select_for_update().get(pk=warrant.pk)
    rule = check_transition(warrant.status, to)
    if rule.by == SYSTEM and not system:
        raise Conflict(_("This step is taken by warrantdesk itself, not by hand."), code="system_transition")
    if not system:
        _require(actor, rule.by, warrant)
    if rule.four_eyes and actor is not None and actor.pk == warrant.created_by_id:
        raise FourEyesViolation()
    if rule.note_required and not note.strip():
        raise DomainError(_("Please give a reason."), code="note_required")
    if to in {Status.APPROVED, Status.EXPORTING} and (reason := signature_gate(warrant)):
        raise Conflict(reason, code="signature_gate")

    now = timezone.now()
    previous = warrant.status
    warrant.status = to
    fields = ["status"]
    if to == Status.VERIFIED:
        warrant.verified_at, fields = now, [*fields, "verified_at"]
    elif to == Status.APPROVED and previous == Status.VERIFIED:
        warrant.approved_by, warrant.approved_at = actor, now
        fields += ["approved_by", "approved_at"]
    elif to in {Status.CLOSED, Status.REJECTED}:
        warrant.closed_at, fields = now, [*fields, "closed_at"]
    warrant.save(update_fields=fields)
    WarrantEvent.objects.create(warrant=warrant, from_status=previous, to_status=to, actor=actor, at=now, note=note)
    audit_record(
        action=AuditAction.WARRANT_TRANSITION,
        actor=actor,
        warrant=warrant,
        obj=warrant,
        details={"from": previous, "to": to, "note": note, "by": "system" if system else "user"},
    )
    transaction.on_commit(
        lambda: signals.warrant_moved.send(
            sender=Warrant, warrant=warrant, from_status=previous, to_status=to, actor=actor
        ),
        robust=True,
    )
    return warrant


@transaction.atomic(durable=True)
def warrant_transition(*, warrant: Warrant, to: str, actor, note: str = "", system: bool = False) -> Warrant:
    """Move a warrant along one edge of ``workflow.TRANSITIONS``.

    ``system=True`` is for the application's own steps (signature check, export, notification),
    taken on behalf of ``actor``; such steps cannot be triggered from a button or the API.
    """
    return _transition(warrant=warrant, to=to, actor=actor, note=note, system=system)


def warrant_approve(*, warrant: Warrant, actor, note: str = "") -> Warrant:
    return warrant_transition(warrant=warrant, to=Status.APPROVED, actor=actor, note=note)


def warrant_reject(*, warrant: Warrant, actor, note: str) -> Warrant:
    return warrant_transition(warrant=warrant, to=Status.REJECTED, actor=actor, note=note)


# --- preservation orders -------------------------------------------------------------------------

PRESERVATION_MAX_DAYS = 10 * 366  # an order further out than this is a typing error


def preservation_order_record(
    *, warrant: Warrant, actor, upload: UploadedFile, until: dt.datetime, note: str = ""
) -> PreservationOrder:
    """Record an agency's order to preserve a warrant's data, with its document: the PDF is checked,
    stored sealed under the warrant's files key and audited like any document (``document.uploaded``,
    kind "preservation order", with the date preserved until); the destruction of the warrant's keys
    (``disclosure.shredding``) then waits until ``until``. Who may add documents to the case may
    record one, in any status, as long as the keys still exist."""
    _require(actor, "requests_app.add_document", warrant)
    now = timezone.now()
    note = note.strip()
    if until <= now:
        raise DomainError(_("The date to preserve until must be in the future."), code="bad_until")
    if until > now + dt.timedelta(days=PRESERVATION_MAX_DAYS):
        raise DomainError(_("The date to preserve until is more than ten years away."), code="bad_until")
    if len(note) > NOTE_MAX_LENGTH:
        raise DomainError(
            _("The note is too long (at most %(max)d characters).") % {"max": NOTE_MAX_LENGTH}, code="note_too_long"
        )
    _refuse_if_keys_destroyed(warrant)
    staged = upload_stage(upload, None, actor=actor, warrant=warrant)
    try:
        return _preservation_order_create(warrant=warrant, actor=actor, staged=staged, until=until, note=note)
    except BaseException:
        staged.discard()
        raise


def _refuse_if_keys_destroyed(warrant: Warrant) -> None:
    destroyed_at = keystore.destroyed_at(keystore.warrant_files_key(warrant.reference))
    if destroyed_at is not None:
        raise Conflict(
            _("The keys of this warrant were destroyed on %(date)s: there is nothing left to preserve.")
            % {"date": f"{timezone.localtime(destroyed_at):%Y-%m-%d}"},
            code="keys_destroyed",
        )


@transaction.atomic(durable=True)
def _preservation_order_create(
    *, warrant: Warrant, actor, staged: StagedUpload, until: dt.datetime, note: str
) -> PreservationOrder:
    # The warrant's row is the lock key destruction takes too: an order recorded is seen by it.
    warrant = Warrant.objects.select_for_update().get(pk=warrant.pk)
    _refuse_if_keys_destroyed(warrant)
    document = document_create(
        warrant=warrant,
        staged=staged,
        actor=actor,
        kind=Document.Kind.PRESERVATION,
        details={"preserve_until": until.isoformat()},
    )
    return PreservationOrder.objects.create(
        warrant=warrant, document=document, until=until, note=note, recorded_by=actor
    )


def preservation_orders_active(warrant: Warrant, *, at: dt.datetime | None = None):
    """The warrant's preservation orders still running at ``at`` (now), the furthest first."""
    return (
        PreservationOrder.objects.filter(warrant=warrant, until__gt=at or timezone.now())
        .select_related("document")
        .order_by("-until", "-pk")
    )
