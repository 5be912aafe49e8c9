"""Follow-up de-anonymisation requests in the web UI and the API, and in a real browser as the
officer and the two reviewers use them: logging the signed request from the alias table of the
delivered export, the per-pseudonym decisions, and the identity sheet downloaded, never shown."""

import datetime as dt
import io
import json
import os
import re
import zipfile
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from django.urls import reverse
from django.utils.html import escape
from django_otp.plugins.otp_totp.models import TOTPDevice

from demo.generator import generate
from disclosure import keys, pseudonyms
from disclosure import services as disclosure_services
from disclosure.followups import services as followups
from disclosure.followups.aliases import delivered_aliases
from disclosure.models import Account, Delivery, Disclosure, Export
from disclosure.packages import package_open
from requests_app import registry, services
from requests_app.models import Document, FollowUpDecision, FollowUpRequest, FollowUpToken, Warrant
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests import pki
from tests.factories import PASSWORD, warrant_fields
from tests.helpers import client_for, stored_files, verify_signature
from warrantdesk.models import AuditEntry
from warrantdesk.two_factor import confirmed_totp, current_code

START = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)  # the store's messages: March and April 2025
RECEIVED = pki.RECEIPT  # the follow-up's receipt: the test certificates are valid then
DEADLINE = RECEIVED + dt.timedelta(days=7)
CHROMIUM = Path("/usr/bin/chromium")


# --- arrange: a registry, a store, a warrant exported and delivered ----------------------------------


@pytest.fixture
def agency_a(agency_a, ca):
    """Agency A (tests/requests_app/conftest.py) with chief Kim Min-jun and investigator Lee Seo-yeon."""
    agency = agency_a
    registry.investigator_register(
        agency=agency, certificate=ca.chief_a.pem, name="Kim Min-jun", title="Chief", is_chief=True, actor=None
    )
    registry.investigator_register(agency=agency, certificate=ca.investigator_a.pem, name="Lee Seo-yeon", actor=None)
    return agency


@pytest.fixture
def signed_request(ca) -> bytes:
    return pki.sign_pdf(pki.make_pdf(title="Follow-up request"), ca.chief_a)


def deliver_warrant(*, agency, officer, reviewers) -> Warrant:
    """A warrant on the busiest account of a small generated store, approved, exported and delivered."""
    generate(accounts=16, rooms=3, messages=240, seed=23, start=START, days=60)
    busiest = Account.objects.annotate(n=Count("messages")).order_by("-n").first()
    warrant = services.warrant_register(
        actor=officer,
        targets=[TargetInput("UID", busiest.uid)],
        upload=SimpleUploadedFile("warrant.pdf", pki.make_pdf(), "application/pdf"),
        **warrant_fields(
            agency,
            received_at=START + dt.timedelta(days=75),
            deadline=START + dt.timedelta(days=82),
            period_start=START,
            period_end=START + dt.timedelta(days=60),
        ),
    )
    for reviewer in reviewers:
        services.warrant_assign(warrant=warrant, user=reviewer, actor=officer)
    verify_signature(warrant, actor=officer)
    services.warrant_approve(warrant=warrant, actor=reviewers[0])
    export = disclosure_services.export_run(export=disclosure_services.export_start(warrant=warrant, actor=officer))
    assert export.status == Export.Status.READY, export.error
    disclosure_services.export_record_delivery(
        export=export, actor=officer, channel=Delivery.Channel.PORTAL, recipient="Agency A portal"
    )
    warrant.refresh_from_db()
    assert warrant.status == Status.DELIVERED
    return warrant


@pytest.fixture
def delivered(agency_a, legal_officer, reviewer, second_reviewer) -> Warrant:
    return deliver_warrant(agency=agency_a, officer=legal_officer, reviewers=[reviewer, second_reviewer])


def identity_of(warrant: Warrant, token: str) -> Account:
    key_id, key = keys.case_key(warrant)
    return Account.objects.get(uid=pseudonyms.reidentify(token, scope=warrant.reference, keys={key_id: key}))


def traces(account: Account) -> list[str]:
    """What would betray this person on a page or in the audit log."""
    return [value for value in (account.uid, account.phone, account.email, account.display_name) if value]


def altered(token: str) -> str:
    """The pseudonym with one character of its code mistyped (still valid base32, so it only fails to decrypt)."""
    position = len(token) - 8
    return token[:position] + ("b" if token[position] != "b" else "c") + token[position + 1 :]


def form_data(aliases, *, picks=(), pasted="", received="2025-06-02T18:00", deadline="2025-06-09T18:00") -> dict:
    """The fields of the "Log a follow-up request" form as a browser sends them (no file).

    ``picks``: (row number, justification) of the alias table rows ticked; the boxes carry the
    pseudonym, each justification is named after its pseudonym.
    """
    data = {"received_at": received, "deadline": deadline, "pasted": pasted, "pick": []}
    for index, why in picks:
        token = aliases[index - 1].token
        data["pick"].append(token)
        data[f"why:{token}"] = why
    return data


