"""A refused action is in the audit log like a refused page: ``access.denied`` with the route, the
method, the case and the actor, and nothing of what was sent."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from requests_app.workflow import Status
from tests.factories import pdf_bytes, warrant_fields
from tests.helpers import client_for, verify_signature
from warrantdesk.models import AuditAction, AuditEntry

SECRET_NOTE = "Approve: the target user-42 is Kim Min-jun, 010-9876-5432"


def denials() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=AuditAction.ACCESS_DENIED).order_by("seq"))


def assert_one_denial(before: list[AuditEntry], *, actor, route: str, method: str, object_id: str, reason: str):
    new = denials()[len(before) :]
    assert len(new) == 1, [entry.details for entry in new]
    entry = new[0]
    assert entry.actor == actor
    assert {key: entry.details.get(key) for key in ("route", "method", "object_id", "reason")} == {
        "route": route,
        "method": method,
        "object_id": object_id,
        "reason": reason,
    }
    written = json.dumps(entry.details, ensure_ascii=False)
    for content in ("user-42", "Kim Min-jun", "010-9876-5432", "target-1", "010-1234-5678", "Approve"):
        assert content not in written
    return entry


@pytest.fixture
def verified(warrant, legal_officer):
    return verify_signature(warrant, actor=legal_officer)


def test_an_officer_posting_an_approval_on_the_web_is_refused_and_recorded(verified, legal_officer):
    before = denials()
    url = reverse("requests_app:warrant-transition", args=[verified.pk])

    response = client_for(legal_officer).post(
        url, {"to": Status.APPROVED, "note": SECRET_NOTE, "confirm": verified.reference}
    )

    assert response.status_code == 302
    verified.refresh_from_db()
    assert verified.status == Status.VERIFIED
    entry = assert_one_denial(
        before,
        actor=legal_officer,
        route="requests_app:warrant-transition",
        method="POST",
        object_id=str(verified.pk),
        reason="permission_denied",
    )
    assert entry.details["path"] == url


def test_an_officer_posting_an_approval_through_the_api_is_refused_and_recorded(verified, legal_officer):
    before = denials()

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{verified.pk}/transitions/",
        {"to": Status.APPROVED, "note": SECRET_NOTE},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert_one_denial(
        before,
        actor=legal_officer,
        route="warrant-transitions",
        method="POST",
        object_id=str(verified.pk),
        reason="permission_denied",
    )


def test_the_officer_who_logged_a_warrant_approving_it_is_recorded_as_a_four_eyes_refusal(
    officer_reviewer, agency, pdf_upload
):
    from requests_app import services
    from requests_app.services import TargetInput

    own = services.warrant_register(
        actor=officer_reviewer, targets=[TargetInput("UID", "user-42")], upload=pdf_upload(), **warrant_fields(agency)
    )
    verify_signature(own, actor=officer_reviewer)
    before = denials()

    response = client_for(officer_reviewer).post(
        f"/api/v1/warrants/{own.pk}/transitions/", {"to": Status.APPROVED}, content_type="application/json"
    )

    assert response.status_code == 409
    assert_one_denial(
        before,
        actor=officer_reviewer,
        route="warrant-transitions",
        method="POST",
        object_id=str(own.pk),
        reason="four_eyes",
    )


REFUSED_ACTIONS = {
    # name: (persona, method, url, body, expected status, route)
    "web-upload-by-a-reviewer": (
        "reviewer",
        "post",
        lambda w: reverse("requests_app:document-upload", args=[w.pk]),
        lambda: {"kind": "SUPPORTING", "file": SimpleUploadedFile("x.pdf", pdf_bytes("x"), "application/pdf")},
        302,
        "requests_app:document-upload",
    ),
    "web-create-by-a-reviewer": (
        "reviewer",
        "get",
        lambda w: reverse("requests_app:warrant-create"),
        lambda: {},
        403,
        "requests_app:warrant-create",
    ),
    "api-upload-by-a-reviewer": (
        "reviewer",
        "post",
        lambda w: f"/api/v1/warrants/{w.pk}/documents/",
        lambda: {"kind": "SUPPORTING", "file": SimpleUploadedFile("x.pdf", pdf_bytes("x"), "application/pdf")},
        403,
        "warrant-documents",
    ),
    "api-registry-change-by-an-officer": (
        "legal_officer",
        "post",
        lambda w: "/api/v1/agencies/",
        lambda: {"code": "rogue", "name": "Rogue agency"},
        403,
        "agency-list",
    ),
}


@pytest.mark.parametrize("case", REFUSED_ACTIONS, ids=list(REFUSED_ACTIONS))
def test_other_refused_actions_are_recorded_too(case, request, warrant):
    persona, method, url, body, expected, route = REFUSED_ACTIONS[case]
    user = request.getfixturevalue(persona)
    before = denials()

    response = getattr(client_for(user), method)(url(warrant), body())

    assert response.status_code == expected
    pk = "" if route in {"requests_app:warrant-create", "agency-list"} else str(warrant.pk)
    assert_one_denial(before, actor=user, route=route, method=method.upper(), object_id=pk, reason="permission_denied")


def test_a_refusal_for_the_state_of_the_case_is_not_an_access_denial(warrant, reviewer):
    before = denials()

    response = client_for(reviewer).post(
        f"/api/v1/warrants/{warrant.pk}/transitions/", {"to": Status.APPROVED}, content_type="application/json"
    )

    assert response.status_code == 409
    assert denials() == before
