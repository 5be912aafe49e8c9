"""User notifications, end to end through a real SMTP server (aiosmtpd on loopback)."""

import datetime as dt
import html.parser
import io
import os
import re
import smtplib
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from disclosure import notifications, services
from disclosure.models import Account, Disclosure, Notification
from disclosure.notifications import sender
from requests_app.models import Warrant
from requests_app.workflow import Status
from tests.conftest import make_pdf_upload, make_warrant, session_cookies
from tests.factories import warrant_fields
from tests.helpers import (
    DELIVERED_AT,
    Collector,
    client_for,
    delivered_export,
    free_port,
    mailers_for,
    run_export,
    send,
)
from warrantdesk.exceptions import Conflict
from warrantdesk.models import AuditAction, AuditEntry


def by_recipient(collector: Collector) -> dict[str, list]:
    found: dict[str, list] = {}
    for message in collector.messages:
        found.setdefault(str(message["To"]), []).append(message)
    return found


def text_of(message) -> tuple[str, str]:
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return plain, html


# --- who and when ----------------------------------------------------------------------------------


def test_delivery_plans_targets_and_revealed_people_but_not_pseudonymised_bystanders(delivered, people):
    planned = {n.account.uid: n for n in Notification.objects.filter(warrant=delivered)}

    assert set(planned) == {"u-target-ko", "u-target-en", "u-revealed", "u-paper"}
    assert planned["u-revealed"].revealed and not planned["u-revealed"].target
    assert planned["u-target-ko"].due_at == DELIVERED_AT + dt.timedelta(days=30)
    assert planned["u-paper"].status == Notification.Status.NEEDS_LETTER
    assert len({n.message_id for n in planned.values()}) == 4


def test_planning_again_adds_nobody(delivered):
    before = list(Notification.objects.values_list("pk", "message_id"))

    notifications.notifications_plan(warrant=delivered)

    assert list(Notification.objects.values_list("pk", "message_id")) == before


def test_the_pseudonymised_setting_adds_never_revealed_people(settings, delivered, people):
    settings.WARRANTDESK_NOTIFY_PSEUDONYMISED = True

    notifications.notifications_plan(warrant=delivered)

    assert Notification.objects.filter(warrant=delivered, account=people["bystander"]).exists()


def test_emergency_warrants_follow_their_own_delay(settings, warrant, legal_officer, people):
    settings.WARRANTDESK_NOTIFY_AFTER_DAYS_EMERGENCY = 90
    Warrant.objects.filter(pk=warrant.pk).update(status=Status.EXPORTED, kind=Warrant.Kind.EMERGENCY)
    warrant.refresh_from_db()

    delivered_export(warrant, legal_officer, [(people["target_ko"], Disclosure.Role.TARGET, 1)])

    assert Notification.objects.get().due_at == DELIVERED_AT + dt.timedelta(days=90)


# --- what and how ----------------------------------------------------------------------------------


def test_every_due_notice_arrives_exactly_once_in_the_recipients_language(smtp, delivered, people):
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=29), tick=False):
        early = send()
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=30, minutes=1), tick=False):
        first = send()
        again = send()

    assert early.sent == 0 and first.sent == 3 and again.sent == 0
    received = by_recipient(smtp)
    assert {to: len(messages) for to, messages in received.items()} == {
        "jihoon@example.kr": 1,
        "alice@example.com": 1,
        "brian@example.com": 1,
    }
    korean = received["jihoon@example.kr"][0]
    plain, html = text_of(korean)
    assert korean["Content-Language"] == "ko"
    assert '<html lang="ko">' in html
    assert "2026년 3월 2일" in plain  # the disclosure date, in Korean date format
    english = received["alice@example.com"][0]
    plain, html = text_of(english)
    assert english["Content-Language"] == "en"
    for text in (plain, html):
        assert delivered.agency.name.replace("'", "") in text.replace("&#x27;", "").replace("'", "")
        assert "Criminal Procedure Act art. 215" in text
        assert "u-target-en" in text
        assert delivered.reference in text
        assert "3 messages you sent" in text
        assert "privacy@warrantdesk.invalid" in text
    assert "March 2, 2026" in plain or "2026-03-02" in plain or "Mar. 2, 2026" in plain
    revealed_plain, _html = text_of(received["brian@example.com"][0])
    assert "Your identity was revealed on a follow-up request" in revealed_plain
    assert "shown under a pseudonym" in revealed_plain
    for notification in Notification.objects.filter(channel=Notification.Channel.EMAIL):
        assert notification.status == Notification.Status.SENT
        assert notification.sent_at == DELIVERED_AT + dt.timedelta(days=30, minutes=1)
        assert str(received[notification.account.email][0]["Message-ID"]) == notification.message_id
    delivered.refresh_from_db()
    assert delivered.status == Status.NOTIFYING


