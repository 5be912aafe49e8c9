"""Uploaded documents: refused with a clear message and nothing stored, or stored safely and audited.

Refusals are sent through every door a file can come in by: the web "Log a warrant" form, the web
document upload, the API document upload and the API warrant creation (multipart).
"""

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from requests_app import services
from requests_app.models import Document, ReferenceCounter, Warrant
from requests_app.workflow import Status
from tests.factories import pdf_bytes
from tests.helpers import (
    MULTIPART_CONTENT_TYPE,
    api_create_fields,
    client_for,
    multipart_body,
    stored_files,
    verify_signature,
    web_form_fields,
)
from warrantdesk.models import AuditAction, AuditEntry

ONE_AND_A_HALF_MIB = b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024 // 2)


@dataclass(frozen=True)
class Refusal:
    file_name: str
    content: bytes
    message: str  # what the user reads (a fragment, where the whole is shown in another case)
    code: str


REFUSALS = {
    "zip-named-pdf": Refusal(
        "scan.pdf",
        b"PK\x03\x04" + b"\x00" * 200,
        "“scan.pdf” is not a PDF: its content looks like a ZIP archive or Office document. "
        "Only PDF documents are accepted.",
        "not_pdf",
    ),
    "text-named-pdf": Refusal(
        "notes.pdf",
        b"Dear operator,\nplease find the warrant attached.\n",
        "“notes.pdf” is not a PDF: its content looks like text. Only PDF documents are accepted.",
        "not_pdf",
    ),
    "oversized": Refusal(
        "big.pdf",
        ONE_AND_A_HALF_MIB,
        "The file is 1,572,873 bytes; the limit is 1 MB (1,048,576 bytes).",
        "too_large",
    ),
    "dot-dot-slash": Refusal(
        "../../etc/passwd.pdf",
        pdf_bytes("Traversal"),
        "The file name “../../etc/passwd.pdf” contains a path or control characters. "
        "Rename the file and upload it again.",
        "unsafe_file_name",
    ),
    "dot-dot-backslash": Refusal(
        "..\\..\\x.pdf",
        pdf_bytes("Traversal"),
        "x.pdf” contains a path or control characters. Rename the file and upload it again.",
        "unsafe_file_name",
    ),
}


# --- the four doors ------------------------------------------------------------------------------


def post_web_create(client, *, warrant, agency, file_name, content):
    body = multipart_body(web_form_fields(agency), {"document": (file_name, content)})
    return client.post(reverse("requests_app:warrant-create"), data=body, content_type=MULTIPART_CONTENT_TYPE)


def shown_by_web_create(response) -> list[str]:
    assert response.status_code == 400
    errors = response.context["form"].errors["document"]
    page = response.content.decode()
    return [error for error in errors if error in page]


def post_web_upload(client, *, warrant, agency, file_name, content):
    body = multipart_body({"kind": "SUPPORTING"}, {"file": (file_name, content)})
    url = reverse("requests_app:document-upload", args=[warrant.pk])
    return client.post(url, data=body, content_type=MULTIPART_CONTENT_TYPE, follow=True)


def shown_by_web_upload(response) -> list[str]:
    assert response.redirect_chain[-1] == (
        reverse("requests_app:warrant-detail", args=[response.context["warrant"].pk]),
        302,
    )
    page = response.content.decode()
    return [str(message) for message in response.context["messages"] if str(message) in page]


def post_api_upload(client, *, warrant, agency, file_name, content):
    body = multipart_body({"kind": "SUPPORTING"}, {"file": (file_name, content)})
    return client.post(f"/api/v1/warrants/{warrant.pk}/documents/", data=body, content_type=MULTIPART_CONTENT_TYPE)


def post_api_create(client, *, warrant, agency, file_name, content):
    fields = api_create_fields(agency)
    fields["targets"] = json.dumps(fields["targets"])
    body = multipart_body(fields, {"document": (file_name, content)})
    return client.post("/api/v1/warrants/", data=body, content_type=MULTIPART_CONTENT_TYPE)


