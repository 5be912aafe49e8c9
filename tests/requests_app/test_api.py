"""The REST API: creating warrants, refusals as 409 with a readable reason, schema and docs, query counts."""

import datetime as dt
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from drf_spectacular.validation import validate_schema

from requests_app import services
from requests_app.models import Warrant
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests.factories import AgencyFactory, pdf_bytes, warrant_fields
from tests.helpers import api_create_fields, client_for, verify_signature
from warrantdesk.models import AuditAction, AuditEntry


def test_an_officer_logs_a_warrant_with_json(legal_officer, agency):
    response = client_for(legal_officer).post(
        "/api/v1/warrants/", api_create_fields(agency, rooms=["room-7"]), content_type="application/json"
    )

    assert response.status_code == 201
    body = response.json()
    warrant = Warrant.objects.get()
    assert (body["id"], body["reference"], body["status"]) == (warrant.pk, warrant.reference, "RECEIVED")
    assert body["targets"] == [
        {"kind": "UID", "identifier": "user-42"},
        {"kind": "PHONE", "identifier": "010-9876-5432"},
    ]
    assert (body["agency"], body["created_by"], body["received_via"], body["rooms"]) == (
        agency.code,
        "alice",
        "API",
        ["room-7"],
    )
    assert body["documents"] == []
    assert warrant.received_at == dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)
    assert AuditEntry.objects.filter(action=AuditAction.WARRANT_CREATED, warrant_ref=warrant.reference).count() == 1


