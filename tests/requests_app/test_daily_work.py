"""The legal team's day on the case page: picking a colleague to assign, confirming the decisive
actions by the case's name, and notes that are capped in length and shortened on the page."""

import re
from html import unescape

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from requests_app import services
from requests_app.models import NOTE_MAX_LENGTH, Warrant, WarrantEvent
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests.factories import UserFactory, pdf_bytes, warrant_fields
from tests.helpers import api_create_fields, client_for, verify_signature, web_form_fields
from warrantdesk.models import AuditAction, AuditEntry
from warrantdesk.roles import Role


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def assign_options(page: str) -> list[tuple[str, str]]:
    select = re.search(r'<select name="username"[^>]*>(.*?)</select>', page, flags=re.DOTALL)
    assert select, "the assignment form offers a pick-list"
    return [
        (value, unescape(label).strip())
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', select.group(1))
    ]


# --- #14: assigning a colleague from a pick-list ---------------------------------------------------


def test_the_assign_form_lists_only_colleagues_who_may_be_assigned_with_name_and_role(
    warrant, legal_officer, reviewer, second_reviewer, second_officer, auditor, admin_user
):
    second_reviewer.first_name, second_reviewer.last_name = "Erin", "Jung"
    second_reviewer.save(update_fields=["first_name", "last_name"])
    UserFactory(username="gone", role=Role.REVIEWER, is_active=False)

    page = client_for(legal_officer).get(warrant.get_absolute_url()).content.decode()

    # alice logged it and bob is assigned: they have access; the auditor and the administrator
    # are never offered, nor is an inactive account.
    assert assign_options(page) == [
        ("", "Choose a colleague"),
        ("dave", "dave · Intake officer"),
        ("erin", "Erin Jung (erin) · Reviewer"),
    ]
    assert not re.search(r'<input[^>]*name="username"', page)


def test_picking_a_colleague_who_is_already_assigned_is_refused_and_records_nothing(warrant, legal_officer, reviewer):
    assigned_before = AuditEntry.objects.filter(action=AuditAction.WARRANT_ASSIGNED).count()

    response = client_for(legal_officer).post(
        reverse("requests_app:warrant-assign", args=[warrant.pk]), {"username": "bob"}, follow=True
    )

    assert messages_of(response)[0].startswith("Choose a colleague from the list")
    assert AuditEntry.objects.filter(action=AuditAction.WARRANT_ASSIGNED).count() == assigned_before


def test_when_everyone_is_assigned_the_page_says_so(warrant, legal_officer, reviewer):
    page = client_for(legal_officer).get(warrant.get_absolute_url()).content.decode()

    assert "Every intake officer and reviewer already has access to this case." in page
    assert '<select name="username"' not in page


# --- #15: approve / reject ask for a confirmation naming the case ----------------------------------


def test_the_approve_and_reject_forms_ask_to_confirm_the_case_by_name(warrant, legal_officer, reviewer):
    verify_signature(warrant, actor=legal_officer)

    page = client_for(reviewer).get(warrant.get_absolute_url()).content.decode()

    for action, element_id in (("approve", "move-approved-confirm"), ("reject", "move-rejected-confirm")):
        box = re.search(rf'<input type="checkbox" id="{element_id}"[^>]*>', page).group(0)
        assert f'name="confirm" value="{warrant.reference}" required' in box
        label = re.search(rf'<label for="{element_id}">(.*?)</label>', page, flags=re.DOTALL).group(1)
        assert unescape(" ".join(label.split())) == (
            f"I confirm: {action} {warrant.reference} (Seoul Central District Prosecutors' Office, "
            f"warrant no. {warrant.warrant_number})"
        )


def test_approving_without_confirming_changes_nothing_and_says_why(warrant, legal_officer, reviewer):
    verify_signature(warrant, actor=legal_officer)
    url = reverse("requests_app:warrant-transition", args=[warrant.pk])

    unticked = client_for(reviewer).post(url, {"to": "APPROVED"}, follow=True)
    other_case = client_for(reviewer).post(url, {"to": "APPROVED", "confirm": "WD-2026-999999"}, follow=True)

    warrant.refresh_from_db()
    assert warrant.status == Status.VERIFIED
    expected = f"Nothing was changed: tick “I confirm” to confirm that you mean {warrant.reference}."
    assert messages_of(unticked) == messages_of(other_case) == [expected]


