"""Preservation orders: recorded on the warrant page with their document (sealed and audited like any
document), listed there, by who may add documents to the case; bad input is refused and stores nothing."""

import datetime as dt
from html import unescape

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from disclosure import keys
from requests_app import services
from requests_app.models import Document, PreservationOrder
from tests.factories import pdf_bytes
from tests.helpers import client_for, stored_files
from warrantdesk import keystore, sealed
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction, AuditEntry


def order_pdf(name: str = "order.pdf", content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content or pdf_bytes("Preservation order"), content_type="application/pdf")


def post_order(client, warrant, *, until: str, note: str = "", upload=None):
    return client.post(
        reverse("requests_app:preservation-order-create", args=[warrant.pk]),
        {"until": until, "note": note, "file": upload or order_pdf()},
        follow=True,
    )


def in_days(days: int) -> str:
    return f"{timezone.localdate() + dt.timedelta(days=days):%Y-%m-%d}"


def test_an_order_recorded_on_the_page_is_sealed_audited_and_listed(warrant, legal_officer):
    page = post_order(client_for(legal_officer), warrant, until=in_days(90), note="Seoul prosecutors, order 12")

    order = PreservationOrder.objects.get()
    assert page.status_code == 200
    text = unescape(page.content.decode())
    assert "Preservation order recorded" in text
    assert in_days(90) in text and "Seoul prosecutors, order 12" in text and "order.pdf" in text
    assert f"{timezone.localtime(order.until):%Y-%m-%d}" == in_days(90)  # to the end of that day
    assert order.document.kind == Document.Kind.PRESERVATION and order.recorded_by == legal_officer
    with default_storage.open(order.document.file.name, "rb") as stored:
        on_disk = stored.read()
    assert on_disk.startswith(sealed.MAGIC) and b"%PDF" not in on_disk
    entry = AuditEntry.objects.filter(action=AuditAction.DOCUMENT_UPLOADED, object_id=str(order.document.pk)).get()
    assert entry.details["kind"] == Document.Kind.PRESERVATION
    assert dt.datetime.fromisoformat(entry.details["preserve_until"]) == order.until


@pytest.mark.parametrize(
    ("until", "upload", "problem"),
    [
        (in_days(-1), None, "must be in the future"),
        (in_days(4000), None, "more than ten years away"),
        ("", None, "Preserve until"),
        ("31/02/2027", None, "Preserve until"),
        (in_days(30), order_pdf("order.pdf", b"not a pdf at all"), ""),
    ],
)
def test_bad_input_is_refused_with_a_message_and_stores_nothing(warrant, legal_officer, until, upload, problem):
    files_before = stored_files(default_storage.location)

    page = post_order(client_for(legal_officer), warrant, until=until, upload=upload)

    assert page.status_code == 200
    assert "Preservation order recorded" not in page.content.decode()
    assert problem in unescape(page.content.decode())
    assert not PreservationOrder.objects.exists()
    assert not warrant.documents.filter(kind=Document.Kind.PRESERVATION).exists()
    assert stored_files(default_storage.location) == files_before


def test_a_note_too_long_is_refused(warrant, legal_officer):
    with pytest.raises(DomainError, match="too long"):
        services.preservation_order_record(
            warrant=warrant,
            actor=legal_officer,
            upload=order_pdf(),
            until=timezone.now() + dt.timedelta(days=5),
            note="x" * 5000,
        )


def test_outsiders_get_404_and_people_without_the_right_are_refused(warrant, outsider, auditor):
    assert post_order(client_for(outsider), warrant, until=in_days(30)).status_code == 404
    with pytest.raises(PermissionDenied):
        services.preservation_order_record(
            warrant=warrant, actor=auditor, upload=order_pdf(), until=timezone.now() + dt.timedelta(days=5)
        )
    assert not PreservationOrder.objects.exists()


def test_no_order_once_the_keys_were_destroyed(warrant, legal_officer):
    keys.case_key_destroy(warrant=warrant, actor=None)

    with pytest.raises(Conflict, match="nothing left to preserve"):
        services.preservation_order_record(
            warrant=warrant, actor=legal_officer, upload=order_pdf(), until=timezone.now() + dt.timedelta(days=5)
        )
    page = unescape(client_for(legal_officer).get(warrant.get_absolute_url()).content.decode())

    assert not PreservationOrder.objects.exists()
    assert reverse("requests_app:preservation-order-create", args=[warrant.pk]) not in page
    assert keystore.destroyed_at(keystore.warrant_files_key(warrant.reference)) is not None


def test_the_keys_panel_and_the_order_form_speak_korean(warrant, legal_officer):
    services.preservation_order_record(
        warrant=warrant, actor=legal_officer, upload=order_pdf(), until=timezone.now() + dt.timedelta(days=40)
    )

    page = unescape(
        client_for(legal_officer).get(warrant.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    )

    for korean in (
        "키와 보존",
        "보존 명령 기록",
        "보존 기한",
        "영장의 키는 보존 명령으로 연기되지 않는 한",
        "명령서에 적힌 보존 마지막 날",
    ):
        assert korean in page
    for english in (
        "Keys and preservation",
        "Record a preservation order",
        "The last day to preserve",
        "unless a preservation order",
    ):
        assert english not in page


def api_post(user, warrant, **fields):
    return client_for(user).post(f"/api/v1/warrants/{warrant.pk}/preservation-orders/", fields)


def test_the_api_records_and_lists_orders_and_refuses_bad_input_as_json(warrant, legal_officer, outsider):
    created = api_post(legal_officer, warrant, until=in_days(60), note="Order 3", file=order_pdf())
    listed = client_for(legal_officer).get(f"/api/v1/warrants/{warrant.pk}/preservation-orders/")
    past = api_post(legal_officer, warrant, until=in_days(-2), file=order_pdf("again.pdf", pdf_bytes("Other")))
    garbled = api_post(legal_officer, warrant, until="soon", file=order_pdf("third.pdf", pdf_bytes("Third")))
    foreign = api_post(outsider, warrant, until=in_days(60), file=order_pdf("x.pdf", pdf_bytes("X")))

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["note"] == "Order 3" and body["document"]["kind"] == Document.Kind.PRESERVATION
    assert f"{timezone.localtime(dt.datetime.fromisoformat(body['until'])):%Y-%m-%d}" == in_days(60)
    assert [order["id"] for order in listed.json()] == [body["id"]]
    assert past.status_code == 400 and past.json()["code"] == "bad_until"
    assert garbled.status_code == 400 and "until" in garbled.json()
    assert foreign.status_code == 404
    assert PreservationOrder.objects.count() == 1