def test_an_officer_logs_a_warrant_with_its_document_as_multipart(legal_officer, agency):
    fields = api_create_fields(agency)
    content = pdf_bytes("Warrant by API")

    response = client_for(legal_officer).post(
        "/api/v1/warrants/",
        {
            **fields,
            "targets": json.dumps(fields["targets"]),
            "document": SimpleUploadedFile("warrant.pdf", content, "application/pdf"),
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert len(body["targets"]) == 2
    assert [(document["original_name"], document["size"]) for document in body["documents"]] == [
        ("warrant.pdf", len(content))
    ]
    assert services.document_file(Warrant.objects.get().documents.get()).read() == content


def test_multipart_targets_that_are_not_json_are_refused_clearly(legal_officer, agency):
    response = client_for(legal_officer).post(
        "/api/v1/warrants/", {**api_create_fields(agency), "targets": "user-42, user-43"}
    )

    assert response.status_code == 400
    assert response.json() == {"targets": "Send targets as a JSON list."}
    assert not Warrant.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"targets": []}, "targets"),
        ({"period_end": "2025-12-01T00:00:00+09:00"}, "period_end"),
        ({"agency": "no-such-agency"}, "agency"),
    ],
    ids=["no-targets", "period-backwards", "unknown-agency"],
)
def test_an_invalid_warrant_is_refused_with_the_field_named(change, field, legal_officer, agency):
    response = client_for(legal_officer).post(
        "/api/v1/warrants/", {**api_create_fields(agency), **change}, content_type="application/json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert not Warrant.objects.exists()


def test_a_reviewer_cannot_log_a_warrant(reviewer, agency):
    response = client_for(reviewer).post(
        "/api/v1/warrants/", api_create_fields(agency), content_type="application/json"
    )

    assert response.status_code == 403
    assert not Warrant.objects.exists()


# --- transitions -----------------------------------------------------------------------------------


def test_an_impossible_transition_is_a_409_with_a_readable_reason(warrant, reviewer):
    response = client_for(reviewer).post(
        f"/api/v1/warrants/{warrant.pk}/transitions/", {"to": "CLOSED"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "A warrant in status “Received” cannot move to “Closed”.",
        "code": "transition_not_allowed",
    }
    warrant.refresh_from_db()
    assert warrant.status == Status.RECEIVED


def test_a_system_step_requested_through_the_api_is_a_409(warrant, reviewer):
    response = client_for(reviewer).post(
        f"/api/v1/warrants/{warrant.pk}/transitions/", {"to": "VERIFIED"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "system_transition"


def test_approving_ones_own_warrant_through_the_api_is_a_409(officer_reviewer, agency, pdf_upload):
    warrant = services.warrant_register(
        actor=officer_reviewer, targets=[TargetInput("UID", "target-1")], upload=pdf_upload(), **warrant_fields(agency)
    )
    verify_signature(warrant, actor=officer_reviewer)

    response = client_for(officer_reviewer).post(
        f"/api/v1/warrants/{warrant.pk}/transitions/", {"to": "APPROVED"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The officer who logged this warrant cannot approve it; another reviewer must.",
        "code": "four_eyes",
    }
    warrant.refresh_from_db()
    assert (warrant.status, warrant.approved_by) == (Status.VERIFIED, None)


def test_an_assigned_reviewer_approves_through_the_api(warrant, legal_officer, reviewer):
    verify_signature(warrant, actor=legal_officer)

    response = client_for(reviewer).post(
        f"/api/v1/warrants/{warrant.pk}/transitions/",
        {"to": "APPROVED", "note": "In order"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["approved_by"]) == ("APPROVED", "bob")
    events = client_for(reviewer).get(f"/api/v1/warrants/{warrant.pk}/events/").json()
    assert [(event["from_status"], event["to_status"], event["note"]) for event in events][-1] == (
        "VERIFIED",
        "APPROVED",
        "In order",
    )


def test_rejecting_without_a_reason_through_the_api_is_a_400(warrant, reviewer):
    response = client_for(reviewer).post(
        f"/api/v1/warrants/{warrant.pk}/transitions/", {"to": "REJECTED"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Please give a reason.", "code": "note_required"}


def test_assigning_an_officer_through_the_api_gives_them_the_case(warrant, legal_officer, second_reviewer):
    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/officers/", {"username": "erin"}, content_type="application/json"
    )

    assert response.status_code == 204
    assert client_for(second_reviewer).get(f"/api/v1/warrants/{warrant.pk}/").status_code == 200


# --- schema and docs -----------------------------------------------------------------------------


def test_the_schema_is_a_valid_openapi_document_with_the_warrant_paths(legal_officer):
    response = client_for(legal_officer).get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/warrants/",
        "/api/v1/warrants/{id}/",
        "/api/v1/warrants/{id}/transitions/",
        "/api/v1/warrants/{id}/documents/",
        "/api/v1/documents/{id}/download/",
    } <= set(schema["paths"])
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/warrants/"])


def test_the_api_docs_load_nothing_from_other_sites(legal_officer):
    response = client_for(legal_officer).get("/api/v1/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page) == []
    assert re.findall(r"https?://(?!127\.0\.0\.1|localhost|testserver)[\w.-]+/[\w./-]*\.(?:js|css)", page) == []


# --- query counts --------------------------------------------------------------------------------


def log_warrants(count: int, *, officer, reviewer) -> None:
    agencies = [AgencyFactory(), AgencyFactory()]
    for number in range(count):
        warrant = services.warrant_register(
            actor=officer,
            targets=[TargetInput("UID", f"user-{number}"), TargetInput("PHONE", f"010-0000-{number:04d}")],
            **warrant_fields(agencies[number % 2], kind="EMERGENCY" if number % 3 == 0 else "ORDINARY"),
        )
        services.warrant_assign(warrant=warrant, user=reviewer, actor=officer)


def queries_to_list(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/api/v1/warrants/", "/warrants/"])
def test_listing_warrants_takes_as_many_queries_for_30_as_for_3(url, legal_officer, reviewer):
    client = client_for(reviewer)
    log_warrants(3, officer=legal_officer, reviewer=reviewer)
    client.get(url)  # warm up: session, content types, permissions caches
    with_three = queries_to_list(client, url)
    log_warrants(27, officer=legal_officer, reviewer=reviewer)

    with_thirty = queries_to_list(client, url)

    assert with_thirty == with_three


def test_the_api_list_shows_what_the_reviewer_may_see(legal_officer, reviewer):
    log_warrants(3, officer=legal_officer, reviewer=reviewer)

    response = client_for(reviewer).get(reverse("warrant-list"))

    assert response.json()["count"] == 3
    assert {item["target_count"] for item in response.json()["results"]} == {2}
