"""Retention of the conversation store: holds keep a warrant's scope, the purge deletes the rest and
makes it unreadable in older copies of the database, and the retention gap is shown honestly."""

import datetime as dt
import json
import threading
import traceback

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from disclosure import bodies, retention
from disclosure.bodies import BodyCipher
from disclosure.models import HoldRange, Message, PendingRekey, PreservationHold, Room
from requests_app import services
from requests_app.models import Warrant, WarrantTarget
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests.factories import (
    AccountFactory,
    AgencyFactory,
    MembershipFactory,
    MessageFactory,
    RoomFactory,
    UserFactory,
    warrant_fields,
)
from tests.helpers import client_for
from warrantdesk import keystore
from warrantdesk.models import AuditAction, AuditEntry

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def day_of(days: float) -> dt.date:
    return bodies.day_of(days_ago(days))


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def chats(db, now):
    """Alice (the target) talks in "held-room" (in the warrant's scope) and in "other-room" with Bob
    outside her membership; Dan talks in "elsewhere" (no target). Messages 10 days old, on one day,
    in and out of scope; and young ones (an hour old)."""
    alice = AccountFactory(uid="u-alice", display_name="Alice")
    bob = AccountFactory(uid="u-bob", display_name="Bob")
    dan = AccountFactory(uid="u-dan", display_name="Dan")
    held_room = RoomFactory(external_id="held-room", kind=Room.Kind.GROUP)
    other_room = RoomFactory(external_id="other-room", kind=Room.Kind.GROUP)
    elsewhere = RoomFactory(external_id="elsewhere", kind=Room.Kind.DIRECT)
    MembershipFactory(room=held_room, account=alice, joined_at=days_ago(100))
    MembershipFactory(room=held_room, account=bob, joined_at=days_ago(100))
    MembershipFactory(room=other_room, account=bob, joined_at=days_ago(100))
    MembershipFactory(room=elsewhere, account=dan, joined_at=days_ago(100))
    old = days_ago(10).replace(hour=10)
    messages = {
        "held": MessageFactory(room=held_room, sender=alice, sent_at=old, body="held: meet at noon"),
        "held by bob": MessageFactory(room=held_room, sender=bob, sent_at=old + dt.timedelta(hours=1), body="ok"),
        "unheld same day": MessageFactory(room=other_room, sender=bob, sent_at=old, body="unheld: bob elsewhere"),
        "unheld other day": MessageFactory(room=elsewhere, sender=dan, sent_at=days_ago(20), body="dan, long ago"),
        "young": MessageFactory(room=elsewhere, sender=dan, sent_at=days_ago(1 / 24), body="dan, an hour ago"),
    }
    return {"alice": alice, "messages": messages, "held_room": held_room}


def log_warrant(legal_officer, agency, django_capture_on_commit_callbacks, **fields) -> Warrant:
    """A warrant on Alice for the past 30 days, logged as the web form does (the hold is placed on commit)."""
    fields = {"period_start": days_ago(30), "period_end": days_ago(0.5), **fields}
    with django_capture_on_commit_callbacks(execute=True):
        return services.warrant_register(
            actor=legal_officer, targets=[TargetInput("UID", "u-alice")], **warrant_fields(agency, **fields)
        )


def alive(pk: int) -> bool:
    return Message.objects.filter(pk=pk).exists()


# --- holds --------------------------------------------------------------------------------------------


def test_logging_a_warrant_places_a_hold_on_its_scope(chats, legal_officer, agency, django_capture_on_commit_callbacks):
    warrant = log_warrant(legal_officer, agency, django_capture_on_commit_callbacks)

    hold = PreservationHold.objects.get(warrant=warrant)
    (held_range,) = HoldRange.objects.filter(hold=hold)
    assert hold.released_at is None and hold.messages_held == 2
    assert held_range.room == chats["held_room"]
    assert (held_range.start, held_range.end) == (warrant.period_start, warrant.period_end)
    placed = AuditEntry.objects.get(action=AuditAction.HOLD_PLACED)
    assert placed.warrant_ref == warrant.reference and placed.details == {"rooms": 1, "messages": 2}


def test_held_messages_survive_a_purge_and_unheld_ones_go(
    chats, legal_officer, agency, django_capture_on_commit_callbacks
):
    log_warrant(legal_officer, agency, django_capture_on_commit_callbacks)
    messages = chats["messages"]

    summary = retention.messages_purge_expired()

    assert alive(messages["held"].pk) and alive(messages["held by bob"].pk) and alive(messages["young"].pk)
    assert not alive(messages["unheld same day"].pk) and not alive(messages["unheld other day"].pk)
    assert Message.objects.get(pk=messages["held"].pk).body == "held: meet at noon"  # re-keyed, still readable
    assert summary.messages_removed == 2 and summary.kept_by_holds == 2
    (entry,) = AuditEntry.objects.filter(action=AuditAction.RETENTION_PURGED)
    assert entry.details["messages_removed"] == 2 and entry.details["kept_by_holds"] == 2
    assert "meet" not in json.dumps(entry.details) and entry.actor is None