def test_no_other_persons_identifier_appears_in_any_email(smtp, delivered, people):
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=31), tick=False):
        send()

    assert len(smtp.messages) == 3
    for message in smtp.messages:
        raw = message.as_string()
        plain, html = text_of(message)
        everything = "\n".join([raw, plain, html])
        recipient = Account.objects.get(email=str(message["To"]))
        for other in Account.objects.exclude(pk=recipient.pk):
            for identifier in (other.uid, other.display_name, other.email, other.phone):
                if identifier:
                    assert identifier not in everything, (recipient.uid, identifier)
        assert recipient.phone not in everything  # not needed, so not sent either


def test_with_the_server_down_sending_fails_and_is_retried_later_and_arrives_once(settings, delivered, people):
    port = free_port()
    settings.MAILERS = mailers_for(port)  # nobody listens there yet
    due = DELIVERED_AT + dt.timedelta(days=30)

    with time_machine.travel(due, tick=False):
        down = send()
    failed = Notification.objects.filter(status=Notification.Status.FAILED)
    assert down.sent == 0 and down.failed == 3
    assert {(n.attempts, n.next_attempt_at) for n in failed} == {(1, due + dt.timedelta(minutes=1))}
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with time_machine.travel(due + dt.timedelta(seconds=30), tick=False):
            too_soon = send()
        with time_machine.travel(due + dt.timedelta(minutes=2), tick=False):
            retried = send()
            again = send()
    finally:
        controller.stop()

    assert too_soon.sent == 0 and retried.sent == 3 and again.sent == 0
    assert sorted(str(m["To"]) for m in collector.messages) == sorted(
        ["jihoon@example.kr", "alice@example.com", "brian@example.com"]
    )
    assert AuditEntry.objects.filter(action=AuditAction.NOTIFICATION_FAILED).count() == 3


def test_attempts_back_off_and_end_in_failure_shown_to_the_team(settings, delivered):
    settings.MAILERS = mailers_for(free_port())
    settings.WARRANTDESK_NOTIFY_MAX_ATTEMPTS = 3
    moment = DELIVERED_AT + dt.timedelta(days=30)
    waits = []

    for _attempt in range(3):
        with time_machine.travel(moment, tick=False):
            send()
        notification = Notification.objects.filter(account__uid="u-target-ko").get()
        if notification.next_attempt_at:
            waits.append(notification.next_attempt_at - moment)
            moment = notification.next_attempt_at

    assert waits == [dt.timedelta(minutes=1), dt.timedelta(minutes=5)]
    assert notification.status == Notification.Status.FAILED and notification.gave_up
    assert notification.attempts == 3


def test_a_worker_killed_mid_batch_and_restarted_sends_no_duplicate(smtp, delivered, monkeypatch, settings):
    settings.WARRANTDESK_NOTIFY_GROUP = 2  # the three due notices: a group of two, then one
    monkeypatch.setattr(sender, "RECORD_EVERY", 3600)  # record once per group
    real_record = sender._record_sent
    calls = []

    def killed(accepted):
        if accepted:  # the server took the group's messages; the worker dies before recording them
            calls.append([n.pk for n in accepted])
            raise KeyboardInterrupt("killed")
        return real_record(accepted)

    monkeypatch.setattr(sender, "_record_sent", killed)
    moment = DELIVERED_AT + dt.timedelta(days=31)
    with time_machine.travel(moment, tick=False), pytest.raises(KeyboardInterrupt):
        send()
    monkeypatch.setattr(sender, "_record_sent", real_record)

    with time_machine.travel(moment + dt.timedelta(hours=1), tick=False):
        restarted = send()
        once_more = send()

    assert len(smtp.messages) == 3  # two before the crash, the third after the restart
    assert len({str(m["Message-ID"]) for m in smtp.messages}) == 3
    assert restarted.sent == 1 and once_more.sent == 0
    unconfirmed = set(Notification.objects.filter(status=Notification.Status.SENDING).values_list("pk", flat=True))
    assert unconfirmed == set(calls[0]) and len(unconfirmed) == 2
    assert Notification.objects.filter(status=Notification.Status.SENT).count() == 1