def log_followup(warrant, officer, pdf: bytes, tokens) -> FollowUpRequest:
    return followups.followup_register(
        warrant=warrant,
        actor=officer,
        tokens=[followups.TokenInput(token, why) for token, why in tokens],
        upload=SimpleUploadedFile("follow-up.pdf", pdf, "application/pdf"),
        received_at=RECEIVED,
        deadline=DEADLINE,
    )


def in_review(warrant, officer, pdf, tokens) -> FollowUpRequest:
    follow_up = log_followup(warrant, officer, pdf, tokens)
    check = services.document_check_signature(document=follow_up.document)
    assert check.is_valid, check.reasons
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUpRequest.Status.IN_REVIEW
    return follow_up


# --- the form ----------------------------------------------------------------------------------------


def test_the_warrant_page_links_to_the_form_which_offers_the_alias_table(delivered, legal_officer):
    client = client_for(legal_officer)
    create_url = reverse("followups:create", args=[delivered.pk])

    warrant_page = client.get(delivered.get_absolute_url()).content.decode()
    form_page = client.get(create_url)

    assert f'href="{create_url}"' in warrant_page
    assert "No follow-up request has been logged." in warrant_page
    assert form_page.status_code == 200
    aliases = delivered_aliases(delivered)
    exported = json.loads(_package_member(delivered, "conversations.json"))["participants"]["pseudonymised"]
    assert [(a.token, a.alias, a.messages) for a in aliases] == [
        (p["token"], p["alias"], p["messages"]) for p in exported
    ]
    html = form_page.content.decode()
    for index, alias in enumerate(aliases, start=1):
        assert f'<input type="checkbox" name="pick" value="{alias.token}" id="pick-{index}">' in html
        assert f'<label for="pick-{index}">{alias.alias} <code class="hash">({alias.short})</code></label>' in html
        assert f'<label for="why-{index}" class="visually-hidden">Why {alias.alias} matters</label>' in html
        assert f'<textarea id="why-{index}" name="why:{alias.token}" rows="2">' in html


def test_a_reviewer_or_an_undelivered_warrant_gets_no_form(delivered, reviewer, warrant, legal_officer):
    blocked = client_for(legal_officer).get(reverse("followups:create", args=[warrant.pk]))
    reviewer_page = client_for(reviewer).get(delivered.get_absolute_url()).content.decode()
    reviewer_form = client_for(reviewer).get(reverse("followups:create", args=[delivered.pk]))

    assert blocked.status_code == 302
    assert (
        "Follow-up requests are possible only after the export was delivered."
        in client_for(legal_officer).get(warrant.get_absolute_url()).content.decode()
    )
    assert "Only an intake officer assigned to this case can log a follow-up request." in reviewer_page
    assert reviewer_form.status_code == 302