def test_without_any_warrant_everything_older_than_the_retention_goes(chats, settings):
    settings.WARRANTDESK_RETENTION_DAYS = 15

    summary = retention.messages_purge_expired()

    assert summary.messages_removed == 1 and summary.kept_by_holds == 0
    assert set(Message.objects.values_list("pk", flat=True)) == {
        chats["messages"][name].pk for name in ("held", "held by bob", "unheld same day", "young")
    }


def test_a_second_purge_removes_nothing_more(chats, legal_officer, agency, django_capture_on_commit_callbacks):
    log_warrant(legal_officer, agency, django_capture_on_commit_callbacks)
    retention.messages_purge_expired()
    generation = Message.objects.get(pk=chats["messages"]["held"].pk).key_generation

    again = retention.messages_purge_expired()

    assert again.messages_removed == 0 and again.kept_by_holds == 2 and again.days_rekeyed == 0
    assert Message.objects.get(pk=chats["messages"]["held"].pk).key_generation == generation
    assert AuditEntry.objects.filter(action=AuditAction.RETENTION_PURGED).count() == 2


def test_a_rejected_warrants_hold_is_released_and_its_messages_then_go(
    chats, legal_officer, reviewer, agency, django_capture_on_commit_callbacks
):
    warrant = log_warrant(legal_officer, agency, django_capture_on_commit_callbacks)
    services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)

    with django_capture_on_commit_callbacks(execute=True):
        services.warrant_reject(warrant=warrant, actor=reviewer, note="Not our service")
    summary = retention.messages_purge_expired()

    hold = PreservationHold.objects.get(warrant=warrant)
    assert hold.released_at is not None and hold.release_reason == retention.RELEASE_REJECTED
    assert not alive(chats["messages"]["held"].pk) and alive(chats["messages"]["young"].pk)
    assert summary.messages_removed == 4 and summary.kept_by_holds == 0
    released = AuditEntry.objects.get(action=AuditAction.HOLD_RELEASED)
    assert released.details == {"reason": "rejected"} and released.actor == reviewer


def test_a_closed_warrants_hold_lasts_the_margin_then_expires(
    chats, legal_officer, agency, settings, django_capture_on_commit_callbacks, time_machine
):
    settings.WARRANTDESK_HOLD_MARGIN_DAYS = 30
    warrant = log_warrant(legal_officer, agency, django_capture_on_commit_callbacks)
    Warrant.objects.filter(pk=warrant.pk).update(status=Status.CLOSED, closed_at=NOW)

    retention.messages_purge_expired()
    kept = alive(chats["messages"]["held"].pk)
    hold = PreservationHold.objects.select_related("warrant").get(warrant=warrant)
    until = retention.hold_active_until(hold)
    time_machine.move_to(NOW + dt.timedelta(days=30, minutes=1), tick=False)
    retention.messages_purge_expired()

    assert kept and until == NOW + dt.timedelta(days=30)
    hold.refresh_from_db()
    assert hold.release_reason == retention.RELEASE_EXPIRED
    assert not alive(chats["messages"]["held"].pk)


def test_the_purge_places_a_hold_the_signal_missed_and_follows_a_grown_scope(chats, legal_officer, agency):
    warrant = services.warrant_register(  # on_commit never runs here: as if the receiver had failed
        actor=legal_officer,
        targets=[TargetInput("UID", "u-alice")],
        **warrant_fields(agency, period_start=days_ago(30), period_end=days_ago(0.5)),
    )
    later_room = RoomFactory(external_id="later-room")
    MembershipFactory(room=later_room, account=chats["alice"], joined_at=days_ago(50))
    late = MessageFactory(room=later_room, sender=chats["alice"], sent_at=days_ago(12), body="imported later")

    summary = retention.messages_purge_expired()

    assert summary.holds_placed == 1 and alive(late.pk) and alive(chats["messages"]["held"].pk)
    assert PreservationHold.objects.get(warrant=warrant).ranges.count() == 2


# --- what a purge leaves readable ---------------------------------------------------------------------


def dump(pks: list[int]) -> list[tuple]:
    """The rows as a copy of the database taken now would hold them."""
    return list(Message.objects.filter(pk__in=pks).values_list("pk", "sealed_body", "sent_at", "key_generation"))