def test_an_interrupt_mid_group_records_what_was_accepted_and_releases_what_was_not_sent(smtp, delivered, monkeypatch):
    from django.core.mail.backends.smtp import EmailBackend

    real_send = EmailBackend.send_messages
    handed = []

    def interrupted(self, messages):
        handed.append(str(messages[0].extra_headers["Message-ID"]))
        if len(handed) == 2:  # Ctrl-C while the second message is on its way: its outcome is unknown
            raise KeyboardInterrupt
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", interrupted)
    moment = DELIVERED_AT + dt.timedelta(days=31)
    with time_machine.travel(moment, tick=False), pytest.raises(KeyboardInterrupt):
        send()
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    states = dict(Notification.objects.filter(channel="EMAIL").values_list("message_id", "status"))
    with time_machine.travel(moment + dt.timedelta(minutes=5), tick=False):
        restarted = send()

    assert states[handed[0]] == Notification.Status.SENT  # accepted, recorded on the way out
    assert states[handed[1]] == Notification.Status.SENDING  # in doubt: never sent again by itself
    assert sorted(states.values()).count(Notification.Status.PENDING) == 1  # never handed over: released
    assert restarted.sent == 1
    received = [str(m["Message-ID"]) for m in smtp.messages]
    assert handed[1] not in received and len(received) == len(set(received)) == 2


def test_a_group_is_claimed_recorded_and_audited_together(smtp, delivered, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from warrantdesk.audit import verify_chain

    with (
        time_machine.travel(DELIVERED_AT + dt.timedelta(days=31), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        result = send()

    table = Notification._meta.db_table
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(f'UPDATE "{table}"')]
    assert result.sent == 3
    # moving address-less rows to letters, the claim, the record: not three writes per notice
    assert len(updates) == 3
    entry = AuditEntry.objects.get(action=AuditAction.NOTIFICATION_SENT)
    sent = sorted(Notification.objects.filter(status=Notification.Status.SENT).values_list("pk", flat=True))
    assert entry.details == {"notifications": sent, "count": 3} and entry.warrant_ref == delivered.reference
    for person in people.values():
        for identifier in (person.display_name, person.email, person.phone, person.uid):
            assert not identifier or identifier not in str(entry.details)
    assert verify_chain().ok


def test_the_legal_team_resolves_an_unconfirmed_notice_by_message_id(smtp, delivered, legal_officer):
    notification = Notification.objects.filter(account__uid="u-target-en").get()
    Notification.objects.filter(pk=notification.pk).update(status=Notification.Status.SENDING, claim="x")
    other = Notification.objects.filter(account__uid="u-target-ko").get()
    Notification.objects.filter(pk=other.pk).update(status=Notification.Status.SENDING, claim="y")
    client = client_for(legal_officer)

    listed = client.get(reverse("disclosure:notification-list") + "?status=SENDING")
    client.post(reverse("disclosure:notification-mark-sent", args=[notification.pk]))
    client.post(reverse("disclosure:notification-requeue", args=[other.pk]))
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=31), tick=False):
        result = send()

    assert notification.message_id in listed.content.decode().replace("&lt;", "<").replace("&gt;", ">")
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert result.sent == 2  # the re-queued one and the revealed person's
    requeued = [m for m in smtp.messages if str(m["To"]) == "jihoon@example.kr"]
    assert [str(m["Message-ID"]) for m in requeued] == [other.message_id]


# --- deferral --------------------------------------------------------------------------------------


def test_a_deferral_is_honoured_and_then_expires(smtp, delivered, reviewer):
    notification = Notification.objects.filter(account__uid="u-target-ko").get()
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=10), tick=False):
        notifications.notification_defer(
            notification=notification,
            actor=reviewer,
            until=DELIVERED_AT + dt.timedelta(days=60),
            justification="Telling now would alert an accomplice still under investigation.",
        )

    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=31), tick=False):
        during = send()
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=60, minutes=1), tick=False):
        after = send()

    assert during.sent == 2 and after.sent == 1
    assert [str(m["To"]) for m in smtp.messages].count("jihoon@example.kr") == 1
    entry = AuditEntry.objects.filter(action=AuditAction.NOTIFICATION_DEFERRED).get()
    assert entry.actor == reviewer
    assert "accomplice" not in str(entry.details)


def test_only_a_reviewer_of_the_case_may_defer(delivered, legal_officer, outsider):
    notification = Notification.objects.filter(account__uid="u-target-ko").get()

    for person in (legal_officer, outsider):
        with pytest.raises(Exception, match="reviewer"):
            notifications.notification_defer(
                notification=notification, actor=person, until=timezone.now() + dt.timedelta(days=5), justification="x"
            )

    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING


