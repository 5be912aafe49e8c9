"""Exports and their delivery. Every state change is one function taking the acting user, writing
the change and its audit entry in one transaction.

Crash safety: the package is built under a temporary name and published (stored, then the export
marked ready) only when complete, so a crash or a retry never leaves a package marked ready that is
incomplete. An interrupted export (its worker died) can be retried after ``STALE_AFTER`` without
progress.

Encryption at rest: the package (or identity sheet) is built in clear only inside a private
temporary directory (``tempfile.mkdtemp``: mode 0700, under ``FILE_UPLOAD_TEMP_DIR`` or the system's
temporary directory), which is removed when the export is published *and* when it fails. What lands
in ``MEDIA_ROOT`` is the package sealed under the warrant's files key
(``keystore.warrant_files_key``, ``warrantdesk.sealed``); ``package_sha256`` and ``package_size``
stay those of the plaintext, the file the investigator receives and checks. The signed manifest is
kept in ``Export.manifest`` from publication on, so that it outlives the package (package expiry,
key destruction: ``disclosure.shredding``). Every reader opens packages through
``disclosure.packages.package_open``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import shutil
import zipfile

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from requests_app.models import FollowUpRequest, Warrant
from requests_app.permissions import can
from requests_app.services import signature_gate, warrant_move
from requests_app.workflow import Status
from warrantdesk import faults, keystore, scratch, sealed
from warrantdesk.audit import audit_record
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction
from warrantdesk.stored_text import english, gettext_noop, template

from . import keys, packages
from .exports import package as exports
from .followups import identity_sheet
from .models import Delivery, Disclosure, DownloadLink, Export
from .scope import warrant_scope

logger = logging.getLogger(__name__)
STALE_AFTER = dt.timedelta(minutes=10)
EXPORT_DIR = "exports"

# Status-history notes and failure reasons: stored in English, shown in the reader's language
# (``warrantdesk.stored_text``).
EXPORT_NOTE = template(gettext_noop("Export #%(number)s"))
DELIVERED_NOTE = template(gettext_noop("Delivered (%(channel)s) to %(recipient)s"), texts={"channel"})
INTERNAL_ERROR = template(
    gettext_noop(
        "The export stopped with an internal error (%(kind)s). It can be retried; the details are in the server log."
    )
)
INTERRUPTED = gettext_noop("Interrupted: the worker stopped before the package was complete.")


def can_export(user, warrant: Warrant) -> bool:
    return can(user, "requests_app.add_document", warrant) or can(user, "requests_app.review_warrant", warrant)


def _require_export_rights(actor, warrant: Warrant) -> None:
    if not can_export(actor, warrant):
        raise PermissionDenied(_("You do not have permission to do this."))


def export_start(*, warrant: Warrant, actor) -> Export:
    """Queue the export of an approved warrant; the worker builds it in the background."""
    _require_export_rights(actor, warrant)
    keys.require_kek()
    keys.signing_key()
    return _export_create(warrant=warrant, actor=actor)


@transaction.atomic(durable=True)
def _export_create(*, warrant: Warrant, actor) -> Export:
    warrant = Warrant.objects.select_for_update().get(pk=warrant.pk)
    if warrant.status != Status.APPROVED:
        raise Conflict(
            _("Only an approved warrant can be exported; this one is “%(status)s”.")
            % {"status": warrant.get_status_display()},
            code="not_approved",
        )
    if reason := signature_gate(warrant):
        raise Conflict(reason, code="signature_gate")
    export = Export.objects.create(warrant=warrant, requested_by=actor)
    note = EXPORT_NOTE % {"number": export.pk}
    warrant_move(warrant=warrant, to=Status.EXPORTING, actor=actor, note=note, system=True)
    audit_record(action=AuditAction.EXPORT_REQUESTED, actor=actor, warrant=warrant, obj=export, details={})
    transaction.on_commit(lambda: _enqueue(export.pk))
    return export


def _enqueue(export_id: int) -> None:
    from .tasks import run_export

    run_export.enqueue(export_id)


def export_run(*, export: Export, progress_printer=None) -> Export:
    """Build and publish the package (the task's body; also ``manage.py export_warrant``)."""
    export = _export_claim(export)
    if export.status == Export.Status.READY:
        return export
    warrant = export.warrant

    def progress(stage: str, done: int, total: int) -> None:
        # Autocommitted at once, so the page and the API show it while the work goes on.
        Export.objects.filter(pk=export.pk).update(
            stage=stage, progress_done=done, progress_total=total, heartbeat_at=timezone.now()
        )
        if progress_printer:
            progress_printer(stage, done, total)

    # The plaintext exists only in here (mode 0700), and only until this function returns.
    work = scratch.scratch_dir("export")  # a killed worker's is removed by the next one (task_worker)
    try:
        try:
            if export.kind == Export.Kind.IDENTITIES:
                built = identity_sheet.build(export.follow_up, out_dir=work)
            else:
                built = exports.build_package(warrant_scope(warrant), out_dir=work, progress=progress)
            manifest = _built_manifest(built)
            faults.checkpoint("export.built")  # tests/test_faults.py kills the worker here
            with open(built.path, "rb") as plain:
                name, stored = sealed.store(
                    default_storage,
                    f"{EXPORT_DIR}/{warrant.reference}/{export.download_name}",
                    plain,
                    key_name=keystore.warrant_files_key(warrant.reference),
                )
        except Exception as exc:  # any failure: record it, keep the warrant retryable
            logger.exception("export %s of %s failed", export.pk, warrant.reference)
            return _export_fail(export, reason=_failure_reason(exc))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    try:
        if (stored.sha256, stored.size) != (built.sha256, built.size):
            raise RuntimeError("the package changed while it was being sealed")
        return _export_publish(export, built=built, name=name, manifest=manifest)
    except Exception:
        default_storage.delete(name)
        raise


def _built_manifest(built: exports.BuiltPackage) -> str:
    """The signed manifest of a freshly built package, as text (the exact bytes its hash covers)."""
    with zipfile.ZipFile(built.path) as archive:
        data = archive.read("manifest.json")
    if hashlib.sha256(data).hexdigest() != built.manifest_sha256:
        raise RuntimeError("the package's manifest.json is not the manifest that was signed")
    return data.decode("utf-8")


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    return INTERNAL_ERROR % {"kind": type(exc).__name__}


@transaction.atomic(durable=True)
def _export_claim(export: Export) -> Export:
    export = Export.objects.select_for_update().select_related("warrant__agency").get(pk=export.pk)
    if export.status in {Export.Status.READY, Export.Status.FAILED}:
        if export.status == Export.Status.FAILED:
            raise Conflict(_("This export failed; start a new one."), code="export_failed")
        return export
    export.status, export.error = Export.Status.RUNNING, ""
    export.started_at = export.heartbeat_at = timezone.now()
    export.save(update_fields=["status", "started_at", "heartbeat_at", "error"])
    audit_record(
        action=AuditAction.EXPORT_STARTED, warrant=export.warrant, obj=export, actor_label="worker", details={}
    )
    return export


@transaction.atomic(durable=True)
def _export_publish(export: Export, *, built: exports.BuiltPackage, name: str, manifest: str) -> Export:
    export = Export.objects.select_for_update().get(pk=export.pk)
    warrant = Warrant.objects.select_for_update().get(pk=export.warrant_id)
    export.status = Export.Status.READY
    export.package = name
    export.package_sha256, export.package_size = built.sha256, built.size
    export.manifest_sha256, export.counts = built.manifest_sha256, built.counts
    export.manifest = manifest
    export.finished_at = timezone.now()
    export.progress_done = export.progress_total = built.counts["messages"]
    export.stage = "done"
    export.save()
    Disclosure.objects.bulk_create(
        Disclosure(
            export=export,
            account=sender.account,
            role=Disclosure.Role.TARGET if sender.target else Disclosure.Role.PSEUDONYMISED,
            messages=sender.messages,
        )
        for sender in built.senders
    )
    if export.kind == Export.Kind.IDENTITIES:
        # The revealed people join those to be notified; the identities stay out of the audit entry.
        Disclosure.objects.bulk_create(
            Disclosure(export=export, account=account, role=Disclosure.Role.REVEALED) for account in built.revealed
        )
        FollowUpRequest.objects.filter(pk=export.follow_up_id).update(status=FollowUpRequest.Status.DISCLOSED)
        audit_record(
            action=AuditAction.FOLLOWUP_DISCLOSED,
            actor_label="worker",
            warrant=warrant,
            obj=export,
            details={"follow_up": export.follow_up_id, "revealed": len(built.revealed)},
        )
    if warrant.status == Status.EXPORTING:
        note = EXPORT_NOTE % {"number": export.pk}
        warrant_move(warrant=warrant, to=Status.EXPORTED, actor=export.requested_by, note=note, system=True)
    audit_record(
        action=AuditAction.EXPORT_READY,
        actor_label="worker",
        warrant=warrant,
        obj=export,
        details={"sha256": built.sha256, "size": built.size, "manifest_sha256": built.manifest_sha256, **built.counts},
    )
    return export


@transaction.atomic(durable=True)
def _export_fail(export: Export, *, reason: str) -> Export:
    export = Export.objects.select_for_update().get(pk=export.pk)
    warrant = Warrant.objects.select_for_update().get(pk=export.warrant_id)
    export.status, export.error, export.finished_at = Export.Status.FAILED, reason, timezone.now()
    export.save(update_fields=["status", "error", "finished_at"])
    if warrant.status == Status.EXPORTING:
        warrant_move(warrant=warrant, to=Status.APPROVED, actor=export.requested_by, note=reason[:200], system=True)
    audit_record(
        action=AuditAction.EXPORT_FAILED, actor_label="worker", warrant=warrant, obj=export, details={"reason": reason}
    )
    return export


def export_retry(*, warrant: Warrant, actor) -> Export:
    """Start again after a failure, or after an interruption (no progress for STALE_AFTER)."""
    _require_export_rights(actor, warrant)
    latest = warrant.exports.filter(kind=Export.Kind.CONVERSATIONS).order_by("-pk").first()
    if latest is not None and latest.status in {Export.Status.RUNNING, Export.Status.QUEUED}:
        last_sign_of_life = latest.heartbeat_at or latest.started_at or latest.requested_at
        if timezone.now() - last_sign_of_life < STALE_AFTER:
            raise Conflict(_("The export is still running."), code="export_running")
        _export_fail(latest, reason=INTERRUPTED)
    return export_start(warrant=warrant, actor=actor)


@transaction.atomic(durable=True)
def export_open(*, export: Export, actor):
    """Open a ready package for download by an assigned officer; audited. The package is decrypted on
    the fly, every chunk authenticated first, so that a damaged file is refused (409) before the first
    byte; a purged package (``packages.PackagePurged``) or a destroyed key (``KeyDestroyed``) is 410."""
    if not can_export(actor, export.warrant):
        raise PermissionDenied
    handle = packages.package_open(export, verify=True)
    audit_record(
        action=AuditAction.EXPORT_DOWNLOADED,
        actor=actor,
        warrant=export.warrant,
        obj=export,
        details={"sha256": export.package_sha256},
    )
    return handle


@transaction.atomic(durable=True)
def export_manifest_open(*, export: Export, actor) -> bytes:
    """The signed manifest of a package, kept after the package was purged (and after its warrant's
    keys were destroyed: it holds no message content); audited as a download of ``manifest.json``."""
    if not can_export(actor, export.warrant):
        raise PermissionDenied
    if not export.manifest:
        raise Conflict(_("No manifest is kept for this package."), code="no_manifest")
    data = export.manifest.encode("utf-8")
    audit_record(
        action=AuditAction.EXPORT_DOWNLOADED,
        actor=actor,
        warrant=export.warrant,
        obj=export,
        details={"file": "manifest.json", "manifest_sha256": export.manifest_sha256},
    )
    return data


@transaction.atomic(durable=True)
def export_record_delivery(
    *, export: Export, actor, channel: str, recipient: str, delivered_at: dt.datetime | None = None, note: str = ""
) -> Delivery:
    """Record that the package was handed to the agency; the warrant moves to delivered."""
    if not can_export(actor, export.warrant):
        raise PermissionDenied(_("You do not have permission to do this."))
    export = Export.objects.select_for_update().get(pk=export.pk)
    if export.status != Export.Status.READY:
        raise Conflict(_("Only a ready package can be delivered."), code="not_ready")
    delivery = Delivery.objects.create(
        export=export,
        channel=channel,
        recipient=recipient.strip(),
        delivered_at=delivered_at or timezone.now(),
        package_sha256=export.package_sha256,
        recorded_by=actor,
        note=note,
    )
    _mark_delivered(export, actor=actor, note=_delivered_note(delivery.channel, delivery.recipient))
    audit_record(
        action=AuditAction.EXPORT_DELIVERED,
        actor=actor,
        warrant=export.warrant,
        obj=delivery,
        details={"channel": channel, "recipient": delivery.recipient, "sha256": export.package_sha256},
    )
    return delivery


def _delivered_note(channel: str, recipient: str) -> str:
    return DELIVERED_NOTE % {"channel": english(Delivery.Channel(channel).label), "recipient": recipient}


def _mark_delivered(export: Export, *, actor, note: str) -> None:
    warrant = Warrant.objects.select_for_update().get(pk=export.warrant_id)
    if warrant.status == Status.EXPORTED:
        warrant_move(warrant=warrant, to=Status.DELIVERED, actor=actor, note=note, system=True)
    from .notifications import notifications_plan  # the people to notify, due from this delivery on

    notifications_plan(warrant=warrant)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic(durable=True)
def export_issue_link(*, export: Export, actor, recipient: str, hours: int | None = None) -> tuple[DownloadLink, str]:
    """A one-time link for the agency's investigator; returns the link and its token, shown once."""
    if not can_export(actor, export.warrant):
        raise PermissionDenied(_("You do not have permission to do this."))
    export = Export.objects.select_for_update().get(pk=export.pk)
    if export.status != Export.Status.READY:
        raise Conflict(_("Only a ready package can be delivered."), code="not_ready")
    if export.purged_at is not None:
        raise packages.PackagePurged(export)
    if (destroyed_at := keys.warrant_keys_destroyed_at(export.warrant)) is not None:
        raise keys.KeyDestroyed(keystore.warrant_files_key(export.warrant.reference), destroyed_at)
    token = secrets.token_urlsafe(32)
    hours = hours or settings.WARRANTDESK_EXPORT_LINK_HOURS
    link = DownloadLink.objects.create(
        export=export,
        token_sha256=_token_hash(token),
        recipient=recipient.strip(),
        created_by=actor,
        expires_at=timezone.now() + dt.timedelta(hours=hours),
    )
    Delivery.objects.create(
        export=export,
        channel=Delivery.Channel.LINK,
        recipient=link.recipient,
        delivered_at=link.created_at,
        package_sha256=export.package_sha256,
        recorded_by=actor,
        note=f"Link valid until {link.expires_at:%Y-%m-%d %H:%M} UTC",
    )
    _mark_delivered(export, actor=actor, note=_delivered_note(Delivery.Channel.LINK, link.recipient))
    audit_record(
        action=AuditAction.LINK_ISSUED,
        actor=actor,
        warrant=export.warrant,
        obj=link,
        details={"recipient": link.recipient, "expires_at": link.expires_at.isoformat(), "hours": hours},
    )
    return link, token


class LinkRefused(DomainError):
    status_code = 404
    code = "link_refused"

    def __init__(self, message: str, *, status: int = 404):
        super().__init__(message)
        self.status_code = status


def link_use(*, token: str, ip: str | None = None):
    """Open the package behind a one-time link, once, before it expires; every use and refusal audited.

    The package is opened (and authenticated whole) before the link is spent: a purged package or a
    destroyed key (410) or a damaged file (409) refuses the link without using it up."""
    link = DownloadLink.objects.select_related("export__warrant").filter(token_sha256=_token_hash(token)).first()
    now = timezone.now()
    reason, status, handle = None, 404, None
    messages = {
        "unknown": _("This download link is not valid."),
        "used": _("This download link has already been used. Ask the operator for a new one."),
        "expired": _("This download link has expired. Ask the operator for a new one."),
        "unavailable": _("This package is no longer available."),
    }
    if link is None:
        reason = "unknown"
    elif link.used_at is not None:
        reason = "used"
    elif link.expires_at <= now:
        reason = "expired"
    else:
        try:
            handle = packages.package_open(link.export, verify=True)
        except DomainError as refusal:  # purged or key destroyed: 410; altered: 409; not ready: 404
            if refusal.code == "not_available":
                reason = "unavailable"
            else:
                reason, status = refusal.code, refusal.status_code
                messages[reason] = refusal.message
        else:
            if not DownloadLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now, used_ip=ip):
                reason = "used"  # another request won the race
                handle.close()
    if reason is not None:
        audit_record(
            action=AuditAction.LINK_REFUSED,
            actor_label="link",
            warrant=link.export.warrant if link else None,
            obj=link,
            details={"reason": reason},
            ip=ip,
        )
        raise LinkRefused(messages[reason], status=status)
    audit_record(
        action=AuditAction.LINK_USED,
        actor_label=f"link:{link.recipient}"[:150],
        warrant=link.export.warrant,
        obj=link,
        details={"sha256": link.export.package_sha256},
        ip=ip,
    )
    return link.export, handle


def identity_sheet_start(*, follow_up: FollowUpRequest, actor) -> Export:
    """Queue the identity sheet of a decided follow-up request (called once both reviewers decided)."""
    _require_export_rights(actor, follow_up.warrant)
    with transaction.atomic(durable=True):
        follow_up = FollowUpRequest.objects.select_for_update().get(pk=follow_up.pk)
        existing = follow_up.exports.exclude(status=Export.Status.FAILED).first()
        if existing is not None:
            return existing
        if follow_up.status != FollowUpRequest.Status.DECIDED:
            raise Conflict(_("Only a decided request with approved pseudonyms is disclosed."), code="not_decided")
        export = Export.objects.create(
            warrant=follow_up.warrant, kind=Export.Kind.IDENTITIES, follow_up=follow_up, requested_by=actor
        )
        audit_record(
            action=AuditAction.EXPORT_REQUESTED,
            actor=actor,
            warrant=follow_up.warrant,
            obj=export,
            details={"kind": export.kind},
        )
    return export
