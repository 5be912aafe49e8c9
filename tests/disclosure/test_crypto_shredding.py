"""Crypto-shredding: WARRANTDESK_KEY_DESTROY_DAYS after closure a warrant's keys are destroyed (unless a
preservation order postpones it); then nothing of it can be reversed or read, each refusal says so
with the date, and no copy of the database holds its keys (a full scan of every table proves it)."""

import datetime as dt
import io
import json
import zipfile
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from disclosure import keys, services, shredding
from disclosure.followups import services as followups
from disclosure.models import CaseKey, Export, Message
from disclosure.packages import package_bytes
from requests_app import services as intake
from requests_app.models import Document, PreservationOrder, Warrant
from requests_app.workflow import Status
from tests.factories import pdf_bytes
from tests.helpers import client_for, database_cells_holding, run_export
from warrantdesk import keystore, periodic
from warrantdesk.models import AuditAction, AuditEntry

DAYS = 30


@pytest.fixture
def closed_case(approved_warrant, legal_officer, settings):
    """An exported, delivered warrant, closed DAYS + 1 days ago, with its keys and one pseudonym."""
    settings.WARRANTDESK_KEY_DESTROY_DAYS = DAYS
    export = run_export(approved_warrant, legal_officer)
    assert export.status == Export.Status.READY, export.error
    services.export_record_delivery(export=export, actor=legal_officer, channel="IN_PERSON", recipient="Insp. Yoon")
    Warrant.objects.filter(pk=approved_warrant.pk).update(
        status=Status.CLOSED, closed_at=timezone.now() - dt.timedelta(days=DAYS + 1)
    )
    approved_warrant.refresh_from_db()
    reference = approved_warrant.reference
    secret_keys = [
        keystore.get(keystore.warrant_files_key(reference)),
        keystore.get(keystore.warrant_pseudonyms_key(reference)),
    ]
    _key_id, pseudonym_key = keys.case_key(approved_warrant)
    assert pseudonym_key in secret_keys
    token = pseudonymised_token(export)
    return {"warrant": approved_warrant, "export": export, "keys": secret_keys, "token": token}


def pseudonymised_token(export: Export) -> str:
    with zipfile.ZipFile(io.BytesIO(package_bytes(export))) as archive:
        people = json.loads(archive.read("conversations.json"))["participants"]["pseudonymised"]
    return people[0]["token"]