def test_the_defer_form_needs_a_justification(delivered, reviewer):
    notification = Notification.objects.filter(account__uid="u-target-ko").get()
    until = (timezone.now() + dt.timedelta(days=40)).date().isoformat()
    client = client_for(reviewer)

    client.post(reverse("disclosure:notification-defer", args=[notification.pk]), {"until": until, "justification": ""})
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING
    client.post(
        reverse("disclosure:notification-defer", args=[notification.pk]),
        {"until": until, "justification": "Ongoing covert investigation."},
    )
    notification.refresh_from_db()
    assert notification.status == Notification.Status.DEFERRED


# --- paper letters and pages -----------------------------------------------------------------------


def test_an_account_without_email_gets_a_paper_letter_with_the_notice(delivered, legal_officer):
    notification = Notification.objects.get(account__uid="u-paper")
    client = client_for(legal_officer)

    response = client.get(reverse("disclosure:notification-letter", args=[notification.pk]))
    text = "\n".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages
    )
    client.post(reverse("disclosure:notification-mark-sent", args=[notification.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "이도윤" in text and "u-paper" in text
    assert delivered.reference in text and "Criminal Procedure Act art. 215" in text
    assert "2026년 3월 2일" in text
    for other in ("김지훈", "Alice Walker", "Brian Moss", "010-9999-0000"):
        assert other not in text
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT and notification.channel == Notification.Channel.LETTER


def test_the_legal_team_previews_each_email_and_sees_overdue_ones(delivered, legal_officer):
    notification = Notification.objects.get(account__uid="u-target-en")
    client = client_for(legal_officer)

    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=45), tick=False):
        preview = client.get(reverse("disclosure:notification-preview", args=[notification.pk]))
        listing = client.get(reverse("disclosure:notification-list"))
        panel = client.get(reverse("disclosure:warrant-notifications", args=[delivered.pk]))

    assert preview.status_code == 200
    body = preview.content.decode()
    assert "u-target-en" in body and "3 messages you sent" in body  # the plain text
    [frame] = frames_of(body)
    assert frame["src"] == reverse("disclosure:notification-email-html", args=[notification.pk])
    assert listing.status_code == 200 and panel.status_code == 200
    assert listing.content.decode().count("notification--overdue") == 4
    assert "u-target-ko" in panel.content.decode()


def test_overdue_notices_stand_out_on_the_warrant_list_of_the_cases_officers(delivered, legal_officer, outsider):
    home = reverse("requests_app:warrant-list")
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=10), tick=False):
        early = client_for(legal_officer).get(home).content.decode()
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=45), tick=False):
        late = client_for(legal_officer).get(home).content.decode()
        korean = client_for(legal_officer).get(home, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
        stranger = client_for(outsider).get(home).content.decode()

    assert "overdue" not in early.split("<form")[0]
    assert "4 user notifications are overdue." in late and "?overdue=1" in late
    assert "기한이 지난 이용자 통지가 4건 있습니다." in korean
    assert "user notification" not in stranger


def test_outsiders_see_no_notification_in_the_list(delivered, outsider):
    response = client_for(outsider).get(reverse("disclosure:notification-list"))

    assert response.status_code == 200
    assert delivered.reference not in response.content.decode()


def test_the_command_sends_what_is_due(smtp, delivered):
    out = io.StringIO()
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=31), tick=False):
        call_command("send_notifications", "--batch", "2", stdout=out)

    assert "3 sent" in out.getvalue()
    assert len(smtp.messages) == 3


def test_a_real_export_delivered_plans_its_targets(store, approved_warrant, legal_officer):
    export = run_export(approved_warrant, legal_officer)

    services.export_record_delivery(export=export, actor=legal_officer, channel="IN_PERSON", recipient="Inspector Han")

    targets = set(export.disclosures.filter(role=Disclosure.Role.TARGET).values_list("account_id", flat=True))
    assert targets
    assert set(Notification.objects.filter(warrant=approved_warrant).values_list("account_id", flat=True)) == targets