def shown_by_api(response) -> list[str]:
    assert response.status_code == 400
    return [response.json()["detail"]]


@dataclass(frozen=True)
class Door:
    post: Callable
    shown: Callable


DOORS = {
    "web-create": Door(post_web_create, shown_by_web_create),
    "web-upload": Door(post_web_upload, shown_by_web_upload),
    "api-upload": Door(post_api_upload, shown_by_api),
    "api-create": Door(post_api_create, shown_by_api),
}


def stored_state(settings) -> dict:
    return {
        "warrants": Warrant.objects.count(),
        "documents": Document.objects.count(),
        "references": list(ReferenceCounter.objects.values_list("year", "last")),
        "files": stored_files(settings.MEDIA_ROOT),
    }


@pytest.mark.parametrize("door", DOORS, ids=list(DOORS))
@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_a_refused_file_is_explained_and_nothing_is_stored(door, case, warrant, agency, legal_officer, settings):
    refusal = REFUSALS[case]
    before = stored_state(settings)
    refusals_before = AuditEntry.objects.filter(action=AuditAction.DOCUMENT_REFUSED).count()

    response = DOORS[door].post(
        client_for(legal_officer), warrant=warrant, agency=agency, file_name=refusal.file_name, content=refusal.content
    )

    shown = DOORS[door].shown(response)
    assert len(shown) == 1
    assert refusal.message in shown[0]
    assert stored_state(settings) == before
    refusals = AuditEntry.objects.filter(action=AuditAction.DOCUMENT_REFUSED)
    assert refusals.count() == refusals_before + 1
    entry = refusals.latest("seq")
    assert (entry.actor, entry.details["reason"]) == (legal_officer, refusal.code)


@pytest.mark.parametrize("door", ["api-upload", "api-create"])
def test_the_api_names_the_reason_of_a_refusal_with_a_code(door, warrant, agency, legal_officer):
    refusal = REFUSALS["zip-named-pdf"]

    response = DOORS[door].post(
        client_for(legal_officer), warrant=warrant, agency=agency, file_name=refusal.file_name, content=refusal.content
    )

    assert response.status_code == 400
    assert response.json() == {"detail": refusal.message, "code": "not_pdf"}


def test_a_path_sent_as_an_rfc_2231_file_name_is_refused_too(warrant, legal_officer, settings):
    boundary = "rfc2231"
    body = (
        (
            f"--{boundary}\r\n"
            "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd.pdf\r\n"
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf_bytes("Traversal")
        + f"\r\n--{boundary}--\r\n".encode()
    )
    before = stored_state(settings)

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/documents/", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The file name “../../etc/passwd.pdf” contains a path")
    assert stored_state(settings) == before


def test_a_file_just_over_the_limit_is_refused_and_one_at_the_limit_accepted(warrant, legal_officer, settings):
    settings.WARRANTDESK_MAX_UPLOAD_BYTES = 2048
    at_limit = pdf_bytes("At the limit").ljust(2048, b"\n")
    url = f"/api/v1/warrants/{warrant.pk}/documents/"
    client = client_for(legal_officer)

    over = client.post(
        url, data=multipart_body({}, {"file": ("over.pdf", at_limit + b"\n")}), content_type=MULTIPART_CONTENT_TYPE
    )
    exact = client.post(
        url, data=multipart_body({}, {"file": ("exact.pdf", at_limit)}), content_type=MULTIPART_CONTENT_TYPE
    )

    assert (over.status_code, over.json()["code"]) == (400, "too_large")
    assert exact.status_code == 201
    assert exact.json()["size"] == 2048


# --- a valid document ----------------------------------------------------------------------------


