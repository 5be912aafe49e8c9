"""The scope of a warrant: rooms of the targets, messages in [start, end) while a target was a
member, participants split into targets and non-targets, unknown identifiers reported."""

import datetime as dt

import pytest
from django.urls import reverse

from disclosure.models import Account, Message, Room
from disclosure.scope import warrant_scope
from requests_app import services
from requests_app.models import WarrantTarget
from requests_app.services import TargetInput
from tests.factories import AccountFactory, MembershipFactory, MessageFactory, RoomFactory, warrant_fields
from tests.helpers import client_for

T0 = dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)
START, END = T0 + dt.timedelta(days=10), T0 + dt.timedelta(days=20)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def account(uid: str, name: str, phone: str = "", email: str = "") -> Account:
    return AccountFactory(uid=uid, display_name=name, phone=phone, email=email)


def say(room: Room, sender: Account, when: dt.datetime, body: str = "hello") -> Message:
    return MessageFactory(room=room, sender=sender, sent_at=when, body=body)


@pytest.fixture
def store(db):
    """Alice (a target) in two rooms; she leaves "late-night" on day 15 and joins "book-club" on day 12."""
    alice = account("u-alice", "Alice", phone="010-1234-5678", email="Alice@Example.com")
    bob = account("u-bob", "Bob")
    carol = account("u-carol", "Carol")
    dan = account("u-dan", "Dan")
    late_night = RoomFactory(external_id="late-night", kind=Room.Kind.GROUP, title="Late night")
    book_club = RoomFactory(external_id="book-club", kind=Room.Kind.GROUP)
    elsewhere = RoomFactory(external_id="elsewhere", kind=Room.Kind.DIRECT)
    MembershipFactory(room=late_night, account=alice, joined_at=at(0), left_at=at(15))
    MembershipFactory(room=late_night, account=bob, joined_at=at(0))
    MembershipFactory(room=book_club, account=alice, joined_at=at(12))
    MembershipFactory(room=book_club, account=carol, joined_at=at(0))
    MembershipFactory(room=elsewhere, account=dan, joined_at=at(0))
    MembershipFactory(room=elsewhere, account=bob, joined_at=at(0))
    messages = {
        "before period": say(late_night, bob, START - dt.timedelta(microseconds=1)),
        "at start": say(late_night, bob, START),
        "alice in late-night": say(late_night, alice, at(14)),
        "after alice left": say(late_night, bob, at(15)),
        "carol before alice joined": say(book_club, carol, at(11)),
        "carol after alice joined": say(book_club, carol, at(13)),
        "at end": say(book_club, carol, END),
        "just before end": say(book_club, carol, END - dt.timedelta(microseconds=1)),
        "room without targets": say(elsewhere, dan, at(14)),
    }
    return {"alice": alice, "bob": bob, "carol": carol, "dan": dan, "messages": messages}


@pytest.fixture
def scoped_warrant(store, legal_officer, reviewer, agency):
    warrant = services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("PHONE", "+82 10-1234-5678"), TargetInput("UID", "u-nobody")],
        **warrant_fields(agency, period_start=START, period_end=END),
    )
    services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
    return warrant


def test_the_scope_respects_membership_periods_and_exact_bounds(scoped_warrant, store):
    scope = warrant_scope(scoped_warrant)

    included = set(scope.messages().values_list("pk", flat=True))
    expected = {"at start", "alice in late-night", "carol after alice joined", "just before end"}
    assert included == {store["messages"][name].pk for name in expected}
    assert scope.message_count == 4
    assert [room.room.external_id for room in scope.rooms] == ["book-club", "late-night"]


def test_participants_are_split_into_targets_and_non_targets(scoped_warrant, store):
    scope = warrant_scope(scoped_warrant)

    assert scope.participant_ids == {store["alice"].pk, store["bob"].pk, store["carol"].pk}
    assert scope.non_target_ids == {store["bob"].pk, store["carol"].pk}
    assert set(scope.target_accounts) == {store["alice"].pk}


def test_a_target_that_matches_no_account_is_reported_not_dropped(scoped_warrant):
    scope = warrant_scope(scoped_warrant)

    assert [(t.kind, t.identifier) for t in scope.unmatched] == [("UID", "u-nobody")]
    assert [(t.identifier, a.uid) for t, a in scope.matched] == [("+82 10-1234-5678", "u-alice")]


@pytest.mark.parametrize(
    ("kind", "identifier"),
    [("UID", "u-alice"), ("PHONE", "010-1234-5678"), ("PHONE", "01012345678"), ("EMAIL", "alice@example.COM")],
)
def test_targets_are_matched_by_account_id_phone_or_email_in_any_usual_form(scoped_warrant, store, kind, identifier):
    WarrantTarget.objects.filter(warrant=scoped_warrant).delete()
    WarrantTarget.objects.create(warrant=scoped_warrant, kind=kind, identifier=identifier)

    scope = warrant_scope(scoped_warrant)

    assert list(scope.target_accounts) == [store["alice"].pk]


def test_named_rooms_limit_the_scope(scoped_warrant, store):
    scoped_warrant.rooms = ["book-club"]
    scoped_warrant.save(update_fields=["rooms"])

    scope = warrant_scope(scoped_warrant)

    assert [room.room.external_id for room in scope.rooms] == ["book-club"]
    assert scope.message_count == 2


def test_the_preview_is_shown_to_assigned_officers_without_non_target_identities(scoped_warrant, reviewer, store):
    client = client_for(reviewer)

    page = client.get(reverse("requests_app:warrant-detail", args=[scoped_warrant.pk])).content.decode()
    panel = client.get(reverse("disclosure:warrant-scope", args=[scoped_warrant.pk])).content.decode()

    assert 'hx-trigger="load"' in page
    assert "u-nobody" in panel and "match no account" in panel
    assert "late-night" in panel and "u-alice" in panel
    for secret in ("Bob", "Carol", "u-bob", "u-carol"):
        assert secret not in panel


def test_the_api_gives_the_same_scope(scoped_warrant, reviewer):
    response = client_for(reviewer).get(f"/api/v1/warrants/{scoped_warrant.pk}/scope/")

    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"rooms": 2, "messages": 4, "participants": 3, "targets": 1, "non_targets": 2}
    assert body["unmatched"] == [{"kind": "UID", "identifier": "u-nobody"}]
    assert "u-bob" not in response.content.decode()
