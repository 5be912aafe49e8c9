"""The synthetic conversation store: exact counts, determinism, membership periods, realistic content."""

import datetime as dt
import hashlib
import io
import re
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Exists, F, OuterRef, Q

from demo.generator import generate
from disclosure.identifiers import normalize_email, normalize_phone
from disclosure.models import Account, Membership, Message, Room
from disclosure.scope import warrant_scope
from requests_app.models import Warrant, WarrantTarget
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2025, 3, 1, tzinfo=ZoneInfo("Asia/Seoul"))
DAYS = 60
SIZE = {"accounts": 80, "rooms": 16, "messages": 4000}

PHONE = re.compile(r"(?:\+82 10|010)[- ]?\d{4}[- ]?\d{4}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
RRN = re.compile(r"\b\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])-[1-4]\d{6}\b")
HANGUL = re.compile(r"[가-힣]")


def run(seed: int = 7, **size):
    return generate(seed=seed, start=START, days=DAYS, **(SIZE | size))


def messages_of(seed: int):
    return Message.objects.filter(room__external_id__startswith=f"gen-{seed}-room-")


def snapshot(seed: int) -> str:
    """A digest of everything generated for ``seed``, by natural keys (primary keys may differ)."""
    digest = hashlib.sha256()
    for row in (
        Account.objects.filter(uid__startswith=f"gen-{seed}-")
        .order_by("uid")
        .values_list("uid", "display_name", "phone", "phone_normalized", "email", "locale", "created_at")
    ):
        digest.update(repr(row).encode())
    for row in (
        Room.objects.filter(external_id__startswith=f"gen-{seed}-")
        .order_by("external_id")
        .values_list("external_id", "kind", "title", "created_at")
    ):
        digest.update(repr(row).encode())
    for row in (
        Membership.objects.filter(room__external_id__startswith=f"gen-{seed}-")
        .order_by("room__external_id", "account__uid", "joined_at")
        .values_list("room__external_id", "account__uid", "joined_at", "left_at")
    ):
        digest.update(repr(row).encode())
    # Bodies are sealed with random nonces: compare what they say, not their ciphertext.
    for message in messages_of(seed).order_by("pk").select_related("room", "sender"):
        row = (message.room.external_id, message.sender.uid, message.sent_at, message.kind, message.body)
        digest.update(repr(row).encode())
    return digest.hexdigest()


def wipe(seed: int) -> None:
    messages_of(seed).delete()
    Room.objects.filter(external_id__startswith=f"gen-{seed}-").delete()
    Account.objects.filter(uid__startswith=f"gen-{seed}-").delete()


def test_counts_are_exactly_as_asked():
    summary = run()
    assert (summary.accounts, summary.room_count, summary.messages) == (80, 16, 4000)
    assert Account.objects.filter(uid__startswith="gen-7-").count() == 80
    assert Room.objects.filter(external_id__startswith="gen-7-room-").count() == 16
    assert messages_of(7).count() == 4000
    assert summary.memberships == Membership.objects.count()
    assert sum(summary.message_kinds.values()) == 4000
    assert not messages_of(7).filter(fingerprint__isnull=False).exists()
    assert "80 accounts, 16 rooms" in str(summary)


def test_same_seed_same_store_and_other_seeds_differ():
    run()
    first = snapshot(7)
    pks = set(messages_of(7).values_list("pk", flat=True))
    wipe(7)
    assert not Message.objects.exists()
    run()
    assert snapshot(7) == first
    assert pks.isdisjoint(messages_of(7).values_list("pk", flat=True))  # really written twice

    run(seed=8)  # adds a second population next to the first, nothing clashes
    assert snapshot(8) != first
    assert snapshot(7) == first
    assert Account.objects.count() == 160 and Message.objects.count() == 8000


def test_same_seed_again_changes_nothing():
    run()
    before = snapshot(7)
    counts = (Account.objects.count(), Room.objects.count(), Membership.objects.count(), Message.objects.count())
    again = run()
    assert again.already_generated
    assert (again.accounts, again.room_count, again.messages) == (80, 16, 4000)
    assert "already generated" in str(again)
    assert (
        Account.objects.count(),
        Room.objects.count(),
        Membership.objects.count(),
        Message.objects.count(),
    ) == counts
    assert snapshot(7) == before


def test_every_message_is_sent_by_a_member_during_the_membership_and_within_the_period():
    run()
    member_then = Membership.objects.filter(
        room=OuterRef("room"), account=OuterRef("sender"), joined_at__lte=OuterRef("sent_at")
    ).filter(Q(left_at__isnull=True) | Q(left_at__gt=OuterRef("sent_at")))
    assert messages_of(7).count() == 4000
    assert not messages_of(7).exclude(Exists(member_then)).exists()
    end = START + dt.timedelta(days=DAYS)
    assert not messages_of(7).filter(Q(sent_at__lt=START) | Q(sent_at__gte=end)).exists()
    assert not Membership.objects.filter(left_at__lte=F("joined_at")).exists()


def test_rooms_direct_group_and_open_with_late_joiners_and_leavers():
    run(rooms=40, accounts=200)
    members = Room.objects.annotate(n=Count("memberships__account", distinct=True))
    kinds = {kind: [room.n for room in members if room.kind == kind] for kind in Room.Kind.values}
    assert kinds["DIRECT"] and kinds["GROUP"] and kinds["OPEN"]
    assert set(kinds["DIRECT"]) == {2}
    assert all(3 <= n <= 30 for n in kinds["GROUP"])
    assert all(n <= 100 for n in kinds["OPEN"])
    # No two direct rooms between the same two people.
    pairs = [
        tuple(sorted(room.memberships.values_list("account_id", flat=True).distinct()))
        for room in Room.objects.filter(kind=Room.Kind.DIRECT)
    ]
    assert len(pairs) == len(set(pairs))
    assert Membership.objects.filter(joined_at__gt=START).exists()
    assert Membership.objects.filter(left_at__isnull=False).exists()
    assert messages_of(7).filter(kind=Message.Kind.SYSTEM).exists()


def test_accounts_have_korean_phones_some_e_mail_and_both_languages():
    run()
    accounts = list(Account.objects.filter(uid__startswith="gen-7-"))
    for account in accounts:
        assert account.phone_normalized == normalize_phone(account.phone)
        assert account.phone_normalized.startswith("+8210")
        assert account.email_normalized == normalize_email(account.email)
    assert len({a.phone_normalized for a in accounts}) == len(accounts)
    assert any(not a.email for a in accounts) and any(a.email for a in accounts)
    assert {a.locale for a in accounts} == {"ko", "en"}
    assert sum(a.locale == "ko" for a in accounts) > len(accounts) / 2
    assert any(HANGUL.search(a.display_name) for a in accounts)
    assert any(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", a.display_name) for a in accounts)
    assert any(re.fullmatch(r"010-\d{4}-\d{4}", a.phone) for a in accounts)


def test_messages_carry_identifiers_mentions_media_and_both_languages():
    run()
    rows = [(m.room_id, m.sender_id, m.kind, m.body) for m in messages_of(7)]
    texts = [body for _room, _sender, kind, body in rows if kind == Message.Kind.TEXT]
    assert any(PHONE.search(body) for body in texts)
    assert any(EMAIL.search(body) for body in texts)
    assert any(RRN.search(body) for body in texts)
    assert any(HANGUL.search(body) for body in texts)
    assert any(re.fullmatch(r"[\x00-\x7f]*[A-Za-z]{3,}[\x00-\x7f]*", body) for body in texts)
    kinds = {kind for _room, _sender, kind, _body in rows}
    assert {"TEXT", "PHOTO", "EMOTICON", "FILE"} <= kinds
    assert ("PHOTO", "사진") in {(kind, body) for _r, _s, kind, body in rows}
    assert any(kind == "FILE" and body.startswith(("파일: ", "File: ")) for _r, _s, kind, body in rows)

    members: dict[int, set[tuple[int, str]]] = {}
    for room_id, account_id, name in Membership.objects.values_list("room_id", "account_id", "account__display_name"):
        members.setdefault(room_id, set()).add((account_id, name))
    mentions = [(room, sender, body) for room, sender, kind, body in rows if kind == "TEXT" and body.startswith("@")]
    assert mentions
    for room, sender, body in mentions:
        # "@<display name> ..." naming another member of that room
        assert any(body.startswith(f"@{name} ") and other != sender for other, name in members[room]), body


def test_activity_is_skewed():
    run(messages=6000)
    per_room = sorted(messages_of(7).values("room").annotate(n=Count("pk")).values_list("n", flat=True), reverse=True)
    per_sender = sorted(
        messages_of(7).values("sender").annotate(n=Count("pk")).values_list("n", flat=True), reverse=True
    )
    assert per_room[0] > 3 * (6000 / 16)  # the busiest room is far above the average
    top = per_sender[: max(1, len(per_sender) // 10)]
    assert sum(top) > 0.3 * 6000  # a tenth of the writers write a third of it


def test_generated_store_gives_the_same_scope_as_a_brute_force_count():
    run()
    busy = (
        Membership.objects.filter(room__external_id__startswith="gen-7-")
        .values("account")
        .annotate(n=Count("room", distinct=True))
        .order_by("-n", "account")
        .values_list("account", flat=True)[:2]
    )
    first, second = Account.objects.filter(pk__in=list(busy)).order_by("pk")
    officer = UserFactory()
    period_start, period_end = START + dt.timedelta(days=10), START + dt.timedelta(days=40)
    warrant = Warrant.objects.create(
        reference="WD-2025-009999",
        agency=AgencyFactory(),
        warrant_number="2025-GEN-1",
        court="Seoul Central District Court",
        legal_basis="test",
        received_at=period_end,
        deadline=period_end + dt.timedelta(days=7),
        period_start=period_start,
        period_end=period_end,
        created_by=officer,
    )
    # The phone as a warrant writes it, not as the account stored it.
    phone = "+82 10 " + first.phone_normalized[5:9] + " " + first.phone_normalized[9:]
    WarrantTarget.objects.create(warrant=warrant, kind=WarrantTarget.Kind.PHONE, identifier=phone)
    WarrantTarget.objects.create(warrant=warrant, kind=WarrantTarget.Kind.UID, identifier=second.uid)

    scope = warrant_scope(warrant)
    assert set(scope.target_accounts) == {first.pk, second.pk}
    expected = set()
    targets = Membership.objects.filter(account__in=[first, second])
    for message in messages_of(7).filter(sent_at__gte=period_start, sent_at__lt=period_end):
        if any(
            m.room_id == message.room_id
            and m.joined_at <= message.sent_at
            and (m.left_at is None or message.sent_at < m.left_at)
            for m in targets
        ):
            expected.add(message.pk)
    assert expected
    assert scope.message_count == len(expected)
    assert set(scope.messages().values_list("pk", flat=True)) == expected


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="at least 2 accounts"):
        generate(accounts=1, rooms=1, messages=0, seed=1, start=START)
    with pytest.raises(ValueError, match="at least 1 room"):
        generate(accounts=5, rooms=0, messages=10, seed=1, start=START)
    assert not Account.objects.exists()


def test_command_prints_a_summary_and_progress_then_nothing_the_second_time():
    out, err = io.StringIO(), io.StringIO()
    args = ["--accounts", "30", "--rooms", "6", "--messages", "25000", "--seed", "4", "--start", "2025-03-01"]
    call_command("generate_conversations", *args, stdout=out, stderr=err)
    assert "Generated with seed 4: 30 accounts, 6 rooms" in out.getvalue()
    assert "25,000 messages from 2025-03-01 to 2026-03-01" in out.getvalue()
    assert "Messages by kind: " in out.getvalue()
    assert "100% 25,000/25,000 messages" in err.getvalue()
    assert messages_of(4).count() == 25000

    out = io.StringIO()
    call_command("generate_conversations", *args, stdout=out, stderr=io.StringIO())
    assert "Seed 4 is already generated" in out.getvalue()
    assert messages_of(4).count() == 25000

    with pytest.raises(CommandError, match="at least 2 accounts"):
        call_command("generate_conversations", "--accounts", "1", "--seed", "5", stdout=io.StringIO())
