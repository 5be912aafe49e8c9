"""Retention of the conversation store: preservation holds, the purge, and the retention gap.

The store keeps a message ``WARRANTDESK_RETENTION_DAYS`` days (3 by default) and then deletes it,
unless a preservation hold keeps it. Logging a warrant places a hold on its scope (the rooms and
periods ``scope.warrant_scope`` computes, as ``HoldRange`` rows); the hold is active until the
warrant is closed plus ``WARRANTDESK_HOLD_MARGIN_DAYS`` (or until an agency's preservation order
runs out, if later); rejecting the warrant releases it at once.

The purge (``messages_purge_expired``, the hourly periodic job ``retention.purge``):

1. brings the holds up to date (``holds_refresh``): a warrant without its hold gets one, a rejected
   or expired one is released, and the ranges of every active hold are computed again (the scope
   grows when messages or memberships are imported), so that a hold always equals its scope;
2. deletes, in batches by primary key, every message older than the retention that no active hold's
   range covers (the delete re-checks both conditions: a hold placed meanwhile wins); in the same
   transaction it marks the days it deleted from (``PendingRekey``);
3. then, for each marked day: if no message of the day remains, destroys all of the day's keys
   (generations and fingerprint key); if some remain (held, or not old enough yet), re-seals them
   under the day's next generation and destroys the old one (``bodies.rekey_day``). Either way a copy
   of the database taken before the purge can no longer read what was purged. The mark goes only
   once the keys are gone, so a crash in between is repaired by the next run.

Safe to run twice and side by side (two machines on one PostgreSQL): deleting a deleted row removes
nothing and only rows actually deleted are counted; deletions from a day take its shared advisory
lock and its re-key the exclusive one (``bodies.lock_day``); a day marked again while it was being
re-keyed keeps its mark (``version``) and is re-keyed again. On SQLite every write transaction holds
the database's single write lock.

Each run is audited once (``retention.purged``) with its counts only, never content.

The retention gap (``retention_gap``): how much of a warrant's period was already beyond retention
when the warrant was received. The scope preview (web and API) and the export's manifest show it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from requests_app.models import PreservationOrder, Warrant
from requests_app.workflow import Status
from warrantdesk import faults, keystore
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from . import bodies
from .models import HoldRange, Message, PendingRekey, PreservationHold
from .scope import warrant_scope

logger = logging.getLogger(__name__)

BATCH = 5000
RELEASE_REJECTED = "rejected"
RELEASE_EXPIRED = "expired"


def retention() -> dt.timedelta:
    return dt.timedelta(days=settings.WARRANTDESK_RETENTION_DAYS)


def hold_margin() -> dt.timedelta:
    return dt.timedelta(days=settings.WARRANTDESK_HOLD_MARGIN_DAYS)


def _days(delta: dt.timedelta) -> float:
    """A duration in days, to the hundredth (whole days print as such: 38.0 -> "38")."""
    return round(max(delta, dt.timedelta(0)).total_seconds() / 86400, 2)


# --- the retention gap ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RetentionGap:
    """What retention had already deleted of a warrant's period when the warrant was received.

    ``horizon`` = receipt - retention: messages sent before it had been deleted (unless another
    warrant's hold kept them). ``days_beyond`` is the part of the period ``[start, end)`` before the
    horizon. The figure follows the retention configured now (``WARRANTDESK_RETENTION_DAYS``).
    """

    retention_days: int
    received_at: dt.datetime
    horizon: dt.datetime
    period_start: dt.datetime
    period_end: dt.datetime

    @property
    def days_before_receipt(self) -> float:
        """How long before receipt the period starts (0 if it starts after receipt)."""
        return _days(self.received_at - self.period_start)

    @property
    def days_beyond(self) -> float:
        return _days(min(self.period_end, self.horizon) - self.period_start)

    @property
    def period_days(self) -> float:
        return _days(self.period_end - self.period_start)

    @property
    def affected(self) -> bool:
        return self.period_start < self.horizon

    @property
    def whole_period(self) -> bool:
        return self.period_end <= self.horizon

    def as_dict(self) -> dict:
        """The manifest's ``retention`` object (and the API's)."""
        return {
            "retention_days": self.retention_days,
            "received_at": self.received_at.isoformat(),
            "horizon_at_receipt": self.horizon.isoformat(),
            "period_days": self.period_days,
            "days_before_receipt": self.days_before_receipt,
            "days_beyond_retention": self.days_beyond,
        }


class WarrantDates(Protocol):
    """The dates ``retention_gap`` reads: a ``Warrant``, or a row of them (the transparency report's)."""

    @property
    def received_at(self) -> dt.datetime: ...
    @property
    def period_start(self) -> dt.datetime: ...
    @property
    def period_end(self) -> dt.datetime: ...


def retention_gap(warrant: WarrantDates) -> RetentionGap:
    """The retention gap of ``warrant``: one function for the preview, the API and the manifest."""
    days = settings.WARRANTDESK_RETENTION_DAYS
    return RetentionGap(
        retention_days=days,
        received_at=warrant.received_at,
        horizon=warrant.received_at - dt.timedelta(days=days),
        period_start=warrant.period_start,
        period_end=warrant.period_end,
    )


# --- preservation holds -----------------------------------------------------------------------------


def hold_active_until(hold: PreservationHold) -> dt.datetime | None:
    """When ``hold`` stops keeping its scope: closure plus the margin, or the end of the agency's last
    preservation order if later; None while the warrant is open (or the hold released: see
    ``released_at``)."""
    warrant = hold.warrant
    if hold.released_at is not None or warrant.status != Status.CLOSED or warrant.closed_at is None:
        return None
    until = warrant.closed_at + hold_margin()
    ordered = PreservationOrder.objects.filter(warrant=warrant).aggregate(until=Max("until"))["until"]
    return max(until, ordered) if ordered else until


def _should_be_held(warrant: Warrant, now: dt.datetime) -> bool:
    if warrant.status == Status.REJECTED:
        return False
    if warrant.status == Status.CLOSED and warrant.closed_at is not None:
        until = warrant.closed_at + hold_margin()
        ordered = PreservationOrder.objects.filter(warrant=warrant).aggregate(until=Max("until"))["until"]
        return max(until, ordered) > now if ordered else until > now
    return True


def hold_place(*, warrant: Warrant, actor=None) -> PreservationHold:
    """Place the preservation hold on ``warrant``'s scope (idempotent: an existing hold, active or
    released, is returned as it is). Sent by ``warrant_logged``; the purge places missing ones."""
    return _hold_place(warrant=warrant, actor=actor)[0]


@transaction.atomic(durable=True)
def _hold_place(*, warrant: Warrant, actor=None) -> tuple[PreservationHold, bool]:
    hold, created = PreservationHold.objects.get_or_create(warrant=warrant)
    if created:
        ranges, held = _ranges(warrant, hold)
        HoldRange.objects.bulk_create(ranges)
        hold.refreshed_at, hold.messages_held = timezone.now(), held
        hold.save(update_fields=["refreshed_at", "messages_held"])
        audit_record(
            action=AuditAction.HOLD_PLACED,
            actor=actor,
            warrant=warrant,
            obj=hold,
            details={"rooms": len({item.room_id for item in ranges}), "messages": held},
        )
    return hold, created


def _ranges(warrant: Warrant, hold: PreservationHold) -> tuple[list[HoldRange], int]:
    scope = warrant_scope(warrant, with_participants=False)
    ranges = [
        HoldRange(hold=hold, room=item.room, start=interval.start, end=interval.end)
        for item in scope.rooms
        for interval in item.intervals
    ]
    return ranges, scope.message_count


@transaction.atomic(durable=True)
def hold_release(*, warrant: Warrant, reason: str, actor=None) -> PreservationHold | None:
    """Release ``warrant``'s hold (rejected, or expired after closure plus the margin): its messages
    then go at the next purge like any other. Idempotent; None if the warrant never had a hold."""
    hold = PreservationHold.objects.select_for_update().filter(warrant=warrant).first()
    if hold is None or hold.released_at is not None:
        return hold
    hold.released_at, hold.release_reason = timezone.now(), reason
    hold.save(update_fields=["released_at", "release_reason"])
    audit_record(action=AuditAction.HOLD_RELEASED, actor=actor, warrant=warrant, obj=hold, details={"reason": reason})
    return hold


@transaction.atomic(durable=True)
def _hold_refresh(hold_pk: int) -> int:
    """Recompute the ranges of one active hold (its scope may have grown); returns the messages held."""
    hold = PreservationHold.objects.select_for_update().select_related("warrant").get(pk=hold_pk)
    if hold.released_at is not None:
        return 0
    ranges, held = _ranges(hold.warrant, hold)
    HoldRange.objects.filter(hold=hold).delete()
    HoldRange.objects.bulk_create(ranges)
    hold.refreshed_at, hold.messages_held = timezone.now(), held
    hold.save(update_fields=["refreshed_at", "messages_held"])
    return held


@dataclasses.dataclass
class HoldCounts:
    holds_placed: int = 0
    holds_released: int = 0
    holds_active: int = 0


def holds_refresh(*, now: dt.datetime | None = None) -> HoldCounts:
    """Make the holds match the warrants: place missing ones, release those of rejected warrants and
    expired ones, recompute the ranges of every active one."""
    now = now or timezone.now()
    counts = HoldCounts()
    missing = Warrant.objects.filter(preservation_hold__isnull=True).exclude(status=Status.REJECTED)
    for warrant in list(missing):
        if _should_be_held(warrant, now):
            counts.holds_placed += _hold_place(warrant=warrant)[1]  # get_or_create: another purge may win
    for hold in list(PreservationHold.objects.filter(released_at__isnull=True).select_related("warrant")):
        if not _should_be_held(hold.warrant, now):
            reason = RELEASE_REJECTED if hold.warrant.status == Status.REJECTED else RELEASE_EXPIRED
            hold_release(warrant=hold.warrant, reason=reason)
            counts.holds_released += 1
            continue
        _hold_refresh(hold.pk)
        counts.holds_active += 1
    return counts


def on_warrant_logged(sender, warrant: Warrant, **kwargs) -> None:
    hold_place(warrant=warrant)


def on_warrant_moved(sender, warrant: Warrant, to_status: str, actor=None, **kwargs) -> None:
    if to_status == Status.REJECTED:
        hold_release(warrant=warrant, reason=RELEASE_REJECTED, actor=actor)


# --- the purge --------------------------------------------------------------------------------------


def _covered() -> Exists:
    """An active hold's range covers the message (to filter Message rows)."""
    return Exists(
        HoldRange.objects.filter(
            hold__released_at__isnull=True,
            room_id=OuterRef("room_id"),
            start__lte=OuterRef("sent_at"),
            end__gt=OuterRef("sent_at"),
        )
    )


@dataclasses.dataclass
class PurgeSummary:
    messages_removed: int = 0
    kept_by_holds: int = 0
    days_destroyed: int = 0
    days_rekeyed: int = 0
    unreadable_removed: int = 0
    holds_placed: int = 0
    holds_released: int = 0
    holds_active: int = 0
    finished: bool = True


def _mark(days: list[dt.date]) -> None:
    """Mark ``days`` for re-keying, in the deleting transaction (bump the version of a marked day)."""
    for day in days:
        if PendingRekey.objects.filter(day=day).update(version=F("version") + 1):
            continue
        try:
            with transaction.atomic():
                PendingRekey.objects.create(day=day)
        except IntegrityError:  # marked by another purge meanwhile
            PendingRekey.objects.filter(day=day).update(version=F("version") + 1)


def _delete_batch(rows: list[tuple[int, dt.datetime]], cutoff: dt.datetime) -> int:
    """Delete these expired rows (those still unheld), mark their days; the rows actually deleted."""
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for pk, sent_at in rows:
        by_day[bodies.day_of(sent_at)].append(pk)
    removed = 0
    with transaction.atomic(durable=True):
        touched = []
        for day in sorted(by_day):
            bodies.lock_day(day, shared=True)
            count, _per_model = (
                Message.objects.filter(pk__in=by_day[day], sent_at__lt=cutoff).exclude(_covered()).delete()
            )
            if count:
                removed += count
                touched.append(day)
        _mark(touched)
    return removed


def _finish_day(day: dt.date, summary: PurgeSummary) -> None:
    """Rotate or destroy the keys of a day the purge deleted from, then drop its mark."""
    mark = PendingRekey.objects.filter(day=day).first()
    if mark is None:  # another purge finished it meanwhile
        return
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    with transaction.atomic(durable=True):
        bodies.lock_day(day)
        remains = Message.objects.filter(sent_at__gte=start, sent_at__lt=start + dt.timedelta(days=1)).exists()
    if remains:
        _generation, unreadable = bodies.rekey_day(day)
        summary.days_rekeyed += 1
        summary.unreadable_removed += unreadable
    else:
        # Nothing of the day is left: every key of it goes, the fingerprint key too (a fingerprint
        # can then no longer confirm a guessed message).
        for name in bodies.day_key_names(day):
            keystore.destroy(name)
        summary.days_destroyed += 1
    PendingRekey.objects.filter(pk=mark.pk, version=mark.version).delete()


def messages_purge_expired(*, stop: Callable[[], bool] | None = None, now: dt.datetime | None = None) -> PurgeSummary:
    """Delete the messages older than the retention that no active hold keeps, and make them
    unreadable in every copy of the database (see the module docstring); one audit entry per run
    with the counts. ``stop`` (the periodic runner's) is asked between batches and between days: a
    stopped run leaves the rest to the next one (``finished`` False)."""
    now = now or timezone.now()
    stop = stop or (lambda: False)
    cutoff = now - retention()
    summary = PurgeSummary()
    holds = holds_refresh(now=now)
    summary.holds_placed, summary.holds_released, summary.holds_active = (
        holds.holds_placed,
        holds.holds_released,
        holds.holds_active,
    )
    last = 0
    while not (stopped := stop()):
        rows = list(
            Message.objects.filter(pk__gt=last, sent_at__lt=cutoff)
            .exclude(_covered())
            .order_by("pk")
            .values_list("pk", "sent_at")[:BATCH]
        )
        if not rows:
            break
        last = rows[-1][0]
        summary.messages_removed += _delete_batch(rows, cutoff)
        faults.checkpoint("retention.batch")  # tests/test_faults.py kills the runner here
    # Every marked day, this run's and those a crashed or concurrent run left behind.
    for day in PendingRekey.objects.order_by("day").values_list("day", flat=True):
        if stopped or (stopped := stop()):
            break
        _finish_day(day, summary)
    summary.finished = not stopped
    summary.kept_by_holds = Message.objects.filter(sent_at__lt=cutoff).filter(_covered()).count()
    _audit_purge(summary)
    return summary


@transaction.atomic(durable=True)
def _audit_purge(summary: PurgeSummary) -> None:
    audit_record(action=AuditAction.RETENTION_PURGED, details=dataclasses.asdict(summary))