def error_next_to(page: str, field_id: str) -> str:
    """The error list that follows the field's input, before the next field starts (unescaped)."""
    following = page[page.index(f'id="{field_id}"') :]
    ends = [at for at in (following.find(mark) for mark in ('<div class="field', "</fieldset>", "</tr>")) if at > 0]
    block = following[: min(ends, default=len(following))]
    found = re.search(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', block, re.S)
    return unescape(found.group(1)) if found else ""


def _package_member(warrant, name: str) -> str:
    export = warrant.exports.get(kind=Export.Kind.CONVERSATIONS)
    with package_open(export) as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        return archive.read(name).decode()


# case: (what is sent, where the error shows, its message). Where: None for the pseudonyms as a
# whole, a form field's name, or the id of a row's input in the alias table ("why-1", "pick-2").
FORM_ERRORS = {
    "no pseudonym": ({}, None, "Name at least one pseudonym: tick it in the table or paste it."),
    "a ticked pseudonym without justification": ({"picks": [(1, "")]}, "why-1", "Say why this person matters."),
    "a justification without its tick": (
        {"unticked": (2, "Paid the courier")},
        "pick-2",
        "Tick this pseudonym to ask for it, or clear its justification.",
    ),
    "a pasted line without justification": (
        {"pasted": "TOKEN3"},
        "pasted",
        "Line 1: write | and why this person matters after the pseudonym.",
    ),
    "a pseudonym named twice": (
        {"picks": [(1, "Sent the money")], "pasted": "TOKEN1 | Again"},
        "pasted",
        "is named twice.",
    ),
    "more pseudonyms than the cap": (
        {"picks": [(1, "a"), (2, "b")], "pasted": "TOKEN3 | c"},
        None,
        "A follow-up request may name at most 2 pseudonyms; this one names 3.",
    ),
    "a deadline before receipt": (
        {"picks": [(1, "Sent the money")], "deadline": "2025-06-01T18:00"},
        "deadline",
        "The deadline must be after the request was received.",
    ),
    "a document that is not a PDF": ({"picks": [(1, "Sent the money")], "text_file": True}, "document", "PDF"),
}


@pytest.mark.parametrize("case", FORM_ERRORS, ids=list(FORM_ERRORS))
def test_a_form_with_errors_shows_them_next_to_the_fields_and_stores_nothing(
    case, delivered, legal_officer, signed_request, settings
):
    settings.WARRANTDESK_FOLLOWUP_MAX_TOKENS = 2
    options, field, message = FORM_ERRORS[case]
    aliases = delivered_aliases(delivered)
    pasted = options.get("pasted", "")
    for number in (1, 2, 3):
        pasted = pasted.replace(f"TOKEN{number}", aliases[number - 1].token)
    data = form_data(aliases, picks=options.get("picks", ()), pasted=pasted)
    data["deadline"] = options.get("deadline", data["deadline"])
    if "unticked" in options:
        row, why = options["unticked"]
        data[f"why:{aliases[row - 1].token}"] = why
    document = b"Just some notes, not a PDF." if options.get("text_file") else signed_request
    data["document"] = SimpleUploadedFile("follow-up.pdf", document, "application/pdf")
    documents_before, files_before = Document.objects.count(), stored_files(django_settings.MEDIA_ROOT)

    response = client_for(legal_officer).post(reverse("followups:create", args=[delivered.pk]), data)

    assert response.status_code == 400
    form = response.context["form"]
    html = response.content.decode()
    if field is None:
        assert any(message in error for error in form.non_field_errors()), form.errors
        assert re.search(r'<ul class="errorlist nonfield" id="tokens-errors"><li>[^<]*' + re.escape(message), html)
    elif "-" in field:  # a row of the alias table: marked, its message after its input, linked from the summary
        assert message in error_next_to(html, field)
        assert f'id="{field}"' in html and f'aria-describedby="{field}-error"' in html
        assert f'<li><a href="#{field}">Participant {field.split("-")[1]}: {message}</a></li>' in html
        assert "Some pseudonyms of the table need your attention: see the marked rows." in form.non_field_errors()
    else:
        assert any(message in error for error in form.errors[field]), form.errors
        assert message in error_next_to(html, f"id_{field}")
    assert FollowUpRequest.objects.count() == FollowUpToken.objects.count() == 0
    assert Document.objects.count() == documents_before
    assert stored_files(django_settings.MEDIA_ROOT) == files_before


def test_logging_a_request_from_the_table_and_pasted_lines(delivered, legal_officer, signed_request):
    aliases = delivered_aliases(delivered)
    data = form_data(
        aliases,
        picks=[(2, "Received the goods on 3 March.")],
        pasted=f"{aliases[0].token} | Paid the courier.\n\n{altered(aliases[3].token)} | Named in room 2.",
    )
    data["document"] = SimpleUploadedFile("follow-up.pdf", signed_request, "application/pdf")

    client = client_for(legal_officer)
    response = client.post(reverse("followups:create", args=[delivered.pk]), data)

    follow_up = FollowUpRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == follow_up.get_absolute_url()
    assert follow_up.reference == f"{delivered.reference}-F1"
    assert (follow_up.received_at, follow_up.deadline) == (RECEIVED, DEADLINE)
    assert follow_up.document.kind == Document.Kind.FOLLOW_UP
    assert [(t.token, t.justification, t.validity, t.decision) for t in follow_up.tokens.all()] == [
        (aliases[1].token, "Received the goods on 3 March.", "VALID", "PENDING"),
        (aliases[0].token, "Paid the courier.", "VALID", "PENDING"),
        (altered(aliases[3].token), "Named in room 2.", "ALTERED", "REFUSED"),
    ]
    html = client.get(follow_up.get_absolute_url()).content.decode()
    assert "1 pseudonym could not be accepted and was refused at once" in html
    # Signature check queued (tasks do not run here): the panel polls until the verdict is in.
    assert f'hx-get="{reverse("followups:signature", args=[follow_up.pk])}"' in html
    assert "Checking…" in html
    altered_row = re.search(r'<tr id="token-3" class="row--invalid">.*?</tr>', html, re.S).group(0)
    assert escape(follow_up.tokens.get(position=3).validity_reason) in altered_row  # shown HTML-escaped
    assert "Refused automatically" in altered_row
    assert aliases[1].alias in html  # the table names the pseudonyms as the package did


# --- the review ----------------------------------------------------------------------------------------


def test_the_signature_panel_polls_then_asks_for_a_reload(delivered, legal_officer, signed_request):
    aliases = delivered_aliases(delivered)
    follow_up = log_followup(delivered, legal_officer, signed_request, [(aliases[0].token, "Paid the courier.")])
    client = client_for(legal_officer)
    url = reverse("followups:signature", args=[follow_up.pk])

    pending = client.get(url, headers={"HX-Request": "true"})
    services.document_check_signature(document=follow_up.document)
    done = client.get(url, headers={"HX-Request": "true"})

    assert "Checking…" in pending.content.decode() and "HX-Refresh" not in pending
    assert done["HX-Refresh"] == "true"
    assert "Valid chief-investigator signature" in done.content.decode()
    assert "Kim Min-jun" in done.content.decode()


def test_a_request_signed_by_an_ordinary_investigator_fails_and_cannot_be_decided(
    delivered, legal_officer, reviewer, ca
):
    aliases = delivered_aliases(delivered)
    pdf = pki.sign_pdf(pki.make_pdf(title="Follow-up request"), ca.investigator_a)
    follow_up = log_followup(delivered, legal_officer, pdf, [(aliases[0].token, "Paid the courier.")])
    services.document_check_signature(document=follow_up.document)

    html = client_for(reviewer).get(follow_up.get_absolute_url()).content.decode()

    assert "Signature failed" in html
    assert "Signer is not a chief investigator" in html
    assert "Record my decision" not in html
    assert "The request has no valid chief-investigator signature" in html


def test_whoever_logged_the_request_sees_why_they_cannot_decide(
    agency_a, officer_reviewer, reviewer, second_reviewer, signed_request
):
    """grace is intake officer and reviewer: she logged this one, so two others decide."""
    warrant = deliver_warrant(agency=agency_a, officer=officer_reviewer, reviewers=[reviewer, second_reviewer])
    aliases = delivered_aliases(warrant)
    follow_up = in_review(warrant, officer_reviewer, signed_request, [(aliases[0].token, "Paid the courier.")])
    client = client_for(officer_reviewer)
    token = follow_up.tokens.get()

    page = client.get(follow_up.get_absolute_url()).content.decode()
    post = client.post(reverse("followups:decide", args=[follow_up.pk]), {f"decision-{token.pk}": "approve"})

    refusal = (
        '<p class="move__reason" id="decide-refusal">You logged this request; two other reviewers must decide.</p>'
    )
    assert refusal in page
    assert "Record my decision" not in page
    assert post.status_code == 302
    assert not FollowUpDecision.objects.exists()
    assert "You logged this request" in client.get(follow_up.get_absolute_url()).content.decode()


def test_an_intake_officer_is_told_only_reviewers_decide(delivered, legal_officer, signed_request):
    aliases = delivered_aliases(delivered)
    follow_up = in_review(delivered, legal_officer, signed_request, [(aliases[0].token, "Paid the courier.")])

    page = client_for(legal_officer).get(follow_up.get_absolute_url()).content.decode()

    assert (
        '<p class="move__reason" id="decide-refusal">Only a reviewer assigned to this warrant can decide.</p>' in page
    )
    assert "Record my decision" not in page


def test_a_reviewer_must_decide_every_pseudonym_and_give_reasons(delivered, legal_officer, reviewer, signed_request):
    aliases = delivered_aliases(delivered)
    follow_up = in_review(
        delivered,
        legal_officer,
        signed_request,
        [(aliases[0].token, "Paid the courier."), (aliases[1].token, "Received the goods.")],
    )
    first, second = follow_up.tokens.all()
    url = reverse("followups:decide", args=[follow_up.pk])

    response = client_for(reviewer).post(
        url, {f"decision-{first.pk}": "refuse", f"reason-{first.pk}": " ", "confirm": follow_up.reference}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert f'<ul class="errorlist" id="decision-{first.pk}-error"><li>Give the reason for refusing.</li></ul>' in html
    assert (
        f'<ul class="errorlist" id="decision-{second.pk}-error"><li>Approve or refuse this pseudonym.</li></ul>' in html
    )
    assert f'name="decision-{first.pk}" value="refuse" checked' in html  # what was chosen stays chosen
    assert not FollowUpDecision.objects.exists()


def test_two_reviewers_decide_and_the_sheet_is_delivered_like_an_export(
    delivered,
    legal_officer,
    reviewer,
    second_reviewer,
    signed_request,
    immediate_tasks,
    django_capture_on_commit_callbacks,
):
    aliases = delivered_aliases(delivered)
    follow_up = in_review(
        delivered,
        legal_officer,
        signed_request,
        [(aliases[0].token, "Paid the courier."), (aliases[1].token, "Received the goods.")],
    )
    first, second = follow_up.tokens.all()
    url = reverse("followups:decide", args=[follow_up.pk])

    confirm = {"confirm": follow_up.reference}
    bob = client_for(reviewer).post(
        url, {f"decision-{first.pk}": "approve", f"decision-{second.pk}": "approve", **confirm}
    )
    again = client_for(reviewer).get(follow_up.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the identity sheet is built when erin's decision commits
        erin = client_for(second_reviewer).post(
            url,
            {
                f"decision-{first.pk}": "approve",
                f"decision-{second.pk}": "refuse",
                f"reason-{second.pk}": "No link shown.",
                **confirm,
            },
        )

    assert bob.status_code == erin.status_code == 302
    assert "You have already decided on this request; a second reviewer must decide too." in again
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUpRequest.Status.DISCLOSED
    sheet = follow_up.exports.get()
    client = client_for(second_reviewer)
    html = client.get(follow_up.get_absolute_url()).content.decode()
    assert f'href="{reverse("disclosure:export-download", args=[sheet.pk])}"' in html
    assert "No link shown." in html
    for account in (identity_of(delivered, first.token), identity_of(delivered, second.token)):
        assert not any(trace in html for trace in traces(account) if len(trace) > 3)

    delivery = client.post(
        reverse("followups:sheet-deliver", args=[follow_up.pk]),
        {"channel": "IN_PERSON", "recipient": "Det. Kim", "delivered_at": "2025-06-05T10:00"},
    )
    link = client.post(reverse("followups:sheet-link", args=[follow_up.pk]), {"recipient": "Det. Lee", **confirm})

    assert delivery.status_code == link.status_code == 302
    assert list(sheet.deliveries.values_list("recipient", flat=True).order_by("recipient")) == ["Det. Kim", "Det. Lee"]
    page = client.get(follow_up.get_absolute_url()).content.decode()
    assert "Delivery of the identity sheet recorded." in page
    assert re.search(
        r"One-time link for Det. Lee, valid until .*? It is shown only now: http://testserver/d/[\w-]+/", page
    )
    assert "Handed over in person: Det. Kim" in page
    assert "Det. Lee — unused, expires" in page


def test_fishing_warnings_are_shown_to_reviewers(delivered, legal_officer, reviewer, signed_request, settings):
    settings.WARRANTDESK_FOLLOWUP_WARN_TOKENS = 1
    aliases = delivered_aliases(delivered)
    follow_up = in_review(
        delivered,
        legal_officer,
        signed_request,
        [(aliases[0].token, "Paid the courier."), (aliases[1].token, "Received the goods.")],
    )

    html = client_for(reviewer).get(follow_up.get_absolute_url()).content.decode()

    warnings = followups.fishing_warnings(follow_up)
    assert warnings and warnings[0].startswith("The request names 2 pseudonyms (more than 1)")
    assert '<h2 class="alert__title" id="h-fishing">Possible fishing request</h2>' in html
    for warning in warnings:
        assert f"<li>{warning}</li>" in html.replace("&#x27;", "'")


# --- the API -------------------------------------------------------------------------------------------


def test_the_api_logs_a_request_and_takes_each_reviewers_decisions(
    delivered,
    legal_officer,
    reviewer,
    second_reviewer,
    signed_request,
    immediate_tasks,
    django_capture_on_commit_callbacks,
):
    aliases = delivered_aliases(delivered)
    tokens = [
        {"token": aliases[0].token, "justification": "Paid the courier."},
        {"token": aliases[1].token, "justification": "Received the goods."},
        {"token": altered(aliases[2].token), "justification": "Named in room 2."},
    ]

    with django_capture_on_commit_callbacks(execute=True):  # the signature is checked when the request commits
        created = client_for(legal_officer).post(
            f"/api/v1/warrants/{delivered.pk}/follow-ups/",
            {
                "document": SimpleUploadedFile("follow-up.pdf", signed_request, "application/pdf"),
                "tokens": json.dumps(tokens),
                "received_at": RECEIVED.isoformat(),
                "deadline": DEADLINE.isoformat(),
            },
        )

    assert created.status_code == 201, created.content
    body = client_for(legal_officer).get(f"/api/v1/follow-ups/{created.json()['id']}/").json()
    assert created.json()["status"] == "RECEIVED"
    assert body["status"] == "IN_REVIEW"
    assert body["signature"]["outcome"] == "VALID" and body["gate"] == ""
    assert [(t["validity"], t["decision"]) for t in body["tokens"]] == [
        ("VALID", "PENDING"),
        ("VALID", "PENDING"),
        ("ALTERED", "REFUSED"),
    ]
    listed = client_for(reviewer).get(f"/api/v1/warrants/{delivered.pk}/follow-ups/").json()
    assert [(item["reference"], item["token_count"]) for item in listed] == [(body["reference"], 3)]
    first, second = body["tokens"][0]["id"], body["tokens"][1]["id"]
    decide = f"/api/v1/follow-ups/{body['id']}/decisions/"

    own = client_for(legal_officer).post(
        decide,
        {"decisions": [{"token": first, "decision": "approve"}, {"token": second, "decision": "approve"}]},
        content_type="application/json",
    )
    bob = client_for(reviewer).post(
        decide,
        {"decisions": [{"token": first, "decision": "approve"}, {"token": second, "decision": "approve"}]},
        content_type="application/json",
    )
    no_reason = client_for(second_reviewer).post(
        decide,
        {"decisions": [{"token": first, "decision": "approve"}, {"token": second, "decision": "refuse"}]},
        content_type="application/json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        erin = client_for(second_reviewer).post(
            decide,
            {
                "decisions": [
                    {"token": first, "decision": "approve"},
                    {"token": second, "decision": "refuse", "reason": "Not shown to matter."},
                ]
            },
            content_type="application/json",
        )

    assert (own.status_code, own.json()["code"]) == (409, "not_allowed")
    assert bob.status_code == 200 and bob.json()["status"] == "IN_REVIEW"
    assert no_reason.status_code == 400
    assert erin.status_code == 200, erin.content
    final = client_for(second_reviewer).get(f"/api/v1/follow-ups/{body['id']}/").json()
    assert final["status"] == "DISCLOSED"
    assert [t["decision"] for t in final["tokens"]] == ["APPROVED", "REFUSED", "REFUSED"]
    assert [(d["position"], d["reviewer"], d["approve"], d["reason"]) for d in final["decisions"]] == [
        (1, "bob", True, ""),
        (2, "bob", True, ""),
        (1, "erin", True, ""),
        (2, "erin", False, "Not shown to matter."),
    ]
    assert [(s["status"], s["counts"]["revealed"]) for s in final["identity_sheets"]] == [("READY", 1)]
    decisions = client_for(reviewer).get(decide).json()
    assert len(decisions) == 4
    text = json.dumps(final) + json.dumps(decisions)
    for token in (aliases[0].token, aliases[1].token):
        assert not any(trace in text for trace in traces(identity_of(delivered, token)) if len(trace) > 3)


def test_the_api_refuses_too_many_pseudonyms_and_stores_nothing(delivered, legal_officer, signed_request, settings):
    settings.WARRANTDESK_FOLLOWUP_MAX_TOKENS = 2
    aliases = delivered_aliases(delivered)
    files_before = stored_files(django_settings.MEDIA_ROOT)

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{delivered.pk}/follow-ups/",
        {
            "document": SimpleUploadedFile("follow-up.pdf", signed_request, "application/pdf"),
            "tokens": json.dumps([{"token": a.token, "justification": "Why"} for a in aliases[:3]]),
            "received_at": RECEIVED.isoformat(),
            "deadline": DEADLINE.isoformat(),
        },
    )

    assert response.status_code == 400
    assert response.json()["code"] == "too_many_tokens"
    assert FollowUpRequest.objects.count() == 0
    assert stored_files(django_settings.MEDIA_ROOT) == files_before


# --- in a real browser ---------------------------------------------------------------------------------


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (scripts/system-deps.sh test)")
    pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium); `make test` installs it")


@pytest.mark.django_db(transaction=True)
def test_the_follow_up_flow_in_a_browser(live_server, settings, monkeypatch, request):
    """Alice logs the signed request from the alias table; bob and erin decide; erin downloads the sheet."""
    _chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    alice = request.getfixturevalue("legal_officer")
    bob, erin = request.getfixturevalue("reviewer"), request.getfixturevalue("second_reviewer")
    warrant = deliver_warrant(agency=request.getfixturevalue("agency_a"), officer=alice, reviewers=[bob, erin])
    ca = pki.pki()
    signed = pki.sign_pdf(pki.make_pdf(title="Follow-up request"), ca.chief_a)  # before Playwright's event loop
    aliases = delivered_aliases(warrant)
    chosen, other = aliases[0], aliases[1]
    typo = altered(aliases[2].token)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    # Playwright's sync API keeps an event loop in this thread; the ORM calls below are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    pages: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        context = browser.new_context(accept_downloads=True, locale="en-GB", timezone_id="Asia/Seoul")
        context.set_default_timeout(10_000)
        page = context.new_page()

        def seen() -> None:
            pages.append(page.content())

        def sign_in(user) -> None:
            """The password, then the second factor: the current code of the user's enrolled device."""
            device = confirmed_totp(user) or TOTPDevice.objects.create(user=user, name="default", confirmed=True)
            TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # one code may serve two sign-ins here
            device.refresh_from_db()
            page.goto(f"{live_server.url}/accounts/login/")
            page.get_by_label("Username").fill(user.username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_label("Code", exact=True).fill(current_code(device))
            page.get_by_role("button", name="Verify").click()
            expect(page.get_by_role("heading", name="Warrants", exact=True)).to_be_visible()

        def sign_out() -> None:
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in to warrantdesk")).to_be_visible()

        # Alice logs the request: two participants from the alias table, one mistyped pseudonym pasted.
        sign_in(alice)
        page.get_by_role("link", name=warrant.reference).click()
        seen()
        page.get_by_role("link", name="Log a follow-up request").click()
        expect(page.get_by_role("heading", name="Log a follow-up request")).to_be_visible()
        page.get_by_label("Signed request (PDF)").set_input_files(
            {"name": "follow-up.pdf", "mimeType": "application/pdf", "buffer": signed}
        )
        page.get_by_label("Received at").fill("2025-06-02T18:00")  # pki.RECEIPT in Seoul time
        page.get_by_label("Deadline").fill("2025-06-09T18:00")
        for alias, why in ((chosen, "Paid the courier on 3 March."), (other, "Received the goods.")):
            page.get_by_label(f"{alias.alias} ({alias.short})", exact=True).check()
            page.get_by_label(f"Why {alias.alias} matters").fill(why)
        page.get_by_label("Other pseudonyms").fill(f"{typo} | Named in the chat of 4 March.")
        seen()
        page.get_by_role("button", name="Log the follow-up request").click()

        follow_up = FollowUpRequest.objects.get()
        expect(page.get_by_role("heading", name=follow_up.reference, level=1)).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("1 pseudonym could not be accepted")
        mistyped = page.locator("#token-3")
        expect(mistyped).to_contain_text(follow_up.tokens.get(position=3).validity_reason)
        expect(mistyped).to_contain_text("Refused automatically")
        if page.locator("#signature-panel").get_by_text("Checking…").count():
            page.reload()  # the check runs when the request is committed; htmx would poll otherwise
        expect(page.locator("#signature-panel")).to_contain_text("Valid chief-investigator signature")
        expect(page.locator("#signature-panel")).to_contain_text("Kim Min-jun")
        expect(page.locator("#followup-status")).to_have_text("In review")
        # An intake officer, and the one who logged it: she cannot decide, and the page says why.
        expect(page.locator("#decide-refusal")).to_have_text("Only a reviewer assigned to this warrant can decide.")
        expect(page.get_by_role("button", name="Record my decision")).to_have_count(0)
        seen()
        sign_out()

        def decide(user, choices: dict) -> None:
            sign_in(user)
            page.goto(f"{live_server.url}{follow_up.get_absolute_url()}")
            for alias, (choice, reason) in choices.items():
                group = page.get_by_role("group", name=re.compile(re.escape(alias.alias)))
                group.get_by_label(choice).check()
                if reason:
                    group.get_by_label(re.compile("Reason for refusing")).fill(reason)
            page.get_by_label(re.compile(f"I confirm: my decision on {follow_up.reference}")).check()
            seen()
            page.get_by_role("button", name="Record my decision").click()
            expect(page.get_by_role("status")).to_contain_text("Your decision is recorded")
            seen()

        decide(bob, {chosen: ("Approve", ""), other: ("Approve", "")})
        expect(page.locator("#followup-status")).to_have_text("In review")
        sign_out()
        decide(erin, {chosen: ("Approve", ""), other: ("Refuse", "The justification shows no part in the offence.")})
        expect(page.locator("#followup-status")).to_have_text("Identities disclosed")
        expect(page.locator("section:has(#h-decisions)")).to_contain_text(
            "The justification shows no part in the offence."
        )
        expect(page.locator("#sheet-panel")).to_contain_text("Ready")
        # The page settled by itself (each step above waits at most the 10 s default): nothing still polls.
        for panel in ("#signature-panel", "#sheet-panel"):
            expect(page.locator(panel)).not_to_have_attribute("hx-trigger", re.compile("every"))
        seen()
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download the identity sheet").click()
        download = download_info.value
        sheet_bytes = Path(download.path()).read_bytes()
        page.get_by_role("link", name=warrant.reference).first.click()
        expect(page.locator("#followups-panel")).to_contain_text("1 approved of 3")
        seen()
        browser.close()

    with zipfile.ZipFile(io.BytesIO(sheet_bytes)) as archive:
        sheet = json.loads(archive.read("identities.json"))
        everything = b"".join(archive.read(name) for name in archive.namelist() if not name.endswith(".pdf"))
    approved, refused = identity_of(warrant, chosen.token), identity_of(warrant, other.token)
    assert [(person["token"], person["alias"], person["uid"]) for person in sheet["identities"]] == [
        (chosen.token, chosen.alias, approved.uid)
    ]
    assert not any(trace.encode() in everything for trace in traces(refused))
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUpRequest.Status.DISCLOSED
    assert list(Disclosure.objects.filter(role=Disclosure.Role.REVEALED).values_list("account", flat=True)) == [
        approved.pk
    ]
    # No page of the flow showed an identity, revealed or not; no audit entry holds the refused one.
    targets = [account.display_name for account in Account.objects.filter(uid__in=warrant.targets.values("identifier"))]
    for html in pages:
        for name in targets:
            html = html.replace(name, "<target>")
        for account in (approved, refused):
            assert not any(trace in html for trace in traces(account)), account.uid
    audit = json.dumps([entry.details for entry in AuditEntry.objects.all()], ensure_ascii=False)
    assert not any(trace in audit for trace in traces(refused))
    assert not any(trace in audit for trace in traces(approved))


def test_a_sheet_that_was_not_built_can_be_built_from_the_page_which_follows_it(
    delivered, legal_officer, reviewer, second_reviewer, signed_request
):
    aliases = delivered_aliases(delivered)
    follow_up = in_review(delivered, legal_officer, signed_request, [(aliases[0].token, "Paid the courier.")])
    token = follow_up.tokens.get()
    for user in (reviewer, second_reviewer):  # tasks do not run here: the sheet is not queued by itself
        followups.followup_decide(request=follow_up, reviewer=user, decisions={token.pk: (True, "")})
    client = client_for(second_reviewer)
    panel_url = reverse("followups:sheet-panel", args=[follow_up.pk])

    before = client.get(follow_up.get_absolute_url()).content.decode()
    client.post(reverse("followups:sheet", args=[follow_up.pk]))
    client.post(reverse("followups:sheet", args=[follow_up.pk]))  # a second click changes nothing
    queued = client.get(follow_up.get_absolute_url()).content.decode()
    disclosure_services.export_run(export=follow_up.exports.get())
    done = client.get(f"{panel_url}?was=running", headers={"HX-Request": "true"})

    assert "Build the identity sheet" in before  # in case the queued build never reaches a worker
    assert f'hx-get="{panel_url}?was=running"' in before and "starts as soon as a worker is free" in before
    assert f'hx-get="{panel_url}?was=running"' in queued and "Build the identity sheet" not in queued
    assert done["HX-Refresh"] == "true"
    assert "Download the identity sheet" in done.content.decode()
    assert follow_up.exports.count() == 1


# --- the decisive actions ask for a confirmation naming the case; justifications are capped ----------


def test_a_decision_without_the_confirmation_records_nothing_and_keeps_the_choices(
    delivered, legal_officer, reviewer, signed_request
):
    aliases = delivered_aliases(delivered)
    follow_up = in_review(delivered, legal_officer, signed_request, [(aliases[0].token, "Paid the courier.")])
    token = follow_up.tokens.get()
    client = client_for(reviewer)
    page = client.get(follow_up.get_absolute_url()).content.decode()

    response = client.post(reverse("followups:decide", args=[follow_up.pk]), {f"decision-{token.pk}": "approve"})

    label = re.search(r'<label for="decide-confirm">(.*?)</label>', page, flags=re.DOTALL).group(1)
    assert unescape(" ".join(label.split())) == (
        f"I confirm: my decision on {follow_up.reference}, follow-up request on {delivered.reference} "
        f"(Agency A, warrant no. {delivered.warrant_number})"
    )
    assert 'name="confirm" value="' + follow_up.reference + '" required' in page
    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was recorded: tick “I confirm” below the pseudonyms to confirm your decision." in html
    assert f'name="decision-{token.pk}" value="approve" required checked' in html
    assert not FollowUpDecision.objects.exists()


def test_a_refusal_reason_or_a_justification_over_the_limit_is_refused(
    delivered, legal_officer, reviewer, signed_request
):
    from requests_app.models import NOTE_MAX_LENGTH

    aliases = delivered_aliases(delivered)
    follow_up = in_review(delivered, legal_officer, signed_request, [(aliases[0].token, "Paid the courier.")])
    token = follow_up.tokens.get()
    too_long = "r" * (NOTE_MAX_LENGTH + 1)
    message = f"At most {NOTE_MAX_LENGTH} characters, please (this text has {NOTE_MAX_LENGTH + 1})."

    decided = client_for(reviewer).post(
        reverse("followups:decide", args=[follow_up.pk]),
        {f"decision-{token.pk}": "refuse", f"reason-{token.pk}": too_long, "confirm": follow_up.reference},
    )
    logged = client_for(legal_officer).post(
        reverse("followups:create", args=[delivered.pk]),
        {
            **form_data(aliases, picks=[(2, too_long)], pasted=f"{aliases[3].token} | {too_long}"),
            "document": SimpleUploadedFile("follow-up.pdf", signed_request, "application/pdf"),
        },
    )

    assert decided.status_code == logged.status_code == 400
    assert message in decided.content.decode()
    assert not FollowUpDecision.objects.exists()
    form = logged.context["form"]
    assert form.row_errors[aliases[1].token] == {"why": message}
    assert form.errors["pasted"] == [f"Line 1: {message}"]
    assert FollowUpRequest.objects.count() == 1


def test_a_download_link_is_issued_only_once_the_case_is_confirmed(delivered, legal_officer):
    from disclosure.models import DownloadLink

    export = delivered.exports.get()
    client = client_for(legal_officer)
    url = reverse("disclosure:export-link", args=[export.pk])
    page = client.get(delivered.get_absolute_url()).content.decode()

    refused = client.post(url, {"recipient": "Det. Lee", "confirm": "WD-2026-999999"}, follow=True)
    links_after_refusal = DownloadLink.objects.count()
    issued = client.post(url, {"recipient": "Det. Lee", "confirm": delivered.reference}, follow=True)

    label = re.search(r'<label for="l-confirm">(.*?)</label>', page, flags=re.DOTALL).group(1)
    assert unescape(" ".join(label.split())) == (
        f"I confirm: issue a one-time download link to the package of {delivered.reference} "
        f"(Agency A, warrant no. {delivered.warrant_number})"
    )
    assert [str(m) for m in refused.context["messages"]] == [
        f"No link was issued: tick “I confirm” to confirm that you mean {delivered.reference}."
    ]
    assert links_after_refusal == 0
    assert DownloadLink.objects.filter(export=export, recipient="Det. Lee").count() == 1
    assert "One-time link for Det. Lee" in issued.content.decode()


def test_an_unreadable_package_is_named_on_the_form_and_logged_without_identities(delivered, legal_officer, caplog):
    from django.core.cache import cache

    export = Export.objects.get(warrant=delivered, kind=Export.Kind.CONVERSATIONS)
    names = list(Account.objects.values_list("display_name", flat=True))
    Path(export.package.path).write_bytes(b"PK\x03\x04 not a package any more")
    cache.clear()

    with caplog.at_level("WARNING", logger="disclosure.followups.aliases"):
        page = client_for(legal_officer).get(reverse("followups:create", args=[delivered.pk]))

    assert page.status_code == 200
    text = unescape(page.content.decode())
    assert f"The alias table of export #{export.pk} could not be read" in text
    assert delivered_aliases(delivered) == [] and delivered_aliases(delivered).unreadable == [export.pk]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"export #{export.pk}" in logged
    assert not any(name and name in logged for name in names)
