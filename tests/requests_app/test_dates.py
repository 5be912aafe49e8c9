"""Receipt time and deadline are checked wherever a warrant or follow-up request is logged, and a
signature claiming to be made after its document arrived is a warning on the verdict (issue 10.4)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone

from disclosure.followups.forms import FollowUpForm
from requests_app import registry, services
from requests_app.dates import CLOCK_SKEW
from requests_app.models import SignatureOutcome, Warrant
from requests_app.services import TargetInput
from tests import pki
from tests.factories import pdf_bytes, warrant_fields
from tests.helpers import api_create_fields, client_for, web_form_fields
from warrantdesk.exceptions import DomainError


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


# --- receipt time and deadline -----------------------------------------------------------------------


def test_the_web_form_refuses_a_receipt_in_the_future_and_stores_nothing(legal_officer, agency):
    tomorrow = timezone.now() + dt.timedelta(days=1)
    fields = web_form_fields(agency, received_at=_local(tomorrow), deadline=_local(tomorrow + dt.timedelta(days=7)))

    response = client_for(legal_officer).post(
        "/warrants/new/", {**fields, "document": SimpleUploadedFile("w.pdf", pdf_bytes("W"))}
    )

    assert response.status_code == 400
    assert "is in the future" in " ".join(response.context["form"].errors["received_at"])
    assert not Warrant.objects.exists()


def test_the_web_form_refuses_a_deadline_before_the_receipt(legal_officer, agency):
    fields = web_form_fields(agency, received_at="2026-03-02T09:00", deadline="2026-03-01T18:00")

    response = client_for(legal_officer).post(
        "/warrants/new/", {**fields, "document": SimpleUploadedFile("w.pdf", pdf_bytes("W"))}
    )

    assert response.status_code == 400
    assert "The deadline must be after the warrant was received" in " ".join(
        response.context["form"].errors["deadline"]
    )
    assert not Warrant.objects.exists()


def test_a_receipt_a_few_minutes_ahead_is_clock_skew_and_accepted(legal_officer, agency):
    ahead = timezone.now() + CLOCK_SKEW - dt.timedelta(minutes=1)

    warrant = services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", "target-1")],
        **warrant_fields(agency, received_at=ahead),
    )

    assert warrant.received_at == ahead


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"received_at": "2099-03-02T09:00:00+09:00", "deadline": "2099-03-09T09:00:00+09:00"},
            "received_at",
            "future",
        ),
        ({"deadline": "2026-03-01T09:00:00+09:00"}, "deadline", "must be after the warrant was received"),
        ({"deadline": "2026-03-02T09:00:00+09:00"}, "deadline", "must be after the warrant was received"),
    ],
    ids=["receipt in the future", "deadline before receipt", "deadline at receipt"],
)
def test_the_api_refuses_bad_dates_with_a_400_naming_the_field(legal_officer, agency, change, field, message):
    response = client_for(legal_officer).post(
        "/api/v1/warrants/", api_create_fields(agency, **change), content_type="application/json"
    )

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Warrant.objects.exists()


def test_the_service_refuses_bad_dates_for_any_caller(legal_officer, agency):
    now = timezone.now()

    with pytest.raises(DomainError, match="must be after the warrant was received") as refusal:
        services.warrant_register(
            actor=legal_officer,
            targets=[TargetInput("UID", "target-1")],
            **warrant_fields(agency, received_at=now - dt.timedelta(hours=1), deadline=now - dt.timedelta(days=1)),
        )

    assert refusal.value.code == "bad_dates"


def test_the_model_refuses_bad_dates_on_any_edit_path_and_the_database_too(warrant):
    warrant.deadline = warrant.received_at - dt.timedelta(hours=1)

    with pytest.raises(ValidationError) as refusal:
        warrant.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Warrant.objects.filter(pk=warrant.pk).update(deadline=warrant.deadline)

    assert "deadline" in refusal.value.message_dict


def test_the_follow_up_form_refuses_a_receipt_in_the_future(db):
    later = timezone.now() + dt.timedelta(hours=3)
    data = QueryDict(mutable=True)
    data.update({"received_at": _local(later), "deadline": _local(later + dt.timedelta(days=3)), "pasted": ""})
    form = FollowUpForm(data, {"document": SimpleUploadedFile("f.pdf", pdf_bytes("F"))})

    assert not form.is_valid()
    assert "is in the future" in " ".join(form.errors["received_at"])


def test_the_follow_up_api_refuses_a_receipt_in_the_future(warrant, legal_officer):
    later = timezone.now() + dt.timedelta(hours=3)

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/follow-ups/",
        {
            "document": SimpleUploadedFile("f.pdf", pdf_bytes("F"), "application/pdf"),
            "received_at": later.isoformat(),
            "deadline": (later + dt.timedelta(days=3)).isoformat(),
            "tokens": '[{"token": "p1.x.y", "justification": "why"}]',
        },
    )

    assert response.status_code == 400
    assert "is in the future" in " ".join(response.json()["received_at"])


# --- a signature made after the document arrived ---------------------------------------------------


@pytest.fixture
def agency_a(agency_a, ca):
    """Agency A (tests/requests_app/conftest.py) with its chief, Kim Min-jun."""
    agency = agency_a
    registry.investigator_register(
        agency=agency, certificate=ca.chief_a.pem, name="Kim Min-jun", title="Chief", is_chief=True, actor=None
    )
    return agency


def _checked(officer, agency, *, signed_at: dt.datetime, number: str):
    signed = pki.sign_pdf(pki.make_pdf(title=number), pki.pki().chief_a, signing_time=signed_at)
    warrant = services.warrant_register(
        actor=officer,
        targets=[TargetInput("UID", "target-1")],
        upload=SimpleUploadedFile("warrant.pdf", signed, "application/pdf"),
        **warrant_fields(agency, warrant_number=number, received_at=pki.RECEIPT),
    )
    check = services.document_check_signature(document=services.current_warrant_document(warrant))
    return warrant, check


def test_a_signature_claimed_after_the_receipt_is_a_warning_on_the_verdict_in_english_and_korean(
    agency_a, legal_officer
):
    warrant, check = _checked(legal_officer, agency_a, signed_at=pki.RECEIPT + dt.timedelta(days=2), number="late")
    client = client_for(legal_officer)

    english = client.get(warrant.get_absolute_url()).content.decode()
    client.cookies["django_language"] = "ko"
    korean = client.get(warrant.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    api = client.get(f"/api/v1/warrants/{warrant.pk}/").json()

    assert check.outcome == SignatureOutcome.VALID  # a warning, not a refusal
    assert [warning["code"] for warning in check.warnings] == ["signed_after_receipt"]
    assert check.warnings[0]["signing_time"] == (pki.RECEIPT + dt.timedelta(days=2)).isoformat()
    assert "A document cannot be signed after it arrived" in english
    assert "도착한 뒤에 서명될 수 없습니다" in korean
    assert api["signature"]["warnings"][0]["code"] == "signed_after_receipt"
    assert api["signature"]["warnings"][0]["message"]


def test_a_signature_made_before_the_receipt_or_within_the_clock_skew_has_no_warning(agency_a, legal_officer):
    _warrant, before = _checked(legal_officer, agency_a, signed_at=pki.SIGNED, number="before")
    _warrant, skew = _checked(
        legal_officer, agency_a, signed_at=pki.RECEIPT + CLOCK_SKEW - dt.timedelta(minutes=1), number="skew"
    )

    assert before.warnings == []
    assert skew.warnings == []
