"""Fast, realistic bench data: bulk inserts that bypass the services but keep every invariant.

Imported only after django.setup() (see bench/run.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone
from guardian.models import UserObjectPermission

from requests_app.models import Agency, ReferenceCounter, Warrant, WarrantTarget
from requests_app.workflow import Status
from warrantdesk.audit import GENESIS_HASH, entry_hash
from warrantdesk.models import AuditAction, AuditChainHead, AuditEntry
from warrantdesk.roles import Role, sync_roles

BATCH = 2000

# username, role: the demo personas (none is a superuser; admin sees all through its group)
USERS = [
    ("officer.kim", Role.INTAKE_OFFICER),
    ("officer.lee", Role.INTAKE_OFFICER),
    ("reviewer.park", Role.REVIEWER),
    ("auditor.choi", Role.AUDITOR),
    ("admin", Role.ADMINISTRATOR),
]

AGENCIES = [
    ("scdpo", "Seoul Central District Prosecutors' Office", Agency.Kind.PROSECUTION),
    ("knpa-cyber", "Korean National Police Agency, Cyber Bureau", Agency.Kind.POLICE),
    ("sdpo", "Suwon District Prosecutors' Office", Agency.Kind.PROSECUTION),
    ("bmpa", "Busan Metropolitan Police Agency", Agency.Kind.POLICE),
]


def settle() -> None:
    """Bring the database to the state a long-running one is in after a bulk load.

    SQLite: fold the write-ahead log back into the database file (a running site checkpoints
    continuously). PostgreSQL: refresh the planner statistics, as autovacuum would soon do.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif connection.vendor == "postgresql":
            cursor.execute("ANALYZE")


def users() -> dict:
    """The bench personas, in their role groups; no password (the bench uses force_login)."""
    sync_roles()
    User = get_user_model()
    found = {}
    for username, role in USERS:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role.value))
        found[username] = user
    return found


def agencies() -> list[Agency]:
    return [
        Agency.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})[0]
        for code, name, kind in AGENCIES
    ]


# --- audit chain ----------------------------------------------------------------------------------


def _audit_rows(count: int, people: dict, rng: random.Random) -> Iterator[dict]:
    """Entry fields in chain order, with plausible actions, actors, references, details and addresses."""
    actors = [people["officer.kim"], people["officer.lee"], people["reviewer.park"], people["admin"]]
    auditor = people["auditor.choi"]
    statuses = [(Status.RECEIVED, Status.VERIFIED), (Status.VERIFIED, Status.APPROVED), (Status.APPROVED, "EXPORTING")]
    at = timezone.now() - dt.timedelta(days=400)
    year = at.year
    for index in range(count):
        at += dt.timedelta(seconds=rng.randint(5, 600), microseconds=rng.randint(0, 999_999))
        warrant_no = 1 + index // 12
        ref = f"WD-{year}-{warrant_no:06d}"
        roll = rng.random()
        actor = rng.choice(actors)
        details: dict[str, Any]
        ip: str | None
        obj_type, obj_id, ip = (
            "requests_app.warrant",
            str(warrant_no),
            f"10.20.{rng.randint(0, 40)}.{rng.randint(2, 250)}",
        )
        if roll < 0.25:
            action, details = (
                AuditAction.WARRANT_TRANSITION,
                dict(
                    zip(("from", "to"), rng.choice(statuses), strict=True), note="", by=rng.choice(["user", "system"])
                ),
            )
        elif roll < 0.40:
            action = AuditAction.WARRANT_CREATED
            details = {"agency": rng.choice(AGENCIES)[0], "kind": "ORDINARY", "via": "PORTAL", "targets": 2}
        elif roll < 0.52:
            action, obj_type, obj_id = AuditAction.DOCUMENT_UPLOADED, "requests_app.document", str(index)
            details = {"kind": "WARRANT", "sha256": hashlib.sha256(b"%d" % index).hexdigest(), "size": 48_213}
        elif roll < 0.64:
            action, obj_type, obj_id = AuditAction.DOCUMENT_VIEWED, "requests_app.document", str(index)
            details = {"sha256": hashlib.sha256(b"%d" % index).hexdigest()}
        elif roll < 0.72:
            action, details = AuditAction.WARRANT_ASSIGNED, {"officer": "reviewer.park"}
        elif roll < 0.86:
            action, ref, obj_type, obj_id, details = AuditAction.LOGIN, "", "", "", {}
        elif roll < 0.93:
            action, ref, obj_type, obj_id, details = AuditAction.LOGOUT, "", "", "", {}
        elif roll < 0.97:
            action, ref, obj_type, obj_id = AuditAction.ACCESS_DENIED, "", "", ""
            details = {
                "object_type": "warrant",
                "object_id": str(warrant_no + 7),
                "path": f"/warrants/{warrant_no + 7}/",
            }
            ip = "2001:db8::" + format(rng.randint(1, 0xFFFF), "x")  # already in Django's normalised form
        elif roll < 0.99:
            action, actor, ref, obj_type, obj_id = AuditAction.AUDIT_EXPORTED, auditor, "", "", ""
            details = {"rows": rng.randint(10, 5000), "filters": {"action": "warrant.created"}}
        else:  # the application's own steps: no actor, no address
            action, actor, ip = AuditAction.WARRANT_TRANSITION, None, None
            details = {"from": "APPROVED", "to": "EXPORTING", "note": "", "by": "system"}
        yield {
            "at": at,
            "actor_id": actor.pk if actor else None,
            "actor_label": actor.get_username() if actor else "system",
            "action": str(action),
            "warrant_ref": ref,
            "object_type": obj_type,
            "object_id": obj_id,
            "ip": ip,
            "details": details,
        }


