"""The web pages of the warrant desk: list and filters, logging a warrant, the case page, Korean."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from requests_app import services
from requests_app.models import Warrant, WarrantTarget
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests.factories import AgencyFactory, pdf_bytes, warrant_fields
from tests.helpers import client_for, verify_signature, web_form_fields

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def row_of(page: str, reference: str) -> tuple[str, str]:
    """The class attribute and the HTML of the table row that shows ``reference``."""
    for classes, row in re.findall(r'<tr class="([^"]*)">(.*?)</tr>', page, flags=re.DOTALL):
        if reference in row:
            return classes.split(), row
    raise AssertionError(f"no row shows {reference}")


@pytest.fixture
def caseload(legal_officer, agency):
    """Five warrants logged by alice, one of each kind the list has to tell apart."""
    other_agency = AgencyFactory(code="knpa-cyber", name="Korean National Police Agency, Cyber Bureau")
    now = timezone.now()

    def log(number: str, *, agency=agency, status=Status.RECEIVED, **overrides) -> Warrant:
        warrant = services.warrant_register(
            actor=legal_officer,
            targets=[TargetInput("UID", f"user-{number}")],
            **warrant_fields(agency, warrant_number=number, **overrides),
        )
        Warrant.objects.filter(pk=warrant.pk).update(status=status)
        warrant.refresh_from_db()
        return warrant

    return {
        "on_time": log("ON-TIME", deadline=now + dt.timedelta(days=5)),
        "emergency": log(
            "URGENT", agency=other_agency, kind=Warrant.Kind.EMERGENCY, deadline=now + dt.timedelta(hours=6)
        ),
        "overdue": log("LATE", deadline=now - dt.timedelta(days=2)),
        "verified": log("CHECKED", agency=other_agency, status=Status.VERIFIED, deadline=now + dt.timedelta(days=3)),
        "rejected_past_deadline": log("DONE", status=Status.REJECTED, deadline=now - dt.timedelta(days=4)),
    }


LIST_FILTERS = {
    "none": ({}, ["rejected_past_deadline", "overdue", "emergency", "verified", "on_time"]),
    "status": ({"status": "VERIFIED"}, ["verified"]),
    "agency": ({"agency": "knpa-cyber"}, ["emergency", "verified"]),
    "overdue": ({"overdue": "1"}, ["overdue"]),
    "emergency": ({"emergency": "1"}, ["emergency"]),
    "search": ({"q": "checked"}, ["verified"]),
}


@pytest.mark.parametrize(("query", "expected"), LIST_FILTERS.values(), ids=list(LIST_FILTERS))
def test_the_list_filters_warrants_and_sorts_by_deadline(query, expected, caseload, legal_officer):
    if query.get("agency"):
        query = {**query, "agency": str(caseload["verified"].agency_id)}

    response = client_for(legal_officer).get(reverse("requests_app:warrant-list"), query)

    assert response.status_code == 200
    assert [warrant.pk for warrant in response.context["page"].object_list] == [caseload[name].pk for name in expected]


def test_overdue_and_emergency_rows_are_marked(caseload, legal_officer):
    response = client_for(legal_officer).get(reverse("requests_app:warrant-list"))

    page = response.content.decode()
    overdue_classes, overdue_row = row_of(page, caseload["overdue"].reference)
    emergency_classes, emergency_row = row_of(page, caseload["emergency"].reference)
    on_time_classes, on_time_row = row_of(page, caseload["on_time"].reference)
    finished_classes, finished_row = row_of(page, caseload["rejected_past_deadline"].reference)
    assert "row--overdue" in overdue_classes
    assert "Overdue" in overdue_row
    assert "row--emergency" in emergency_classes
    assert "Emergency" in emergency_row
    assert "row--overdue" not in emergency_classes
    assert on_time_classes == []
    assert "Overdue" not in on_time_row
    assert "Emergency" not in on_time_row
    # A finished case is not late, whatever its deadline was.
    assert "row--overdue" not in finished_classes
    assert "Overdue" not in finished_row


def test_an_officer_sees_only_their_cases_in_the_list(caseload, second_officer):
    response = client_for(second_officer).get(reverse("requests_app:warrant-list"))

    assert list(response.context["page"].object_list) == []
    assert not any(warrant.reference in response.content.decode() for warrant in caseload.values())


def test_an_administrator_sees_every_case(caseload, admin_user):
    response = client_for(admin_user).get(reverse("requests_app:warrant-list"))

    assert response.context["page"].paginator.count == len(caseload)


# --- logging a warrant ---------------------------------------------------------------------------


def test_logging_a_warrant_with_the_form_leads_to_its_page(legal_officer, agency):
    content = pdf_bytes("Warrant")

    response = client_for(legal_officer).post(
        reverse("requests_app:warrant-create"),
        {
            **web_form_fields(agency, rooms_text="room-1\n\nroom-2"),
            "document": SimpleUploadedFile("warrant 2026-1.pdf", content, "application/pdf"),
        },
        follow=True,
    )

    warrant = Warrant.objects.get()
    assert response.redirect_chain == [(warrant.get_absolute_url(), 302)]
    assert (warrant.created_by, warrant.status, warrant.rooms) == (legal_officer, Status.RECEIVED, ["room-1", "room-2"])
    assert list(warrant.targets.values_list("kind", "identifier")) == [
        (WarrantTarget.Kind.UID, "user-42"),
        (WarrantTarget.Kind.PHONE, "010-9876-5432"),
    ]
    assert warrant.documents.get().original_name == "warrant 2026-1.pdf"
    assert f"Warrant {warrant.reference} logged." in response.content.decode()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"period_end": "2025-12-01T00:00"}, "period_end", "The period must end after it starts."),
        ({"targets": "  \n "}, "targets", "This field is required."),
        ({"received_at": "yesterday"}, "received_at", "Enter a valid date/time."),
    ],
    ids=["period-backwards", "no-targets", "bad-date"],
)
def test_an_invalid_form_is_shown_again_with_the_problem_named(change, field, message, legal_officer, agency):
    response = client_for(legal_officer).post(
        reverse("requests_app:warrant-create"),
        {**web_form_fields(agency, **change), "document": SimpleUploadedFile("w.pdf", pdf_bytes("W"))},
    )

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert not Warrant.objects.exists()


def test_a_reviewer_cannot_open_the_form_to_log_a_warrant(reviewer):
    response = client_for(reviewer).get(reverse("requests_app:warrant-create"))

    assert response.status_code == 403


# --- the case page -------------------------------------------------------------------------------


def test_the_case_page_shows_documents_history_and_timeline(warrant, reviewer, legal_officer):
    verify_signature(warrant, actor=legal_officer)
    document = warrant.documents.get()

    response = client_for(reviewer).get(warrant.get_absolute_url())

    page = response.content.decode()
    assert response.status_code == 200
    assert document.original_name in page
    assert reverse("requests_app:document-download", args=[document.pk]) in page
    assert [(event.from_status, event.to_status) for event in response.context["events"]] == [
        ("", Status.RECEIVED),
        (Status.RECEIVED, Status.VERIFIED),
    ]
    assert [entry.action for entry in response.context["timeline"]] == [
        "warrant.transition",
        "warrant.assigned",
        "document.uploaded",
        "warrant.created",
    ]
    for label in ("Warrant logged", "Document uploaded", "Officer assigned", "Status changed"):
        assert label in page
    assert "010-1234-5678" in page  # the targets


def approve_form(page: str) -> str:
    forms = re.findall(r"<form[^>]*>.*?</form>", page, flags=re.DOTALL)
    found = [form for form in forms if 'name="to" value="APPROVED"' in form]
    assert len(found) == 1, "the page offers exactly one Approve move"
    return found[0]


def test_for_the_officer_who_logged_it_approve_is_shown_disabled_with_the_four_eyes_reason(
    officer_reviewer, agency, pdf_upload
):
    warrant = services.warrant_register(
        actor=officer_reviewer, targets=[TargetInput("UID", "target-1")], upload=pdf_upload(), **warrant_fields(agency)
    )
    verify_signature(warrant, actor=officer_reviewer)

    response = client_for(officer_reviewer).get(warrant.get_absolute_url())

    form = approve_form(response.content.decode())
    reason = "You logged this warrant; another reviewer must approve it (four-eyes rule)."
    assert re.search(r"<button[^>]*\bdisabled\b[^>]*>\s*Approve\s*</button>", form)
    assert reason in form
    assert {move["to"]: move["reason"] for move in response.context["moves"]}[Status.APPROVED] == reason


def test_for_an_assigned_reviewer_approve_is_enabled(warrant, legal_officer, reviewer):
    verify_signature(warrant, actor=legal_officer)

    response = client_for(reviewer).get(warrant.get_absolute_url())

    form = approve_form(response.content.decode())
    assert re.search(r"<button[^>]*>\s*Approve\s*</button>", form)
    assert not re.search(r"<button[^>]*\bdisabled\b", form)


def test_approving_from_the_case_page_says_the_new_status(warrant, legal_officer, reviewer):
    verify_signature(warrant, actor=legal_officer)

    response = client_for(reviewer).post(
        reverse("requests_app:warrant-transition", args=[warrant.pk]),
        {"to": "APPROVED", "confirm": warrant.reference},
        follow=True,
    )

    warrant.refresh_from_db()
    assert warrant.status == Status.APPROVED
    assert "Status is now “Approved”." in response.content.decode()


def test_a_refused_move_from_the_case_page_says_why_and_changes_nothing(warrant, reviewer):
    response = client_for(reviewer).post(
        reverse("requests_app:warrant-transition", args=[warrant.pk]),
        {"to": "REJECTED", "note": "", "confirm": warrant.reference},
        follow=True,
    )

    warrant.refresh_from_db()
    assert warrant.status == Status.RECEIVED
    assert [str(message) for message in response.context["messages"]] == ["Please give a reason."]


def test_assigning_an_officer_from_the_case_page_gives_them_access(warrant, legal_officer, second_reviewer):
    response = client_for(legal_officer).post(
        reverse("requests_app:warrant-assign", args=[warrant.pk]), {"username": "erin"}, follow=True
    )

    assert "erin now has access to this case." in response.content.decode()
    assert [officer.username for officer in response.context["officers"]] == ["alice", "bob", "erin"]
    assert client_for(second_reviewer).get(warrant.get_absolute_url()).status_code == 200


def test_an_auditor_cannot_be_assigned_to_a_case(warrant, legal_officer, auditor):
    response = client_for(legal_officer).post(
        reverse("requests_app:warrant-assign", args=[warrant.pk]), {"username": "audrey"}, follow=True
    )

    assert [str(message) for message in response.context["messages"]] == [
        "Choose a colleague from the list: only intake officers and reviewers who do not have access "
        "to this case yet can be given access."
    ]
    assert client_for(auditor).get(warrant.get_absolute_url()).status_code == 404


# --- Korean --------------------------------------------------------------------------------------


def heading(response) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", response.content.decode(), flags=re.DOTALL).group(1).strip()


def test_the_list_is_in_english_by_default(legal_officer):
    response = client_for(legal_officer).get(reverse("requests_app:warrant-list"))

    assert '<html lang="en">' in response.content.decode()
    assert heading(response) == "Warrants"


def test_the_list_is_in_korean_for_a_browser_asking_for_korean(legal_officer):
    response = client_for(legal_officer).get(reverse("requests_app:warrant-list"), headers={"accept-language": "ko"})

    assert '<html lang="ko">' in response.content.decode()
    assert HANGUL.search(heading(response))
    assert "Warrants" not in heading(response)


def test_the_list_is_in_korean_with_the_language_cookie(legal_officer):
    client = client_for(legal_officer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ko"

    response = client.get(reverse("requests_app:warrant-list"), headers={"accept-language": "en"})

    assert '<html lang="ko">' in response.content.decode()
    assert HANGUL.search(heading(response))


def test_the_language_switcher_sets_korean(legal_officer):
    client = client_for(legal_officer)

    client.post(reverse("set_language"), {"language": "ko", "next": reverse("requests_app:warrant-list")})
    response = client.get(reverse("requests_app:warrant-list"))

    assert HANGUL.search(heading(response))


def test_system_notes_in_the_status_history_follow_the_readers_language(warrant, legal_officer, pdf_upload):
    """Stored in English, shown in Korean to a Korean reader (a person's note stays as typed)."""
    with translation.override("ko"):  # made during a Korean request: still stored in English
        verify_signature(warrant, actor=legal_officer)
        services.document_upload(warrant=warrant, upload=pdf_upload("second.pdf"), actor=legal_officer)
    url = reverse("requests_app:warrant-detail", args=[warrant.pk])

    english = client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    korean = client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    assert warrant.events.filter(note="New warrant document").exists()
    assert "<td>New warrant document</td>" in english
    assert "<td>새 영장 문서</td>" in korean and "<td>New warrant document</td>" not in korean
