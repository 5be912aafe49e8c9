"""A warrant moves from NOTIFYING to CLOSED by itself once every notice it owes is settled."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from disclosure import notifications
from disclosure.models import Notification
from requests_app.models import FollowUpRequest, Warrant, WarrantEvent
from requests_app.workflow import Status
from tests.helpers import DELIVERED_AT, client_for, delivered_export, send
from warrantdesk.audit import verify_chain
from warrantdesk.models import AuditAction, AuditEntry

DUE = DELIVERED_AT + dt.timedelta(days=31)


def letter(warrant) -> Notification:
    return Notification.objects.get(warrant=warrant, status=Notification.Status.NEEDS_LETTER)


def closing_events(warrant):
    return list(WarrantEvent.objects.filter(warrant=warrant, to_status=Status.CLOSED))


def test_the_last_letter_marked_posted_closes_the_warrant(smtp, delivered, legal_officer):
    with time_machine.travel(DUE, tick=False):
        sent = send()
    delivered.refresh_from_db()
    assert sent.sent == 3 and sent.closed == 0
    assert delivered.status == Status.NOTIFYING  # the paper letter is still owed

    client_for(legal_officer).post(reverse("disclosure:notification-mark-sent", args=[letter(delivered).pk]))

    delivered.refresh_from_db()
    assert delivered.status == Status.CLOSED and delivered.closed_at is not None
    [event] = closing_events(delivered)
    assert (event.from_status, event.actor) == (Status.NOTIFYING, None)
    entry = AuditEntry.objects.filter(action=AuditAction.WARRANT_TRANSITION, warrant_ref=delivered.reference).last()
    assert entry.details["to"] == Status.CLOSED and entry.details["by"] == "system" and entry.actor is None
    assert verify_chain().ok


def test_a_send_run_closes_the_warrant_whose_last_notices_it_sent(smtp, delivered, legal_officer):
    notifications.notification_mark_sent(notification=letter(delivered), actor=legal_officer)
    delivered.refresh_from_db()
    assert delivered.status == Status.NOTIFYING  # the e-mails are not due yet

    with time_machine.travel(DUE, tick=False):
        result = send()
        again = send()

    delivered.refresh_from_db()
    assert result.sent == 3 and result.closed == 1 and again.closed == 0
    assert delivered.status == Status.CLOSED
    assert len(closing_events(delivered)) == 1


def _deferred(notification):
    notification.status, notification.deferred_until = Notification.Status.DEFERRED, DUE + dt.timedelta(days=90)
    notification.defer_justification = "Covert investigation still running."


def _retry_due(notification):
    notification.status, notification.attempts = Notification.Status.FAILED, 1
    notification.next_attempt_at = DUE + dt.timedelta(days=1)


def _given_up(notification):
    notification.status, notification.attempts, notification.next_attempt_at = Notification.Status.FAILED, 6, None


def _unconfirmed(notification):
    notification.status, notification.claim = Notification.Status.SENDING, "crashed"


def _pending_later(notification):
    notification.status, notification.due_at = Notification.Status.PENDING, DUE + dt.timedelta(days=5)


@pytest.mark.parametrize(
    "owed",
    [_deferred, _retry_due, _given_up, _unconfirmed, _pending_later],
    ids=["deferred", "failed-retry-due", "failed-given-up", "sending-unconfirmed", "pending-not-due"],
)
def test_a_warrant_stays_notifying_while_any_notice_is_owed(smtp, delivered, legal_officer, owed):
    with time_machine.travel(DUE, tick=False):
        send()
    # One e-mail notice is put back in an unsettled state; then the letter is confirmed and a run ends.
    notification = Notification.objects.filter(warrant=delivered, channel=Notification.Channel.EMAIL).first()
    owed(notification)
    notification.save()

    notifications.notification_mark_sent(notification=letter(delivered), actor=legal_officer)
    with time_machine.travel(DUE, tick=False):
        result = send()
    closed = notifications.warrants_close_settled()

    delivered.refresh_from_db()
    assert result.closed == 0 and closed == []
    assert delivered.status == Status.NOTIFYING
    assert closing_events(delivered) == []


def test_an_open_follow_up_request_keeps_the_warrant_open(smtp, delivered, legal_officer):
    follow_up = FollowUpRequest.objects.create(
        warrant=delivered,
        reference="FU-TEST-1",
        received_at=DELIVERED_AT,
        deadline=DELIVERED_AT + dt.timedelta(days=7),
        status=FollowUpRequest.Status.IN_REVIEW,
        created_by=legal_officer,
    )
    notifications.notification_mark_sent(notification=letter(delivered), actor=legal_officer)

    with time_machine.travel(DUE, tick=False):
        during = send()
    follow_up.status = FollowUpRequest.Status.REFUSED
    follow_up.save(update_fields=["status"])
    with time_machine.travel(DUE + dt.timedelta(hours=1), tick=False):
        after = send()

    delivered.refresh_from_db()
    assert during.sent == 3 and during.closed == 0
    assert after.closed == 1 and delivered.status == Status.CLOSED


def test_a_given_up_email_switched_to_a_letter_lets_the_warrant_close(smtp, delivered, legal_officer, outsider):
    with time_machine.travel(DUE, tick=False):
        send()
    notifications.notification_mark_sent(notification=letter(delivered), actor=legal_officer)
    bounced = Notification.objects.filter(warrant=delivered, channel=Notification.Channel.EMAIL).first()
    _given_up(bounced)
    bounced.save()
    client = client_for(legal_officer)
    url = reverse("disclosure:notification-to-letter", args=[bounced.pk])

    page = client.get(bounced.get_absolute_url()).content.decode()
    assert client_for(outsider).post(url).status_code == 404
    client.post(url)
    bounced.refresh_from_db()
    assert (bounced.status, bounced.channel) == (Notification.Status.NEEDS_LETTER, Notification.Channel.LETTER)
    with time_machine.travel(DUE + dt.timedelta(days=1), tick=False):
        assert send().sent == 0  # no further e-mail once a letter is owed
    client.post(url)  # a second switch is refused: the notice is no longer a given-up e-mail
    client.post(reverse("disclosure:notification-mark-sent", args=[bounced.pk]))

    delivered.refresh_from_db()
    assert "send a paper letter instead" in page
    assert delivered.status == Status.CLOSED
    assert AuditEntry.objects.filter(action=AuditAction.NOTIFICATION_TO_LETTER).count() == 1
    assert verify_chain().ok


def test_a_delivered_warrant_with_nobody_to_notify_closes_once_notices_would_be_due(smtp, warrant, legal_officer):
    """No target matched an account: the export named no one, so no notice is owed to anyone."""
    Warrant.objects.filter(pk=warrant.pk).update(status=Status.EXPORTED)
    delivered_export(warrant, legal_officer, [])
    warrant.refresh_from_db()
    assert warrant.status == Status.DELIVERED and not Notification.objects.filter(warrant=warrant).exists()

    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=29), tick=False):
        early = send()
    warrant.refresh_from_db()
    assert early.closed == 0 and warrant.status == Status.DELIVERED  # follow-ups may still reveal someone
    with time_machine.travel(DUE, tick=False):
        due = send()

    warrant.refresh_from_db()
    assert due.closed == 1 and warrant.status == Status.CLOSED
    assert [e.to_status for e in WarrantEvent.objects.filter(warrant=warrant).order_by("pk")][-2:] == [
        Status.NOTIFYING,
        Status.CLOSED,
    ]
    assert verify_chain().ok