def test_the_warrant_page_loads_its_notification_panel_once_delivered(db, legal_officer, reviewer, agency, pdf_upload):
    from requests_app import services as warrant_services
    from requests_app.models import Warrant
    from requests_app.services import TargetInput
    from requests_app.workflow import Status

    warrant = warrant_services.warrant_register(
        actor=legal_officer, targets=[TargetInput("UID", "x")], upload=pdf_upload(), **warrant_fields(agency)
    )
    client = client_for(legal_officer)
    before = client.get(warrant.get_absolute_url()).content.decode()
    Warrant.objects.filter(pk=warrant.pk).update(status=Status.DELIVERED)

    after = client.get(warrant.get_absolute_url()).content.decode()
    panel = client.get(f"/disclosure/warrants/{warrant.pk}/notifications/", HTTP_HX_REQUEST="true")

    assert f"/disclosure/warrants/{warrant.pk}/notifications/" not in before
    assert f"/disclosure/warrants/{warrant.pk}/notifications/" in after
    assert panel.status_code == 200 and 'id="notification-panel"' in panel.content.decode()


# --- what the legal team sees: attempts, previews, letters, the sender (issue #10.8) ----------------

DUE = DELIVERED_AT + dt.timedelta(days=31)


class _Frames(html.parser.HTMLParser):
    """The iframes of a page, with their attributes as a browser reads them (entities decoded)."""

    def __init__(self):
        super().__init__()
        self.frames: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.frames.append(dict(attrs))


def frames_of(page: str) -> list[dict]:
    parser = _Frames()
    parser.feed(page)
    return parser.frames


def test_a_sent_notice_counts_its_attempt_and_the_page_shows_it(smtp, delivered, legal_officer, monkeypatch):
    from django.core.mail.backends.smtp import EmailBackend

    real_send = EmailBackend.send_messages
    handed = []

    def dropped(self, messages):
        handed.append(str(messages[0].extra_headers["Message-ID"]))
        if len(handed) == 2:  # the connection drops while the second message is on its way
            raise smtplib.SMTPServerDisconnected("connection lost")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", dropped)
    with time_machine.travel(DUE, tick=False):
        send()
    attempts = dict(Notification.objects.filter(channel="EMAIL").values_list("message_id", "attempts"))
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    with time_machine.travel(DUE, tick=False):
        send()
    notification = Notification.objects.get(message_id=handed[0])
    page = client_for(legal_officer).get(notification.get_absolute_url()).content.decode()

    assert attempts[handed[0]] == 1  # accepted
    assert attempts[handed[1]] == 1  # unconfirmed: an attempt was made, its outcome is unknown
    assert sorted(attempts.values()) == [0, 1, 1]  # the third was never handed over: no attempt
    sent = Notification.objects.filter(status=Notification.Status.SENT)
    assert sorted(n.attempts for n in sent) == [1, 1]
    assert notification.status == Notification.Status.SENT
    assert re.search(r"<dt>Attempts</dt><dd>1</dd>", page)


def test_a_notice_refused_once_then_sent_counts_two_attempts(settings, delivered):
    port = free_port()
    settings.MAILERS = mailers_for(port)
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=30), tick=False):
        send()  # nobody listens: every e-mail fails once
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with time_machine.travel(DELIVERED_AT + dt.timedelta(days=30, minutes=2), tick=False):
            send()
    finally:
        controller.stop()

    emails = Notification.objects.filter(channel=Notification.Channel.EMAIL)
    assert {(n.status, n.attempts) for n in emails} == {(Notification.Status.SENT, 2)}


def test_the_html_preview_is_the_whole_email_escaped_in_a_sandboxed_frame_of_its_own(delivered, legal_officer, people):
    hostile = 'Alice "Al" O\'Neil <script>alert(1)</script> & co'
    Account.objects.filter(pk=people["target_en"].pk).update(display_name=hostile)
    notification = Notification.objects.get(account__uid="u-target-en")
    client = client_for(legal_officer)

    page = client.get(notification.get_absolute_url()).content.decode()
    [frame] = frames_of(page)
    document = client.get(frame["src"]).content.decode()

    assert frame["sandbox"] == ""  # no script, no same origin, no forms, no navigation of the page
    assert frame["src"] == f"/disclosure/notifications/{notification.pk}/email.html"  # an id, no identity
    assert "srcdoc" not in frame
    assert document.startswith("<!doctype html>") and document.rstrip().endswith("</html>")
    assert "Dear Alice &quot;Al&quot; O&#x27;Neil &lt;script&gt;alert(1)&lt;/script&gt; &amp; co," in document
    assert "3 messages you sent" in document and '<html lang="en">' in document
    assert "<script>alert" not in page + document  # neither the frame nor the plain-text block lets it through
    plain = page.split('<pre class="preview-text">')[1].split("</pre>")[0]
    assert "Dear Alice &quot;Al&quot; O&#x27;Neil &lt;script&gt;" in plain