def test_a_valid_pdf_is_stored_under_a_server_made_name_with_its_hash_and_size(warrant, legal_officer, settings):
    content = pdf_bytes("Supporting letter")

    response = client_for(legal_officer).post(
        reverse("requests_app:document-upload", args=[warrant.pk]),
        data=multipart_body({"kind": "SUPPORTING"}, {"file": ("영장 사본 (court).pdf", content)}),
        content_type=MULTIPART_CONTENT_TYPE,
    )

    assert response.status_code == 302
    document = warrant.documents.get(kind=Document.Kind.SUPPORTING)
    assert re.fullmatch(r"documents/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", document.file.name)
    assert document.original_name == "영장 사본 (court).pdf"
    assert (document.sha256, document.size) == (hashlib.sha256(content).hexdigest(), len(content))
    assert services.document_file(document).read() == content
    entry = AuditEntry.objects.filter(action=AuditAction.DOCUMENT_UPLOADED).latest("seq")
    assert (entry.actor, entry.object_id, entry.details["sha256"]) == (legal_officer, str(document.pk), document.sha256)


def test_a_valid_pdf_is_accepted_by_the_api_and_described(warrant, legal_officer):
    content = pdf_bytes("Supporting letter")

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/documents/",
        data=multipart_body({"kind": "SUPPORTING"}, {"file": ("letter.pdf", content)}),
        content_type=MULTIPART_CONTENT_TYPE,
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["original_name"], body["sha256"], body["size"]) == (
        "letter.pdf",
        hashlib.sha256(content).hexdigest(),
        len(content),
    )
    assert body["download_url"] == f"/api/v1/documents/{body['id']}/download/"


def test_the_same_file_twice_on_one_warrant_is_refused_on_the_web(warrant, legal_officer, settings):
    same_as_logged = warrant.documents.get()
    content = services.document_file(same_as_logged).read()
    before = stored_state(settings)

    response = client_for(legal_officer).post(
        reverse("requests_app:document-upload", args=[warrant.pk]),
        data=multipart_body({"kind": "WARRANT"}, {"file": ("copy.pdf", content)}),
        content_type=MULTIPART_CONTENT_TYPE,
        follow=True,
    )

    assert [str(message) for message in response.context["messages"]] == [
        "This exact file is already attached to the warrant."
    ]
    assert "This exact file is already attached to the warrant." in response.content.decode()
    assert stored_state(settings) == before


def test_the_same_file_twice_on_one_warrant_is_a_conflict_in_the_api(warrant, legal_officer, settings):
    content = services.document_file(warrant.documents.get()).read()
    before = stored_state(settings)

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/documents/",
        data=multipart_body({}, {"file": ("copy.pdf", content)}),
        content_type=MULTIPART_CONTENT_TYPE,
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This exact file is already attached to the warrant.",
        "code": "duplicate_document",
    }
    assert stored_state(settings) == before


def test_web_upload_messages_are_also_kept_for_the_next_page(warrant, legal_officer):
    response = client_for(legal_officer).post(
        reverse("requests_app:document-upload", args=[warrant.pk]),
        data=multipart_body({}, {"file": ("scan.pdf", b"PK\x03\x04zip")}),
        content_type=MULTIPART_CONTENT_TYPE,
    )

    assert response.status_code == 302
    assert [message.level_tag for message in get_messages(response.wsgi_request)] == ["error"]


