"""Crypto-shredding: package expiry and the destruction of a closed warrant's keys (periodic jobs).

**Package expiry** (``packages_expire``, job ``packages.expire``): the file of a delivered package
(conversations package or identity sheet) is deleted ``WARRANTDESK_PACKAGE_DAYS`` (30) days after its
first delivery. ``Export.purged_at`` is set and the signed manifest (``Export.manifest``) and the
hashes stay, so that what was disclosed stays provable; a download then answers 410. Two steps, each
safe to repeat: the export is marked purged (one transaction), then its file is deleted and the
``package`` field cleared; a run that died between the two finishes the deletion next time.

**Key destruction** (``keys_destroy_due``, job ``keys.destroy``): ``WARRANTDESK_KEY_DESTROY_DAYS``
(30) days after a warrant was closed (or rejected), its pseudonym key and its files key are destroyed
in the key store (``keys.case_key_destroy``): its pseudonyms become irreversible and its documents,
packages and identity sheets unreadable, in every copy. A preservation order still running
(``requests_app.PreservationOrder``) postpones it until the order's date. The database never held
those keys (only their names and ``CaseKey.destroyed_at``).

Each run returns its counts, which ``warrantdesk.periodic`` audits (``periodic.ran``); each purged
package (``export.purged``) and each key destruction (``key.destroyed``) is audited on its own, in
the warrant's timeline.
"""

from __future__ import annotations

import datetime as dt
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from requests_app.models import PreservationOrder, Warrant
from requests_app.workflow import Status
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from . import keys
from .models import CaseKey, Export
from .packages import package_open

logger = logging.getLogger(__name__)
BATCH = 100
CLOSED_STATUSES = (Status.CLOSED, Status.REJECTED)


# --- package expiry -------------------------------------------------------------------------------


def package_expires_at(export: Export) -> dt.datetime | None:
    """When a package's file goes (None while it was never delivered)."""
    first = getattr(export, "first_delivery", None)
    if first is None:
        first = export.deliveries.aggregate(first=Min("delivered_at"))["first"]
    return first + dt.timedelta(days=settings.WARRANTDESK_PACKAGE_DAYS) if first else None