def preservation_pdf(name: str = "preservation-order.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pdf_bytes("Preservation order"), content_type="application/pdf")


def test_the_scan_finds_a_key_wherever_it_is_planted(closed_case):
    """The scan reads every table and column: a key planted as text or as bytes is found."""
    files_key = closed_case["keys"][0]
    assert database_cells_holding(closed_case["keys"]) == []  # the database never held them

    Warrant.objects.filter(pk=closed_case["warrant"].pk).update(notes=f"oops {files_key.hex()} oops")
    as_text = database_cells_holding([files_key])
    Warrant.objects.filter(pk=closed_case["warrant"].pk).update(notes="")
    message = Message.objects.order_by("pk").first()
    Message.objects.filter(pk=message.pk).update(sealed_body=b"\x00" + files_key + b"\x00")
    as_bytes = database_cells_holding([files_key])
    Message.objects.filter(pk=message.pk).update(sealed_body=message.sealed_body)

    assert [table for table, _column in as_text] == [Warrant._meta.db_table]
    assert [table for table, _column in as_bytes] == [Message._meta.db_table]


def test_destruction_makes_everything_of_the_warrant_fail_cleanly_and_leaves_no_key(closed_case, legal_officer, client):
    warrant, export = closed_case["warrant"], closed_case["export"]
    document = warrant.documents.get(kind=Document.Kind.WARRANT)
    _link, token = services.export_issue_link(export=export, actor=legal_officer, recipient="Insp. Yoon", hours=72)

    counts = shredding.keys_destroy_due()

    assert counts == {"warrants_destroyed": 1, "postponed_by_orders": 0}
    record = CaseKey.objects.get(warrant=warrant)
    when = f"{record.destroyed_at:%Y-%m-%d}"  # the refusals' date (UTC, as the key store records it)
    # A reveal: irreversible, with the date.
    validity, reason = followups.validate_token(warrant, closed_case["token"])
    assert validity == "KEY_DESTROYED" and f"destroyed on {when}" in reason and "Irreversible" in reason
    with pytest.raises(keys.KeyDestroyed):
        keys.case_key(warrant)
    # Downloads: a page (web), JSON (API), the link's page: 410, saying when.
    officer = client_for(legal_officer)
    for response in (
        officer.get(reverse("disclosure:export-download", args=[export.pk])),
        officer.get(reverse("requests_app:document-download", args=[document.pk])),
        client.get(reverse("link-download", args=[token])),
    ):
        assert response.status_code == 410
        assert f"destroyed on {when}" in unescape(response.content.decode())
    for url in (f"/api/v1/exports/{export.pk}/download/", f"/api/v1/documents/{document.pk}/download/"):
        api = officer.get(url)
        assert api.status_code == 410 and api.json()["code"] == "key_destroyed" and when in api.json()["detail"]
    with pytest.raises(keystore.KeyDestroyed):
        intake.document_file(document)
    # No copy of the database holds the keys; the key store keeps only tombstones.
    assert database_cells_holding(closed_case["keys"]) == []
    assert keystore.destroyed_at(keystore.warrant_files_key(warrant.reference)) is not None
    assert keystore.destroyed_at(keystore.warrant_pseudonyms_key(warrant.reference)) is not None
    entry = AuditEntry.objects.filter(action=AuditAction.KEY_DESTROYED).get()
    assert entry.details["keys"] == ["pseudonyms", "files"] and entry.actor_label == "system"


def test_the_page_says_when_the_keys_go_and_then_that_they_went(closed_case, legal_officer):
    warrant = closed_case["warrant"]
    officer = client_for(legal_officer)
    due = timezone.localtime(warrant.closed_at + dt.timedelta(days=DAYS))

    before = unescape(officer.get(warrant.get_absolute_url()).content.decode())
    shredding.keys_destroy_due()
    after = unescape(officer.get(warrant.get_absolute_url()).content.decode())

    assert f"The warrant's keys will be destroyed on {due:%Y-%m-%d}" in before
    destroyed = timezone.localtime(CaseKey.objects.get(warrant=warrant).destroyed_at)
    assert f"The warrant's keys were destroyed on {destroyed:%Y-%m-%d}" in after
    assert reverse("disclosure:export-download", args=[closed_case["export"].pk]) not in after
    assert reverse("disclosure:export-manifest", args=[closed_case["export"].pk]) in after


def test_a_preservation_order_postpones_destruction_visibly_until_its_date(closed_case, legal_officer):
    warrant = closed_case["warrant"]
    until = timezone.now() + dt.timedelta(days=60)
    order = intake.preservation_order_record(
        warrant=warrant, actor=legal_officer, upload=preservation_pdf(), until=until, note="Prosecutor's order 7"
    )

    counts = shredding.keys_destroy_due()
    page = unescape(client_for(legal_officer).get(warrant.get_absolute_url()).content.decode())

    assert counts == {"warrants_destroyed": 0, "postponed_by_orders": 1}
    assert keystore.exists(keystore.warrant_files_key(warrant.reference))
    assert keys.case_key(warrant)  # still reversible
    assert (
        f"Key destruction postponed until {timezone.localtime(until):%Y-%m-%d} by preservation order "
        f"“{order.document.original_name}”" in page
    )
    # Once the order has run out, the next run destroys them.
    later = until + dt.timedelta(seconds=1)
    assert shredding.keys_destroy_due(now=later) == {"warrants_destroyed": 1, "postponed_by_orders": 0}
    assert database_cells_holding(closed_case["keys"]) == []


def test_an_order_that_ends_before_the_due_date_postpones_nothing(closed_case, legal_officer, settings):
    settings.WARRANTDESK_KEY_DESTROY_DAYS = 90  # closed 31 days ago: due in 59 days
    warrant = closed_case["warrant"]
    intake.preservation_order_record(
        warrant=warrant, actor=legal_officer, upload=preservation_pdf(), until=timezone.now() + dt.timedelta(days=10)
    )

    plan = shredding.key_plan(warrant)

    assert plan.postponed_until is None and plan.due_at == warrant.closed_at + dt.timedelta(days=90)


def test_destruction_is_safe_to_run_twice_and_spares_open_and_recent_warrants(closed_case, warrant, settings):
    recent = closed_case["warrant"]
    Warrant.objects.filter(pk=recent.pk).update(closed_at=timezone.now() - dt.timedelta(days=DAYS - 1))

    assert shredding.keys_destroy_due() == {"warrants_destroyed": 0, "postponed_by_orders": 0}
    later = timezone.now() + dt.timedelta(days=2)
    assert shredding.keys_destroy_due(now=later)["warrants_destroyed"] == 1
    assert shredding.keys_destroy_due(now=later)["warrants_destroyed"] == 0
    assert AuditEntry.objects.filter(action=AuditAction.KEY_DESTROYED).count() == 1
    # The open warrant (received, never closed) keeps its files key.
    assert keystore.exists(keystore.warrant_files_key(warrant.reference))


def test_a_run_cut_short_between_the_two_keys_is_completed(closed_case):
    warrant = closed_case["warrant"]
    keystore.destroy(keystore.warrant_pseudonyms_key(warrant.reference))  # the run died here

    assert shredding.keys_destroy_due()["warrants_destroyed"] == 1

    assert not keystore.exists(keystore.warrant_files_key(warrant.reference))
    assert database_cells_holding(closed_case["keys"]) == []


def test_a_rejected_warrant_without_a_pseudonym_key_has_its_files_key_destroyed(warrant, reviewer, settings):
    settings.WARRANTDESK_KEY_DESTROY_DAYS = DAYS
    files_key = keystore.get(keystore.warrant_files_key(warrant.reference))
    intake.warrant_reject(warrant=warrant, actor=reviewer, note="Out of our jurisdiction")
    Warrant.objects.filter(pk=warrant.pk).update(closed_at=timezone.now() - dt.timedelta(days=DAYS + 1))

    assert shredding.keys_destroy_due()["warrants_destroyed"] == 1

    assert CaseKey.objects.get(warrant=warrant).destroyed_at is not None  # the date is kept
    assert database_cells_holding([files_key]) == []
    with pytest.raises(keystore.KeyDestroyed):
        intake.document_file(warrant.documents.get())


def test_the_destruction_job_is_registered_and_audited_with_its_counts(closed_case):
    job = periodic.registered()["keys.destroy"]

    [outcome] = periodic.Runner({job.name: job}).run_due(only=[job.name], force=True)

    assert outcome.ok and outcome.summary == {"warrants_destroyed": 1, "postponed_by_orders": 0}
    ran = AuditEntry.objects.filter(action=AuditAction.PERIODIC_RAN).get()
    assert ran.details["counts"]["warrants_destroyed"] == 1
    assert PreservationOrder.objects.count() == 0


def test_no_new_link_once_the_keys_were_destroyed(closed_case, legal_officer):
    shredding.keys_destroy_due()

    with pytest.raises(keystore.KeyDestroyed):
        services.export_issue_link(export=closed_case["export"], actor=legal_officer, recipient="Insp. Yoon", hours=1)