# --- download ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["requests_app:document-download", "document-download"])
def test_an_assigned_officer_downloads_the_same_bytes_as_an_attachment_and_it_is_audited(url_name, warrant, reviewer):
    document = warrant.documents.get()
    content = services.document_file(document).read()

    response = client_for(reviewer).get(reverse(url_name, args=[document.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{warrant.reference}-{document.pk}.pdf"'
    assert b"".join(response.streaming_content) == content
    entry = AuditEntry.objects.filter(action=AuditAction.DOCUMENT_VIEWED).latest("seq")
    assert (entry.actor, entry.warrant_ref, entry.object_id) == (reviewer, warrant.reference, str(document.pk))
    assert entry.details == {"sha256": document.sha256}


# --- documents and the workflow ------------------------------------------------------------------


def test_a_new_warrant_document_sends_a_verified_warrant_back_to_received(warrant, legal_officer):
    verify_signature(warrant, actor=legal_officer)

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/documents/",
        data=multipart_body({"kind": "WARRANT"}, {"file": ("corrected.pdf", pdf_bytes("Corrected warrant"))}),
        content_type=MULTIPART_CONTENT_TYPE,
    )

    assert response.status_code == 201
    warrant.refresh_from_db()
    assert warrant.status == Status.RECEIVED
    event = warrant.events.latest("pk")
    assert (event.from_status, event.to_status, event.note) == (
        Status.VERIFIED,
        Status.RECEIVED,
        "New warrant document",
    )


def test_a_supporting_document_leaves_a_verified_warrant_verified(warrant, legal_officer):
    verify_signature(warrant, actor=legal_officer)

    client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/documents/",
        data=multipart_body({"kind": "SUPPORTING"}, {"file": ("letter.pdf", pdf_bytes("Letter"))}),
        content_type=MULTIPART_CONTENT_TYPE,
    )

    warrant.refresh_from_db()
    assert warrant.status == Status.VERIFIED


def test_no_document_can_be_added_once_the_warrant_is_approved(warrant, legal_officer, reviewer, settings):
    verify_signature(warrant, actor=legal_officer)
    services.warrant_approve(warrant=warrant, actor=reviewer)
    before = stored_state(settings)

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/documents/",
        data=multipart_body({"kind": "SUPPORTING"}, {"file": ("late.pdf", pdf_bytes("Late"))}),
        content_type=MULTIPART_CONTENT_TYPE,
    )

    assert response.status_code == 409
    assert response.json()["detail"] == "Documents can no longer be added: the warrant is “Approved”."
    assert stored_state(settings) == before


# --- names that disguise themselves ----------------------------------------------------------------

INVISIBLE = {
    "right-to-left-override": "\u202e",
    "left-to-right-embedding": "\u202a",
    "pop-directional-formatting": "\u202c",
    "left-to-right-mark": "\u200e",
    "right-to-left-mark": "\u200f",
    "first-strong-isolate": "\u2068",
    "pop-directional-isolate": "\u2069",
    "zero-width-space": "\u200b",
    "zero-width-joiner": "\u200d",
    "byte-order-mark": "\ufeff",
    "line-separator": "\u2028",
}


@pytest.mark.parametrize("door", DOORS, ids=list(DOORS))
@pytest.mark.parametrize("character", INVISIBLE.values(), ids=list(INVISIBLE))
def test_a_name_with_invisible_characters_is_refused_like_a_path(
    door, character, warrant, agency, legal_officer, settings
):
    before = stored_state(settings)
    file_name = f"warrant{character}fdp.exe"

    response = DOORS[door].post(
        client_for(legal_officer), warrant=warrant, agency=agency, file_name=file_name, content=pdf_bytes("Bidi")
    )

    shown = DOORS[door].shown(response)
    assert len(shown) == 1
    assert f"The file name “warrant[U+{ord(character):04X}]fdp.exe” contains invisible characters" in shown[0]
    assert character not in shown[0]
    assert stored_state(settings) == before
    entry = AuditEntry.objects.filter(action=AuditAction.DOCUMENT_REFUSED).latest("seq")
    assert (entry.actor, entry.details["reason"]) == (legal_officer, "unsafe_file_name")


def test_a_korean_name_with_ordinary_spaces_is_still_accepted(warrant, legal_officer):
    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{warrant.pk}/documents/",
        data=multipart_body({"kind": "SUPPORTING"}, {"file": ("영장 사본 (2026).pdf", pdf_bytes("Korean"))}),
        content_type=MULTIPART_CONTENT_TYPE,
    )

    assert response.status_code == 201
    assert response.json()["original_name"] == "영장 사본 (2026).pdf"