def packages_expire(*, now: dt.datetime | None = None, stop: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Delete the files of packages delivered more than ``WARRANTDESK_PACKAGE_DAYS`` ago."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.WARRANTDESK_PACKAGE_DAYS)
    counts = {"packages_purged": 0, "files_deleted": 0, "manifests_recovered": 0}
    due = (
        Export.objects.filter(status=Export.Status.READY, purged_at__isnull=True)
        .exclude(package="")
        .annotate(first_delivery=Min("deliveries__delivered_at"))
        .filter(first_delivery__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in list(due[: BATCH * 100]):
        if stop():
            break
        purged, recovered = _export_mark_purged(pk, now=now)
        counts["packages_purged"] += purged
        counts["manifests_recovered"] += recovered
    counts["files_deleted"] = _purged_files_delete(stop=stop)
    return counts


@transaction.atomic
def _export_mark_purged(pk: int, *, now: dt.datetime) -> tuple[int, int]:
    export = Export.objects.select_for_update().filter(pk=pk, purged_at__isnull=True).first()
    if export is None:  # purged meanwhile by another run
        return 0, 0
    recovered = 0
    if not export.manifest:  # a package published before manifests were kept: keep it now
        export.manifest, recovered = _manifest_from_package(export), 1
    export.purged_at = now
    export.save(update_fields=["purged_at", "manifest"])
    # In the warrant's timeline, with the same transaction: which package went and which manifest stays.
    audit_record(
        action=AuditAction.EXPORT_PURGED,
        actor_label="system",
        warrant=export.warrant,
        obj=export,
        details={
            "kind": export.kind,
            "package_sha256": export.package_sha256,
            "manifest_sha256": export.manifest_sha256,
        },
    )
    return 1, recovered if export.manifest else 0


def _manifest_from_package(export: Export) -> str:
    try:
        with package_open(export) as handle, zipfile.ZipFile(handle) as archive:
            return archive.read("manifest.json").decode("utf-8")
    except Exception as error:  # the package is going anyway; its hashes stay
        logger.warning("export #%s: the manifest could not be read before purging: %s", export.pk, type(error).__name__)
        return ""


def _purged_files_delete(*, stop: Callable[[], bool]) -> int:
    deleted = 0
    leftovers = Export.objects.filter(purged_at__isnull=False).exclude(package="").order_by("pk")
    for export in leftovers.only("pk", "package")[: BATCH * 100]:
        if stop():
            break
        if export.package.name:
            default_storage.delete(export.package.name)  # no error if it is already gone
        deleted += Export.objects.filter(pk=export.pk).exclude(package="").update(package="")
    return deleted


# --- key destruction ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPlan:
    """What happens to a warrant's keys, for its page."""

    destroyed_at: dt.datetime | None = None
    due_at: dt.datetime | None = None  # closure + WARRANTDESK_KEY_DESTROY_DAYS (None while open)
    postponed_until: dt.datetime | None = None
    order: PreservationOrder | None = None  # the order that postpones it furthest
    days: int = 0

    @property
    def destroy_at(self) -> dt.datetime | None:
        return self.postponed_until or self.due_at


def key_plan(warrant: Warrant, *, now: dt.datetime | None = None) -> KeyPlan:
    days = settings.WARRANTDESK_KEY_DESTROY_DAYS
    destroyed_at = keys.warrant_keys_destroyed_at(warrant)
    if destroyed_at is not None:
        return KeyPlan(destroyed_at=destroyed_at, days=days)
    if warrant.status not in CLOSED_STATUSES or warrant.closed_at is None:
        return KeyPlan(days=days)
    due = warrant.closed_at + dt.timedelta(days=days)
    order = (
        PreservationOrder.objects.filter(warrant=warrant, until__gt=max(due, now or timezone.now()))
        .select_related("document")
        .order_by("-until", "-pk")
        .first()
    )
    return KeyPlan(due_at=due, postponed_until=order.until if order else None, order=order, days=days)


def keys_destroy_due(*, now: dt.datetime | None = None, stop: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Destroy the keys of warrants closed more than ``WARRANTDESK_KEY_DESTROY_DAYS`` ago, except
    those a preservation order still keeps."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.WARRANTDESK_KEY_DESTROY_DAYS)
    counts = {"warrants_destroyed": 0, "postponed_by_orders": 0}
    destroyed = CaseKey.objects.filter(destroyed_at__isnull=False).values("warrant_id")
    due = (
        Warrant.objects.filter(status__in=CLOSED_STATUSES, closed_at__lte=cutoff)
        .exclude(pk__in=destroyed)
        .order_by("closed_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in list(due[: BATCH * 100]):
        if stop():
            break
        outcome = _warrant_keys_destroy(pk, now=now, cutoff=cutoff)
        if outcome:
            counts[outcome] += 1
    return counts


@transaction.atomic
def _warrant_keys_destroy(pk: int, *, now: dt.datetime, cutoff: dt.datetime) -> str:
    # The warrant's row is the lock a preservation order takes when it is recorded.
    warrant = Warrant.objects.select_for_update().get(pk=pk)
    if warrant.status not in CLOSED_STATUSES or warrant.closed_at is None or warrant.closed_at > cutoff:
        return ""
    if PreservationOrder.objects.filter(Q(warrant=warrant), until__gt=now).exists():
        return "postponed_by_orders"
    record = CaseKey.objects.filter(warrant=warrant).first()
    if record is not None and record.destroyed_at is not None:
        return ""  # another run did it meanwhile
    keys.case_key_destroy(warrant=warrant, actor=None)
    return "warrants_destroyed"