def test_a_purged_days_messages_cannot_be_read_from_a_copy_taken_before_the_purge(
    chats, legal_officer, agency, django_capture_on_commit_callbacks
):
    log_warrant(legal_officer, agency, django_capture_on_commit_callbacks)
    messages = chats["messages"]
    copy = dump([messages[name].pk for name in ("unheld same day", "unheld other day", "held")])
    for name in ("unheld other day", "held"):  # as an import makes them
        BodyCipher(create=True).fingerprint("digest", messages[name].sent_at)
    assert [BodyCipher().open(sealed, sent_at, generation) for _pk, sealed, sent_at, generation in copy]

    retention.messages_purge_expired()

    for _pk, sealed, sent_at, generation in copy:  # the key store as it is now
        with pytest.raises(keystore.KeyDestroyed):
            BodyCipher().open(sealed, sent_at, generation)
    whole_day, held_day = day_of(20), day_of(10)
    assert all(keystore.destroyed_at(name) for name in bodies.day_key_names(whole_day))
    assert keystore.destroyed_at(bodies.fingerprint_key_name(whole_day)) is not None
    assert keystore.destroyed_at(bodies.fingerprint_key_name(held_day)) is None  # re-imports still match
    assert Message.objects.get(pk=messages["held by bob"].pk).body == "ok"
    assert not PendingRekey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_copy_of_the_sqlite_file_taken_before_the_purge_reads_nothing_purged(
    chats, legal_officer, agency, django_capture_on_commit_callbacks, tmp_path
):
    if connection.vendor != "sqlite":
        pytest.skip("copies the SQLite database file")
    import sqlite3

    log_warrant(legal_officer, agency, django_capture_on_commit_callbacks)
    gone = chats["messages"]["unheld same day"]
    with (  # a copy of the database file as it is now (committed: this test runs outside a transaction)
        sqlite3.connect(connection.settings_dict["NAME"]) as live,
        sqlite3.connect(tmp_path / "backup.sqlite3") as backup,
    ):
        live.backup(backup)

    retention.messages_purge_expired()

    with sqlite3.connect(tmp_path / "backup.sqlite3") as backup:
        sealed, generation = backup.execute(
            "SELECT sealed_body, key_generation FROM disclosure_message WHERE id = ?", [gone.pk]
        ).fetchone()
    with pytest.raises(keystore.KeyDestroyed):
        BodyCipher().open(sealed, gone.sent_at, generation)


def test_a_day_a_crashed_purge_left_marked_is_rekeyed_by_the_next_run(chats):
    held = chats["messages"]["held"]
    day = bodies.day_of(held.sent_at)
    PendingRekey.objects.create(day=day)
    copy = dump([held.pk])

    summary = retention.messages_purge_expired(now=NOW - dt.timedelta(days=30))  # nothing is expired yet

    assert summary.messages_removed == 0 and summary.days_rekeyed == 1
    with pytest.raises(keystore.KeyDestroyed):
        BodyCipher().open(*copy[0][1:])
    assert Message.objects.get(pk=held.pk).body == "held: meet at noon"


def test_rekeying_refuses_a_key_store_that_never_had_the_days_keys(chats, settings, tmp_path):
    settings.WARRANTDESK_KEYRING_DIR = tmp_path / "empty-keyring"  # the wrong key store

    with pytest.raises(keystore.KeyUnavailable):
        bodies.rekey_day(day_of(10))

    assert Message.objects.count() == 5


# --- the retention gap ----------------------------------------------------------------------------


@pytest.fixture
def old_period_warrant(chats, legal_officer, agency, django_capture_on_commit_callbacks):
    """Received now; its period starts 41 days before receipt and ends a day before it."""
    return log_warrant(
        legal_officer,
        agency,
        django_capture_on_commit_callbacks,
        received_at=NOW,
        period_start=days_ago(41),
        period_end=days_ago(1),
    )


def test_the_gap_counts_the_days_of_the_period_beyond_retention_at_receipt(old_period_warrant):
    gap = retention.retention_gap(old_period_warrant)

    assert gap.affected and not gap.whole_period
    assert (gap.days_before_receipt, gap.days_beyond, gap.retention_days) == (41, 38, 3)
    assert gap.as_dict()["horizon_at_receipt"] == days_ago(3).isoformat()


@pytest.mark.parametrize(
    ("start", "end", "beyond", "whole"),
    [(2, 1, 0, False), (10, 5, 5, True), (10, 0, 7, False), (3, 1, 0, False), (-1, -5, 0, False)],
)
def test_the_gap_for_every_kind_of_period(start, end, beyond, whole):
    warrant = Warrant(received_at=NOW, period_start=days_ago(start), period_end=days_ago(end) if end else NOW)

    gap = retention.retention_gap(warrant)

    assert gap.days_beyond == beyond and gap.whole_period is whole and gap.affected is (beyond > 0)


