"""What a warrant covers: one selector computes it, the preview, the export and the notices use it.

The scope of a warrant is every message of a room sent in the warrant's period ``[start, end)``
while at least one target was a member of that room (optionally only the rooms the warrant names).
Its participants are the senders of those messages, split into targets and non-targets. A target
identifier that matches no account is reported as unmatched, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from requests_app.models import Warrant, WarrantTarget

from .identifiers import normalize_email, normalize_phone
from .models import Account, Membership, Message, Room


@dataclass(frozen=True)
class Interval:
    start: dt.datetime
    end: dt.datetime


@dataclass
class RoomScope:
    room: Room
    intervals: list[Interval]
    messages: int = 0
    participants: set[int] = field(default_factory=set)


@dataclass
class Scope:
    warrant: Warrant
    target_accounts: dict[int, Account]  # account pk -> account
    matched: list[tuple[WarrantTarget, Account]]
    unmatched: list[WarrantTarget]
    rooms: list[RoomScope]

    @property
    def message_count(self) -> int:
        return sum(room.messages for room in self.rooms)

    @property
    def participant_ids(self) -> set[int]:
        return set().union(*(room.participants for room in self.rooms)) if self.rooms else set()

    @property
    def non_target_ids(self) -> set[int]:
        return self.participant_ids - set(self.target_accounts)

    def message_filter(self) -> Q:
        """The scope as one filter on Message, for the export."""
        condition = Q(pk__in=[])
        for room in self.rooms:
            for interval in room.intervals:
                condition |= Q(room_id=room.room.pk, sent_at__gte=interval.start, sent_at__lt=interval.end)
        return condition

    def messages(self) -> QuerySet[Message]:
        return Message.objects.filter(self.message_filter())


def resolve_targets(
    targets: Iterable[WarrantTarget],
) -> tuple[list[tuple[WarrantTarget, Account]], list[WarrantTarget]]:
    """Match each target identifier to an account by its kind (account ID, phone, e-mail)."""
    targets = list(targets)
    keys: dict[str, set[str | None]] = {"UID": set(), "PHONE": set(), "EMAIL": set()}
    for target in targets:
        keys[target.kind].add(_key(target))
    accounts = Account.objects.filter(
        Q(uid__in=keys["UID"]) | Q(phone_normalized__in=keys["PHONE"] - {None}) | Q(email_normalized__in=keys["EMAIL"])
    )
    by_key: dict[tuple[str, str | None], Account] = {}
    for account in accounts:
        by_key[("UID", account.uid)] = account
        if account.phone_normalized:
            by_key[("PHONE", account.phone_normalized)] = account
        if account.email_normalized:
            by_key[("EMAIL", account.email_normalized)] = account
    matched: list[tuple[WarrantTarget, Account]] = []
    unmatched: list[WarrantTarget] = []
    for target in targets:
        found = by_key.get((target.kind, _key(target)))
        if found is None:
            unmatched.append(target)
        else:
            matched.append((target, found))
    return matched, unmatched


def _key(target: WarrantTarget) -> str | None:
    if target.kind == WarrantTarget.Kind.PHONE:
        return normalize_phone(target.identifier)
    if target.kind == WarrantTarget.Kind.EMAIL:
        return normalize_email(target.identifier)
    return target.identifier.strip()


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for interval in sorted(intervals, key=lambda i: i.start):
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def warrant_scope(warrant: Warrant, *, with_participants: bool = True) -> Scope:
    """Compute the scope of ``warrant`` (a few indexed range queries, whatever the store's size)."""
    matched, unmatched = resolve_targets(warrant.targets.all())
    target_accounts = {account.pk: account for _target, account in matched}
    start, end = warrant.period_start, warrant.period_end
    memberships = Membership.objects.filter(account_id__in=target_accounts, joined_at__lt=end).filter(
        Q(left_at__isnull=True) | Q(left_at__gt=start)
    )
    if warrant.rooms:
        memberships = memberships.filter(room__external_id__in=warrant.rooms)
    spans: dict[int, list[Interval]] = defaultdict(list)
    for room_id, joined, left in memberships.values_list("room_id", "joined_at", "left_at"):
        spans[room_id].append(Interval(max(start, joined), min(end, left) if left else end))
    rooms = {room.pk: room for room in Room.objects.filter(pk__in=spans)}
    scoped = [RoomScope(rooms[room_id], _merge(intervals)) for room_id, intervals in spans.items()]
    scoped.sort(key=lambda item: item.room.external_id)
    scope = Scope(warrant, target_accounts, matched, unmatched, scoped)
    if not scoped:
        return scope
    # One grouped query per room interval, not one over an OR of them all: SQLite answers the OR with a
    # MULTI-INDEX OR that keeps every matching rowid in memory (30 MB per million messages).
    # .order_by(): without it the model's default ordering joins the room table.
    for item in scoped:
        for interval in item.intervals:
            in_room = Message.objects.filter(
                room_id=item.room.pk, sent_at__gte=interval.start, sent_at__lt=interval.end
            ).order_by()
            if with_participants:
                for sender_id, count in in_room.values_list("sender_id").annotate(n=Count("pk")):
                    item.messages += count
                    item.participants.add(sender_id)
            else:
                item.messages += in_room.count()
    return scope