def test_rejecting_with_the_confirmation_rejects(warrant, reviewer):
    client_for(reviewer).post(
        reverse("requests_app:warrant-transition", args=[warrant.pk]),
        {"to": "REJECTED", "note": "Outside our service.", "confirm": warrant.reference},
    )

    warrant.refresh_from_db()
    assert warrant.status == Status.REJECTED


# --- #19: notes are capped, and long ones shortened on the page ------------------------------------


def test_a_warrant_note_over_the_limit_is_refused_on_the_form_and_nothing_is_stored(legal_officer, agency):
    fields = web_form_fields(agency, notes="n" * (NOTE_MAX_LENGTH + 1))

    response = client_for(legal_officer).post(
        reverse("requests_app:warrant-create"),
        {**fields, "document": SimpleUploadedFile("warrant.pdf", pdf_bytes("Warrant"), "application/pdf")},
    )

    assert response.status_code == 400
    assert response.context["form"].errors["notes"] == [
        f"Ensure this value has at most {NOTE_MAX_LENGTH} characters (it has {NOTE_MAX_LENGTH + 1})."
    ]
    assert 'maxlength="' not in re.search(r"<textarea[^>]*notes[^>]*>", response.content.decode()).group(0)
    assert not Warrant.objects.exists()


def test_a_note_at_the_limit_is_accepted(legal_officer, agency):
    fields = web_form_fields(agency, notes="n" * NOTE_MAX_LENGTH)

    response = client_for(legal_officer).post(
        reverse("requests_app:warrant-create"),
        {**fields, "document": SimpleUploadedFile("warrant.pdf", pdf_bytes("Warrant"), "application/pdf")},
    )

    assert response.status_code == 302
    assert len(Warrant.objects.get().notes) == NOTE_MAX_LENGTH


def test_a_transition_note_over_the_limit_is_refused_with_a_clear_message(warrant, reviewer):
    response = client_for(reviewer).post(
        reverse("requests_app:warrant-transition", args=[warrant.pk]),
        {"to": "REJECTED", "note": "r" * (NOTE_MAX_LENGTH + 1), "confirm": warrant.reference},
        follow=True,
    )

    warrant.refresh_from_db()
    assert warrant.status == Status.RECEIVED
    assert messages_of(response) == [
        f"Ensure this value has at most {NOTE_MAX_LENGTH} characters (it has {NOTE_MAX_LENGTH + 1})."
    ]


def test_the_api_refuses_notes_over_the_limit(warrant, legal_officer, reviewer, agency):
    too_long = "x" * (NOTE_MAX_LENGTH + 1)

    created = client_for(legal_officer).post(
        "/api/v1/warrants/", api_create_fields(agency, notes=too_long), content_type="application/json"
    )
    moved = client_for(reviewer).post(
        f"/api/v1/warrants/{warrant.pk}/transitions/",
        {"to": "REJECTED", "note": too_long},
        content_type="application/json",
    )

    assert created.status_code == moved.status_code == 400
    assert "notes" in created.json() and "note" in moved.json()
    assert Warrant.objects.count() == 1
    assert not WarrantEvent.objects.filter(to_status=Status.REJECTED).exists()


def test_a_long_note_is_shortened_on_the_page_with_show_all(legal_officer, agency):
    note = "The agency called twice about the scope. " * 40  # 1,640 characters
    warrant = services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", "target-" + "9" * 190)],
        upload=SimpleUploadedFile("warrant.pdf", pdf_bytes("Warrant"), "application/pdf"),
        **warrant_fields(agency, notes=note),
    )

    page = client_for(legal_officer).get(warrant.get_absolute_url()).content.decode()

    shortened = re.search(r'<details class="long-text"><summary>(.*?)</summary>(.*?)</details>', page, flags=re.DOTALL)
    assert shortened, "a long note is folded"
    assert "Show all" in shortened.group(1) and len(shortened.group(1)) < 1000
    assert note.strip() in unescape(shortened.group(2))