def test_the_scope_preview_shows_the_gap(old_period_warrant, legal_officer):
    response = client_for(legal_officer).get(reverse("disclosure:warrant-scope", args=[old_period_warrant.pk]))

    text = " ".join(response.content.decode().split())
    assert "The period starts 41 days before receipt; messages older than 3 days had been deleted: 38 days" in text


def test_the_scope_preview_shows_the_gap_in_korean(old_period_warrant, legal_officer):
    client = client_for(legal_officer)

    response = client.get(
        reverse("disclosure:warrant-scope", args=[old_period_warrant.pk]), headers={"accept-language": "ko"}
    )

    text = " ".join(response.content.decode().split())
    assert "기간은 접수 41일 전에 시작합니다" in text and "38일" in text


def test_the_api_scope_gives_the_gap(old_period_warrant, legal_officer, outsider):
    url = f"/api/v1/warrants/{old_period_warrant.pk}/scope/"

    body = client_for(legal_officer).get(url).json()

    assert body["retention"]["days_beyond_retention"] == 38 and body["retention"]["retention_days"] == 3
    assert client_for(outsider).get(url).status_code == 404


def test_the_export_manifest_records_the_gap(approved_warrant, legal_officer):
    from tests.disclosure.test_exports import package_texts
    from tests.helpers import run_export

    export = run_export(approved_warrant, legal_officer)

    manifest = json.loads(package_texts(export)["manifest.json"])
    gap = retention.retention_gap(approved_warrant)
    assert manifest["retention"] == gap.as_dict()
    assert manifest["retention"]["days_beyond_retention"] == 60  # the generated period ended long before receipt


# --- the legal team sees the holds --------------------------------------------------------------------


def test_the_warrant_page_shows_its_hold(old_period_warrant, legal_officer):
    response = client_for(legal_officer).get(old_period_warrant.get_absolute_url())

    text = " ".join(response.content.decode().split())
    assert 'id="hold-panel"' in text and "Active" in text and "held-room" in text


def test_the_hold_list_shows_only_the_users_cases_in_english_and_korean(old_period_warrant, legal_officer, outsider):
    url = reverse("disclosure:hold-list")

    mine = client_for(legal_officer).get(url).content.decode()
    theirs = client_for(outsider).get(url).content.decode()
    korean = client_for(legal_officer).get(url, headers={"accept-language": "ko"}).content.decode()

    assert old_period_warrant.reference in mine and old_period_warrant.reference not in theirs
    assert "보존 조치" in korean and "활성" in korean


# --- two purges at once -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_two_purges_at_once_delete_nothing_twice_and_fail_nothing():
    """Two purges in two threads (two connections) over many days with held messages in each."""
    alice = AccountFactory(uid="u-alice")
    bob = AccountFactory(uid="u-bob")
    held_room, other = RoomFactory(external_id="held-room"), RoomFactory(external_id="other")
    MembershipFactory(room=held_room, account=alice, joined_at=timezone.now() - dt.timedelta(days=100))
    now = timezone.now()
    cipher = BodyCipher(create=True)
    rows = []
    for day in range(5, 25):
        for n in range(60):
            sent_at = now - dt.timedelta(days=day, minutes=n)
            room = held_room if n % 10 == 0 else other
            sealed, generation = cipher.seal(f"day {day} message {n}", sent_at)
            sender = alice if room == held_room else bob
            rows.append(
                Message(room=room, sender=sender, sent_at=sent_at, sealed_body=sealed, key_generation=generation)
            )
    Message.objects.bulk_create(rows)
    warrant = Warrant.objects.create(
        reference="WD-2026-900001",
        agency=AgencyFactory(),
        warrant_number="2026-RACE-1",
        court="Seoul Central District Court",
        legal_basis="Criminal Procedure Act art. 215",
        received_at=now,
        deadline=now + dt.timedelta(days=3),
        period_start=now - dt.timedelta(days=30),
        period_end=now,
        created_by=UserFactory(),
    )
    WarrantTarget.objects.create(warrant=warrant, kind=WarrantTarget.Kind.UID, identifier="u-alice")
    retention.hold_place(warrant=warrant)
    summaries, errors = [], []
    barrier = threading.Barrier(2)

    def purge():
        try:
            barrier.wait()
            summaries.append(retention.messages_purge_expired())
        except Exception as exc:  # the assertion below names it
            errors.append("".join(traceback.format_exception(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert sum(summary.messages_removed for summary in summaries) == 20 * 54
    assert Message.objects.count() == 20 * 6
    assert all(message.body.startswith("day ") for message in Message.objects.all())
    assert not PendingRekey.objects.exists()
    purged = AuditEntry.objects.filter(action=AuditAction.RETENTION_PURGED)
    assert sum(entry.details["messages_removed"] for entry in purged) == 20 * 54
