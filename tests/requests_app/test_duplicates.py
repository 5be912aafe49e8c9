"""The same agency and warrant number, or the same file, logged twice is flagged with a link to the
other case, confirmed by the officer, and never names a case the viewer is not assigned to (issue 10.5)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from requests_app import services
from requests_app.duplicates import PossibleDuplicate, warrant_number_key
from requests_app.models import Document, Warrant
from requests_app.services import TargetInput
from tests.factories import AgencyFactory, pdf_bytes, warrant_fields
from tests.helpers import api_create_fields, client_for, web_form_fields
from warrantdesk.models import AuditAction, AuditEntry

NUMBER = "2026고단-1234"


@pytest.mark.parametrize(
    "spelling",
    [
        "2026고단-1234",
        "2026고단1234",
        "2026 고단 1234",
        "２０２６고단－１２３４",  # full-width digits and hyphen
        "2026고단–1234",  # en dash
        "2026고단—1234",  # em dash
        "2026고단‐1234",  # Unicode hyphen
        "2026고단−1234",  # minus sign
        "2026고단ㅡ1234",  # the Hangul vowel typed as a dash
        "2026고단\u200b1234",  # zero-width space
        " 2026고단 - 1234 ",
    ],
)
def test_spellings_of_one_warrant_number_compare_equal(spelling):
    assert warrant_number_key(spelling) == warrant_number_key(NUMBER)


def test_case_is_ignored_and_other_numbers_stay_different():
    assert (
        warrant_number_key("knpa-2026-0500")
        == warrant_number_key("KNPA 2026 0500")
        == warrant_number_key("ＫＮＰＡ２０２６０５００")
    )
    assert warrant_number_key("2026고단1234") != warrant_number_key("2026고단1235")
    assert warrant_number_key("2026/12") != warrant_number_key("2026/13")


def _log(officer, agency, number=NUMBER, *, content=None, **extra) -> Warrant:
    upload = SimpleUploadedFile("w.pdf", content, "application/pdf") if content is not None else None
    return services.warrant_register(
        actor=officer,
        targets=[TargetInput("UID", "target-1")],
        upload=upload,
        **warrant_fields(agency, warrant_number=number),
        **extra,
    )


# --- the service ---------------------------------------------------------------------------------


def test_the_same_agency_and_number_is_a_possible_duplicate_until_confirmed(legal_officer, agency):
    first = _log(legal_officer, agency)

    with pytest.raises(PossibleDuplicate) as warning:
        _log(legal_officer, agency, "２０２６ 고단－１２３４")
    second = _log(legal_officer, agency, "２０２６ 고단－１２３４", confirm_duplicate=True)

    (duplicate,) = warning.value.duplicates
    assert (duplicate.warrant, duplicate.reason, duplicate.visible) == (first, "warrant_number", True)
    assert warning.value.status_code == 409
    assert first.reference in warning.value.message
    assert Warrant.objects.count() == 2
    entry = AuditEntry.objects.filter(action=AuditAction.WARRANT_CREATED, warrant_ref=second.reference).get()
    assert (entry.details["confirmed_duplicate"], entry.details["duplicates"]) == (["warrant_number"], 1)


def test_the_same_number_from_another_agency_is_not_a_duplicate(legal_officer, agency):
    _log(legal_officer, agency)

    _log(legal_officer, AgencyFactory(code="knpa", name="KNPA"))

    assert Warrant.objects.count() == 2


def test_the_same_file_on_two_warrants_is_a_possible_duplicate(legal_officer, agency):
    content = pdf_bytes("The very same scan")
    first = _log(legal_officer, agency, "A-1", content=content)

    with pytest.raises(PossibleDuplicate) as warning:
        _log(legal_officer, agency, "B-2", content=content)

    assert [(item.warrant, item.reason) for item in warning.value.duplicates] == [(first, "document")]
    assert Warrant.objects.count() == 1
    assert Document.objects.count() == 1


def test_a_case_the_officer_is_not_assigned_to_is_told_without_its_reference(legal_officer, outsider, agency):
    hidden = _log(legal_officer, agency)

    with pytest.raises(PossibleDuplicate) as warning:
        _log(outsider, agency)

    (duplicate,) = warning.value.duplicates
    assert duplicate.visible is False
    assert duplicate.as_dict() == {"reason": "warrant_number", "warrant": None, "reference": None, "assigned": False}
    assert hidden.reference not in warning.value.message
    assert "another case you are not assigned to" in warning.value.message


# --- the web form and the case page ------------------------------------------------------------------


def test_the_form_warns_with_a_link_and_logs_only_once_confirmed(legal_officer, agency):
    first = _log(legal_officer, agency, "2026-압수-2001")
    client = client_for(legal_officer)
    fields = web_form_fields(agency, warrant_number="2026 압수 2001")

    warned = client.post("/warrants/new/", {**fields, "document": SimpleUploadedFile("w.pdf", pdf_bytes("Once"))})
    html = warned.content.decode()
    confirmed = client.post(
        "/warrants/new/",
        {**fields, "confirm_duplicate": "on", "document": SimpleUploadedFile("w.pdf", pdf_bytes("Once"))},
    )

    assert warned.status_code == 400
    assert f'href="{first.get_absolute_url()}"' in html
    assert f"Possible duplicate of {first.reference}" in html
    assert 'name="confirm_duplicate"' in html
    assert confirmed.status_code == 302
    assert Warrant.objects.count() == 2


def test_the_form_does_not_name_a_case_the_officer_may_not_see(legal_officer, outsider, agency):
    hidden = _log(legal_officer, agency, "2026-압수-2001")

    html = (
        client_for(outsider)
        .post("/warrants/new/", {**web_form_fields(agency), "document": SimpleUploadedFile("w.pdf", pdf_bytes("X"))})
        .content.decode()
    )

    assert "Possible duplicate of another case you are not assigned to" in html
    assert hidden.reference not in html
    assert Warrant.objects.count() == 1


def test_the_case_page_shows_the_possible_duplicate_only_to_those_who_may_see_it(legal_officer, reviewer, agency):
    first = _log(legal_officer, agency)
    second = _log(legal_officer, agency, confirm_duplicate=True)
    services.warrant_assign(warrant=second, user=reviewer, actor=legal_officer)

    officer_page = client_for(legal_officer).get(second.get_absolute_url()).content.decode()
    reviewer_page = client_for(reviewer).get(second.get_absolute_url()).content.decode()

    assert f'<a href="{first.get_absolute_url()}">Possible duplicate of {first.reference}</a>' in officer_page
    assert "Possible duplicate of another case you are not assigned to" in reviewer_page
    assert first.reference not in reviewer_page


def test_uploading_a_file_already_attached_elsewhere_asks_for_confirmation(legal_officer, agency):
    content = pdf_bytes("Court letter")
    first = _log(legal_officer, agency, "A-1", content=content)
    second = _log(legal_officer, agency, "B-2")
    client = client_for(legal_officer)
    url = f"/warrants/{second.pk}/documents/"

    client.post(url, {"kind": "SUPPORTING", "file": SimpleUploadedFile("letter.pdf", content)}, follow=True)
    refused = second.documents.count()
    client.post(
        url, {"kind": "SUPPORTING", "confirm_duplicate": "on", "file": SimpleUploadedFile("letter.pdf", content)}
    )

    assert refused == 0
    assert second.documents.count() == 1
    page = client.get(second.get_absolute_url()).content.decode()
    assert f"Possible duplicate of {first.reference}" in page


# --- the API ---------------------------------------------------------------------------------------


def test_the_api_answers_409_with_the_other_case_unless_confirmed(legal_officer, outsider, agency):
    first = _log(legal_officer, agency, "KNPA-2026-0500")
    body = api_create_fields(agency, warrant_number="knpa 2026 0500")

    mine = client_for(legal_officer).post("/api/v1/warrants/", body, content_type="application/json")
    theirs = client_for(outsider).post("/api/v1/warrants/", body, content_type="application/json")
    confirmed = client_for(legal_officer).post(
        "/api/v1/warrants/", {**body, "confirm_duplicate": True}, content_type="application/json"
    )

    assert mine.status_code == 409
    assert mine.json()["code"] == "possible_duplicate"
    assert mine.json()["duplicates"] == [
        {"reason": "warrant_number", "warrant": first.pk, "reference": first.reference, "assigned": True}
    ]
    assert theirs.status_code == 409
    assert theirs.json()["duplicates"] == [
        {"reason": "warrant_number", "warrant": None, "reference": None, "assigned": False}
    ]
    assert first.reference not in theirs.content.decode()
    assert confirmed.status_code == 201
    assert confirmed.json()["duplicates"][0]["reference"] == first.reference
    assert (
        client_for(legal_officer).get(f"/api/v1/warrants/{first.pk}/").json()["duplicates"][0]["warrant"]
        == (confirmed.json()["id"])
    )


def test_the_api_document_upload_reports_the_same_file_and_the_document_lists_it(legal_officer, agency):
    content = pdf_bytes("Shared scan")
    first = _log(legal_officer, agency, "A-1", content=content)
    second = _log(legal_officer, agency, "B-2")
    client = client_for(legal_officer)
    url = f"/api/v1/warrants/{second.pk}/documents/"

    warned = client.post(url, {"kind": "SUPPORTING", "file": SimpleUploadedFile("s.pdf", content)})
    confirmed = client.post(
        url, {"kind": "SUPPORTING", "confirm_duplicate": "true", "file": SimpleUploadedFile("s.pdf", content)}
    )

    assert warned.status_code == 409
    assert warned.json()["duplicates"][0]["reference"] == first.reference
    assert confirmed.status_code == 201
    assert confirmed.json()["duplicates"] == [
        {"reason": "document", "warrant": first.pk, "reference": first.reference, "assigned": True}
    ]


def test_the_possible_duplicate_notice_is_in_korean_for_a_korean_reader(legal_officer, agency):
    first = _log(legal_officer, agency)
    second = _log(legal_officer, agency, confirm_duplicate=True)
    client = client_for(legal_officer)
    client.cookies["django_language"] = "ko"

    page = client.get(second.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    assert f"{first.reference}와(과) 중복일 수 있음" in page
    assert "같은 기관과 영장 번호" in page