NOTICE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'; sandbox"
)


@pytest.mark.parametrize("route", ["notification-email-html", "notification-letter-html"])
def test_a_notice_document_has_a_policy_of_its_own_its_styles_and_nothing_else(route, delivered, legal_officer):
    notification = Notification.objects.get(account__uid="u-target-ko")
    url = reverse(f"disclosure:{route}", args=[notification.pk])
    client = client_for(legal_officer)

    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    posted = client.post(url)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == NOTICE_POLICY
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Language"] == "ko"  # the person's language, not the reader's
    document = response.content.decode()
    assert '<html lang="ko">' in document and "u-target-ko" in document and "김지훈" in document
    assert "Content-Disposition" not in response
    assert posted.status_code == 405
    # The preview page keeps the application's policy: no inline style, framed by nobody.
    page = client.get(notification.get_absolute_url())
    assert "'unsafe-inline'" not in page["Content-Security-Policy"] and page["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("route", ["notification-email-html", "notification-letter-html"])
def test_a_notice_document_is_for_the_cases_team_only(route, delivered, reviewer, request, client):
    notification = Notification.objects.get(account__uid="u-target-ko")
    url = reverse(f"disclosure:{route}", args=[notification.pk])
    other_case = make_warrant(
        request.getfixturevalue("second_officer"),
        request.getfixturevalue("second_reviewer"),
        delivered.agency,
        make_pdf_upload(),
    )
    strangers = {
        "outsider": request.getfixturevalue("outsider"),
        "officer of another case": other_case.created_by,
        "auditor": request.getfixturevalue("auditor"),
    }

    team = client_for(reviewer).get(url)
    refused = {name: client_for(user).get(url) for name, user in strangers.items()}
    missing = client_for(reviewer).get(reverse(f"disclosure:{route}", args=[notification.pk + 1000]))
    anonymous = client.get(url)

    assert team.status_code == 200 and "김지훈" in team.content.decode()
    assert {name: answer.status_code for name, answer in refused.items()} == dict.fromkeys(strangers, 404)
    for answer in refused.values():
        assert "김지훈" not in answer.content.decode() and answer["X-Frame-Options"] == "DENY"
    assert missing.status_code == 404
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    denials = AuditEntry.objects.filter(action=AuditAction.ACCESS_DENIED).order_by("seq")
    assert [(entry.actor, entry.details["path"]) for entry in denials][-4:] == [
        *((user, url) for user in strangers.values()),
        (reviewer, reverse(f"disclosure:{route}", args=[notification.pk + 1000])),
    ]
    assert not AuditEntry.objects.filter(action=AuditAction.NOTIFICATION_LETTER).exists()  # only the PDF is


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.django_db(transaction=True)
def test_the_preview_shows_the_notice_with_its_own_styles_in_chromium(delivered, legal_officer, live_server):
    """What the legal team sees is what the person gets: the e-mail's style attributes and the letter's
    <style> apply inside the sandboxed frames (a frame given its document in srcdoc would take the page's
    policy, which refuses inline styles, and show the notice unstyled)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}; `make test` installs it")
    from playwright.sync_api import expect, sync_playwright

    email = Notification.objects.get(account__uid="u-target-en").get_absolute_url()
    letter = Notification.objects.get(account__uid="u-paper").get_absolute_url()
    cookies = [
        {"name": name, "value": value, "url": live_server.url}
        for name, value in session_cookies(client_for(legal_officer)).items()
    ]
    refused: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            context = browser.new_context()
            context.set_default_timeout(10_000)
            context.add_cookies(cookies)
            page = context.new_page()
            page.on("console", lambda message: refused.append(message.text) if message.type == "error" else None)
            page.goto(f"{live_server.url}{email}")
            frame = page.frame_locator("iframe.preview-html")
            expect(frame.locator("body")).to_contain_text("Dear Alice Walker,")
            email_body = frame.locator("body").evaluate("body => getComputedStyle(body).color")
            email_table = frame.locator("table").evaluate("table => getComputedStyle(table).borderCollapse")
            footer = frame.locator("p").last.evaluate("p => getComputedStyle(p).borderTopStyle")
            page.goto(f"{live_server.url}{letter}")
            expect(frame.locator("body")).to_contain_text("u-paper")
            heading = frame.locator("h1").evaluate("h1 => getComputedStyle(h1).fontSize")
            sender = frame.locator(".sender").evaluate("div => getComputedStyle(div).color")
        finally:
            browser.close()

    assert (email_body, email_table, footer) == ("rgb(26, 26, 26)", "collapse", "solid")  # its style attributes
    assert (heading, sender) == ("18.6667px", "rgb(51, 51, 51)")  # the letter's <style>: 14pt, #333
    assert not [text for text in refused if "Content Security Policy" in text or "frame" in text.lower()], refused


def test_the_plain_text_preview_wraps_within_the_page(delivered, legal_officer):
    notification = Notification.objects.get(account__uid="u-target-en")
    client = client_for(legal_officer)

    page = client.get(notification.get_absolute_url()).content.decode()
    stylesheet = re.search(r'href="([^"]*app\.css)"', page).group(1)
    css = Path(django_settings.BASE_DIR, "static", "css", "app.css").read_text()

    assert stylesheet and '<pre class="preview-text">' in page
    rule = re.search(r"\.preview-text\s*\{([^}]*)\}", css).group(1)
    assert "white-space: pre-wrap" in rule and "overflow-wrap: anywhere" in rule
    assert 'style="' not in page.split('<section class="panel" aria-labelledby="h-preview">')[1]


def test_a_letter_is_not_marked_posted_before_it_is_due(delivered, legal_officer):
    letter = Notification.objects.get(account__uid="u-paper")
    client = client_for(legal_officer)
    url = reverse("disclosure:notification-mark-sent", args=[letter.pk])

    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=2), tick=False):
        early_page = client.get(letter.get_absolute_url()).content.decode()
        refused = client.post(url, follow=True).content.decode()
        with pytest.raises(Conflict) as raised:
            notifications.notification_mark_sent(notification=letter, actor=legal_officer)
    letter.refresh_from_db()
    assert letter.status == Notification.Status.NEEDS_LETTER and letter.sent_at is None
    assert not AuditEntry.objects.filter(action=AuditAction.NOTIFICATION_CONFIRMED).exists()
    assert raised.value.code == "letter_not_due"
    assert "Letter posted" not in early_page
    assert "The letter is due on 2026-04-01" in early_page
    assert "not due before 2026-04-01" in refused

    with time_machine.travel(DUE, tick=False):
        client = client_for(legal_officer)  # a month later: the earlier session ended on its idle timeout
        due_page = client.get(letter.get_absolute_url()).content.decode()
        client.post(url)

    letter.refresh_from_db()
    assert "Letter posted: mark as sent" in due_page
    assert letter.status == Notification.Status.SENT and letter.attempts == 1


def test_a_deferred_letter_is_not_posted_before_the_deferral_ends(delivered, legal_officer, reviewer):
    letter = Notification.objects.get(account__uid="u-paper")
    until = DELIVERED_AT + dt.timedelta(days=90)
    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=1), tick=False):
        notifications.notification_defer(
            notification=letter, actor=reviewer, until=until, justification="An accomplice is still at large."
        )
    with time_machine.travel(DUE, tick=False):
        send()  # the deferral holds: the letter stays deferred
    letter.refresh_from_db()
    assert letter.status == Notification.Status.DEFERRED
    with time_machine.travel(until + dt.timedelta(minutes=1), tick=False):
        send()  # now owed again, as a letter
        letter.refresh_from_db()
        assert letter.status == Notification.Status.NEEDS_LETTER
        # Its due date had passed, but the deferral ended only now: posted from now on, never before.
        assert notifications.letter_may_be_posted(letter)
        notifications.notification_mark_sent(notification=letter, actor=legal_officer)
    letter.refresh_from_db()
    assert letter.status == Notification.Status.SENT


def test_a_letter_notice_previews_the_letter_not_an_email(delivered, legal_officer, people):
    Account.objects.filter(pk=people["no_email"].pk).update(postal_address="서울특별시 종로구 세종대로 1\n03154")
    letter = Notification.objects.get(account__uid="u-paper")
    client = client_for(legal_officer)

    page = client.get(letter.get_absolute_url()).content.decode()
    [frame] = frames_of(page)
    document = client.get(frame["src"]).content.decode()
    Account.objects.filter(pk=people["no_email"].pk).update(postal_address="")
    without_address = client.get(letter.get_absolute_url()).content.decode()

    assert "E-mail preview" not in page and "Letter preview" in page
    assert "<dd></dd>" not in page  # no empty To
    assert "이도윤<br>서울특별시 종로구 세종대로 1<br>03154" in page
    assert reverse("disclosure:notification-letter", args=[letter.pk]) in page
    assert frame["sandbox"] == "" and frame["src"] == reverse("disclosure:notification-letter-html", args=[letter.pk])
    assert "서울특별시 종로구 세종대로 1" in document and "<style>" in document
    assert "no postal address" not in page and "no postal address" in without_address


def test_the_operator_name_and_address_sign_the_letter_and_the_emails(smtp, delivered, legal_officer, settings, people):
    settings.WARRANTDESK_OPERATOR_NAME = "Hanbit Messenger Inc."
    settings.WARRANTDESK_OPERATOR_ADDRESS = "Privacy Office | 42 Teheran-ro, Gangnam-gu | Seoul 06236"
    Account.objects.filter(pk=people["no_email"].pk).update(postal_address="부산광역시 해운대구 1")
    letter = Notification.objects.get(account__uid="u-paper")

    response = client_for(legal_officer).get(reverse("disclosure:notification-letter", args=[letter.pk]))
    pdf = pypdf.PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    with time_machine.travel(DUE, tick=False):
        send()

    for line in ("Hanbit Messenger Inc.", "Privacy Office", "42 Teheran-ro, Gangnam-gu", "Seoul 06236"):
        assert line in text
    assert "부산광역시 해운대구 1" in text
    assert len(smtp.messages) == 3
    for message in smtp.messages:
        plain, html_part = text_of(message)
        plain = plain.replace("\r\n", "\n")
        assert "Hanbit Messenger Inc.\nPrivacy Office\n42 Teheran-ro, Gangnam-gu\nSeoul 06236" in plain
        assert "Hanbit Messenger Inc.<br>Privacy Office<br>42 Teheran-ro, Gangnam-gu<br>Seoul 06236" in html_part


def test_the_operator_settings_have_demo_defaults_and_are_documented():
    readme = Path(django_settings.BASE_DIR, "README.md").read_text()

    assert django_settings.WARRANTDESK_OPERATOR_NAME and django_settings.WARRANTDESK_OPERATOR_ADDRESS
    assert "| `WARRANTDESK_OPERATOR_NAME` |" in readme and "| `WARRANTDESK_OPERATOR_ADDRESS` |" in readme


def test_the_console_mailer_prints_one_line_per_notice_and_no_identity(delivered, settings, capsys):
    settings.MAILERS = {"default": {"BACKEND": "warrantdesk.mail.EmailBackend"}}
    out = io.StringIO()

    with time_machine.travel(DUE, tick=False):
        call_command("send_notifications", stdout=out)

    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert "3 sent" in out.getvalue()
    assert len(lines) == 3 and all(line.startswith("mail: message-id=<") for line in lines)
    emails = Notification.objects.filter(channel=Notification.Channel.EMAIL).select_related("account")
    for notification in emails:
        domain = notification.account.email.rpartition("@")[2]
        expected = f"mail: message-id={notification.message_id} lang={notification.account.locale} to-domain={domain}"
        assert expected in lines
    for account in Account.objects.all():
        for identifier in (account.uid, account.display_name, account.email, account.phone):
            assert not identifier or identifier not in printed
    assert "Content-Type" not in printed and delivered.agency.name not in printed


def test_make_runs_default_mailer_is_the_one_line_console(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"MAIL_BACKEND", "DATABASE_URL"}}
    env["WARRANTDESK_VAR_DIR"] = str(tmp_path)
    probe = (
        "import django; django.setup(); from django.conf import settings; print(settings.MAILERS['default']['BACKEND'])"
    )

    default = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=django_settings.BASE_DIR
    )
    full = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, "MAIL_BACKEND": "console-full"},
        capture_output=True,
        text=True,
        check=True,
        cwd=django_settings.BASE_DIR,
    )

    assert default.stdout.strip() == "warrantdesk.mail.EmailBackend"
    assert full.stdout.strip() == "django.core.mail.backends.console.EmailBackend"


def test_the_console_line_cannot_be_split_or_carry_an_address():
    from django.core.mail import EmailMessage

    from warrantdesk.mail import summary_line

    message = EmailMessage(
        "s",
        "b",
        "from@x.invalid",
        ["Evil\nmail: forged <a.person@Example.KR\r\nX: y>"],
        headers={"Message-ID": "<a\nb>"},
    )

    line = summary_line(message)

    assert "\n" not in line and "\r" not in line
    assert "a.person" not in line and "Evil" not in line
    assert line.startswith("mail: message-id=<a?b> lang=- to-domain=")