def audit_chain(count: int, people: dict, *, seed: int = 42) -> str:
    """Append ``count`` valid entries after the current head; returns the new head hash."""
    rng = random.Random(seed)
    head = AuditChainHead.objects.get(pk=1)
    seq, prev = head.seq, head.hash
    if seq == 0 and prev != GENESIS_HASH:
        raise RuntimeError("audit head is inconsistent; start from a fresh database")
    batch: list[AuditEntry] = []
    with transaction.atomic():
        for fields in _audit_rows(count, people, rng):
            seq += 1
            digest = entry_hash(prev_hash=prev, **fields)
            batch.append(AuditEntry(seq=seq, prev_hash=prev, hash=digest, **fields))
            prev = digest
            if len(batch) == BATCH:
                AuditEntry.objects.bulk_create(batch)
                batch = []
        AuditEntry.objects.bulk_create(batch)
        AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return prev


# --- warrants -------------------------------------------------------------------------------------

# status, weight, has verified_at, approved, closed
_STATUS_MIX = [
    (Status.RECEIVED, 30, False, False, False),
    (Status.VERIFIED, 15, True, False, False),
    (Status.SIGNATURE_FAILED, 5, False, False, False),
    (Status.APPROVED, 12, True, True, False),
    (Status.EXPORTING, 3, True, True, False),
    (Status.EXPORTED, 5, True, True, False),
    (Status.DELIVERED, 5, True, True, False),
    (Status.REJECTED, 5, False, False, True),
    (Status.CLOSED, 20, True, True, True),
]


def warrants(count: int, *, officer, reviewer, agency_list: list[Agency], seed: int = 7) -> int:
    """Add ``count`` warrants logged by ``officer`` (object permission on each), 1-3 targets each.

    Received over the past year, so most of the open ones are overdue: the overdue filter has work to do.
    Returns how many warrants exist now.
    """
    rng = random.Random(seed + Warrant.objects.count())
    now = timezone.now()
    year = now.year
    counter, _created = ReferenceCounter.objects.get_or_create(year=year)
    view = Permission.objects.get(content_type__app_label="requests_app", codename="view_warrant")
    content_type = ContentType.objects.get_for_model(Warrant)
    statuses = [row for row in _STATUS_MIX for _ in range(row[1])]
    with transaction.atomic():
        done = 0
        while done < count:
            size = min(BATCH, count - done)
            rows = []
            for _ in range(size):
                counter.last += 1
                number = counter.last
                status, _weight, verified, approved, closed = rng.choice(statuses)
                received = now - dt.timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 1440))
                emergency = rng.random() < 0.1
                deadline = received + (dt.timedelta(days=1) if emergency else dt.timedelta(days=rng.randint(5, 60)))
                rows.append(
                    Warrant(
                        reference=f"WD-{year}-{number:06d}",
                        agency=rng.choice(agency_list),
                        warrant_number=f"{year}-압수-{number:05d}",
                        court="Seoul Central District Court",
                        case_number=f"{year}고단{3000 + number}",
                        legal_basis="Criminal Procedure Act art. 215; Protection of Communications Secrets Act art. 13",
                        kind=Warrant.Kind.EMERGENCY if emergency else Warrant.Kind.ORDINARY,
                        received_at=received,
                        received_via=rng.choice(Warrant.Via.values),
                        deadline=deadline,
                        period_start=received - dt.timedelta(days=90),
                        period_end=received - dt.timedelta(days=1),
                        rooms=[f"room-{rng.randint(1, 99999)}"] if rng.random() < 0.3 else [],
                        status=status,
                        created_by=officer,
                        created_at=received,
                        verified_at=received + dt.timedelta(hours=1) if verified else None,
                        approved_by=reviewer if approved else None,
                        approved_at=received + dt.timedelta(hours=5) if approved else None,
                        closed_at=received + dt.timedelta(days=3) if closed else None,
                    )
                )
            Warrant.objects.bulk_create(rows)
            targets, perms = [], []
            for warrant in rows:
                kinds = rng.sample(WarrantTarget.Kind.values, rng.randint(1, 3))
                for kind in kinds:
                    identifiers: dict[str, str] = {
                        WarrantTarget.Kind.UID: f"user-{warrant.pk}",
                        WarrantTarget.Kind.PHONE: f"010-{warrant.pk % 10000:04d}-{rng.randint(0, 9999):04d}",
                        WarrantTarget.Kind.EMAIL: f"t{warrant.pk}@mail.example",
                    }
                    identifier = identifiers[kind]
                    targets.append(WarrantTarget(warrant=warrant, kind=kind, identifier=identifier))
                perms.append(
                    UserObjectPermission(
                        user=officer, permission=view, content_type=content_type, object_pk=str(warrant.pk)
                    )
                )
            WarrantTarget.objects.bulk_create(targets)
            UserObjectPermission.objects.bulk_create(perms)
            done += size
        counter.save(update_fields=["last"])
    return Warrant.objects.count()
