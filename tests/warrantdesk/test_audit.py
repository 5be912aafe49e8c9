"""The tamper-evident audit log: it verifies after real work, and every kind of tampering is named."""

import contextlib
import csv
import datetime as dt
import hashlib
import io
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from requests_app.models import Warrant
from requests_app.workflow import Status
from tests.factories import PASSWORD, pdf_bytes
from tests.helpers import client_for, sign_in, verify_signature, web_form_fields
from warrantdesk.admin import AuditEntryAdmin
from warrantdesk.audit import audit_record, entry_hash, verify_chain
from warrantdesk.models import AuditAction, AuditChainHead, AuditEntry

TRIGGER = "warrantdesk_audit_no_update_delete"
# Every append-only table of the audit log (entries, the Merkle tree, the signed checkpoints) and its trigger.
APPEND_ONLY_TRIGGERS = {
    "warrantdesk_auditentry": TRIGGER,
    "warrantdesk_merklenode": "warrantdesk_merklenode_no_update_delete",
    "warrantdesk_checkpoint": "warrantdesk_checkpoint_no_update_delete",
}


def verify_audit_log_output(**options) -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out, **options)
    return out.getvalue()


def logged_in(username: str) -> Client:
    client = Client()
    response = sign_in(client, username, PASSWORD)  # the password, then the second factor
    assert response.status_code == 302, f"{username} could not sign in"
    return client


# --- a realistic day -----------------------------------------------------------------------------


def test_the_chain_verifies_after_a_realistic_day_of_work(legal_officer, reviewer, auditor, agency):
    alice = Client()
    alice.post(reverse("login"), {"username": "alice", "password": "not her password"})
    alice = logged_in("alice")
    created = alice.post(
        reverse("requests_app:warrant-create"),
        {**web_form_fields(agency), "document": SimpleUploadedFile("warrant.pdf", pdf_bytes("Warrant"))},
    )
    warrant = Warrant.objects.get()
    alice.post(reverse("requests_app:warrant-assign", args=[warrant.pk]), {"username": "bob"})
    alice.post(
        reverse("requests_app:document-upload", args=[warrant.pk]),
        {"kind": "SUPPORTING", "file": SimpleUploadedFile("letter.pdf", pdf_bytes("Letter"))},
    )
    download = alice.get(reverse("requests_app:document-download", args=[warrant.documents.latest("pk").pk]))
    verify_signature(warrant, actor=legal_officer)
    logged_in("bob").post(
        reverse("requests_app:warrant-transition", args=[warrant.pk]), {"to": "APPROVED", "confirm": warrant.reference}
    )
    audrey = logged_in("audrey")
    log_page = audrey.get(reverse("audit-log"))
    export = audrey.get(reverse("audit-export"))
    b"".join(export.streaming_content)

    report = verify_chain()

    assert created.status_code == 302
    assert download.status_code == 200
    assert log_page.status_code == 200
    assert Warrant.objects.get().status == Status.APPROVED
    assert list(AuditEntry.objects.order_by("seq").values_list("actor_label", "action")) == [
        ("alice", AuditAction.LOGIN_FAILED),
        ("alice", AuditAction.LOGIN),
        ("alice", AuditAction.TWO_FACTOR_VERIFIED),
        ("alice", AuditAction.WARRANT_CREATED),
        ("alice", AuditAction.DOCUMENT_UPLOADED),
        ("alice", AuditAction.WARRANT_ASSIGNED),
        ("alice", AuditAction.DOCUMENT_UPLOADED),
        ("alice", AuditAction.DOCUMENT_VIEWED),
        ("alice", AuditAction.WARRANT_TRANSITION),
        ("bob", AuditAction.LOGIN),
        ("bob", AuditAction.TWO_FACTOR_VERIFIED),
        ("bob", AuditAction.WARRANT_TRANSITION),
        ("audrey", AuditAction.LOGIN),
        ("audrey", AuditAction.TWO_FACTOR_VERIFIED),
        ("audrey", AuditAction.AUDIT_EXPORTED),
    ]
    assert report.ok
    assert report.count == AuditEntry.objects.count() == 15
    assert report.head_hash == AuditEntry.objects.latest("seq").hash
    assert verify_audit_log_output().startswith("OK 15 entries verified")


DETAILS = {
    "keys-sorted-differently-by-jsonb": {"b": 1, "ab": 2, "from": "VERIFIED", "to": "APPROVED", "by": "user"},
    "korean-text": {"note": "영장 사본을 다시 받았습니다", "officer": "officer.kim"},
    "nested-and-numbers": {"z": [1, 2.5, None, True], "a": {"inner": "x"}},
    "not-json-native": {"when": dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC), "size": 10**12},
    "empty": {},
}


@pytest.mark.parametrize("details", DETAILS.values(), ids=list(DETAILS))
def test_an_entry_verifies_whatever_its_details(details, legal_officer):
    entry = audit_record(action=AuditAction.WARRANT_TRANSITION, actor=legal_officer, details=details)

    report = verify_chain()

    assert report.ok, report.problem
    assert report.head_hash == entry.hash


def test_an_entry_written_on_a_whole_second_verifies(legal_officer, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC), tick=False)
    audit_record(action=AuditAction.LOGIN, actor=legal_officer)

    assert verify_chain().ok


def test_verifying_from_the_web_page_says_the_log_is_intact_and_is_itself_recorded(auditor, legal_officer):
    audit_record(action=AuditAction.LOGIN, actor=legal_officer)
    client = client_for(auditor)  # signing in writes an entry too
    entries = AuditEntry.objects.count()

    response = client.post(reverse("audit-verify"))

    assert response.status_code == 200
    assert response.context["report"].ok
    assert "The audit log is intact" in response.content.decode()
    entry = AuditEntry.objects.latest("seq")
    assert (entry.action, entry.actor, entry.details) == (
        AuditAction.AUDIT_VERIFIED,
        auditor,
        {"ok": True, "count": entries, "problem": ""},
    )


# --- tampering -----------------------------------------------------------------------------------


@contextlib.contextmanager
def tampering():
    """Act as someone with raw database access: on PostgreSQL, switch off the append-only trigger."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # Deferred foreign-key checks queued by this test's inserts would block ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, trigger in APPEND_ONLY_TRIGGERS.items():
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for table, trigger in APPEND_ONLY_TRIGGERS.items():
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def chain(legal_officer, reviewer) -> list[AuditEntry]:
    """Six entries written by the application, as a day of work would leave them."""
    entries = []
    for number in range(6):
        actor = legal_officer if number % 2 == 0 else reviewer
        entries.append(
            audit_record(
                action=AuditAction.WARRANT_ASSIGNED, actor=actor, warrant_ref="WD-2026-000001", details={"n": number}
            )
        )
    assert verify_chain().ok
    return entries


def move_up_from(seq: int) -> None:
    """Make room at ``seq`` by renumbering that row and every later one up by one (last first)."""
    for entry in AuditEntry.objects.filter(seq__gte=seq).order_by("-seq"):
        AuditEntry.objects.filter(pk=entry.pk).update(seq=entry.seq + 1)


def forged_fields(previous: AuditEntry, prev_hash: str) -> dict:
    return {
        "at": previous.at + dt.timedelta(seconds=1),
        "actor_id": None,
        "actor_label": "bob",
        "action": AuditAction.DOCUMENT_VIEWED.value,
        "warrant_ref": previous.warrant_ref,
        "object_type": "",
        "object_id": "",
        "ip": None,
        "details": {},
        "prev_hash": prev_hash,
    }


def fake_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


EDITS = {
    "actor_label": "mallory",
    "details": {"n": 99},
    "action": AuditAction.LOGOUT.value,
    "warrant_ref": "WD-2026-000999",
    "ip": "10.6.6.6",
}


@pytest.mark.parametrize(("field", "value"), EDITS.items(), ids=list(EDITS))
def test_an_edited_field_is_detected_and_the_entry_named(field, value, chain):
    middle = chain[2]
    with tampering():
        AuditEntry.objects.filter(pk=middle.pk).update(**{field: value})

    report = verify_chain()

    assert (report.problem.kind, report.problem.seq) == ("edited", middle.seq)
    assert f"entry #{middle.seq}" in report.problem.message


def test_an_edited_timestamp_is_detected(chain):
    middle = chain[3]
    with tampering():
        AuditEntry.objects.filter(pk=middle.pk).update(at=middle.at - dt.timedelta(hours=1))

    report = verify_chain()

    assert (report.problem.kind, report.problem.seq) == ("edited", middle.seq)


@pytest.mark.parametrize("position", [0, 5], ids=["first", "last"])
def test_an_edit_of_the_first_or_last_entry_is_detected(position, chain):
    entry = chain[position]
    with tampering():
        AuditEntry.objects.filter(pk=entry.pk).update(actor_label="mallory")

    report = verify_chain()

    assert (report.problem.kind, report.problem.seq) == ("edited", entry.seq)


@pytest.mark.parametrize("position", [0, 2], ids=["first", "middle"])
def test_a_deleted_row_is_detected_and_named(position, chain):
    deleted = chain[position]
    with tampering():
        AuditEntry.objects.filter(pk=deleted.pk).delete()

    report = verify_chain()

    assert report.problem.kind == "deleted"
    assert f"#{deleted.seq}" in report.problem.message


def test_a_deleted_last_row_is_detected_against_the_head(chain):
    last = chain[-1]
    with tampering():
        AuditEntry.objects.filter(pk=last.pk).delete()

    report = verify_chain()

    assert (report.problem.kind, report.problem.seq) == ("deleted", last.seq)


def test_a_forged_row_inserted_in_the_middle_is_named_inserted(chain):
    previous = chain[2]
    with tampering():
        move_up_from(previous.seq + 1)
        # A well-formed hash that was never computed by the application.
        AuditEntry.objects.create(
            seq=previous.seq + 1, hash=fake_hash("forged"), **forged_fields(previous, fake_hash("forged link"))
        )

    report = verify_chain()

    assert (report.problem.kind, report.problem.seq) == ("inserted", previous.seq + 1)


def test_a_forged_row_with_a_self_consistent_hash_inserted_in_the_middle_is_named_inserted(chain):
    previous = chain[2]
    fields = forged_fields(previous, fake_hash("forged link"))
    with tampering():
        move_up_from(previous.seq + 1)
        # The hash is computed the application's way over the forged content: only the link betrays it.
        AuditEntry.objects.create(seq=previous.seq + 1, hash=entry_hash(**fields), **fields)
    stored = AuditEntry.objects.values(*fields, "hash").get(seq=previous.seq + 1)
    assert entry_hash(**{name: stored[name] for name in fields}) == stored["hash"], "the forgery is self-consistent"

    report = verify_chain()

    assert report.problem.kind == "inserted"
    assert report.problem.seq == previous.seq + 1


def test_the_database_refuses_a_forged_row_linking_to_an_entry_that_already_has_a_successor(chain):
    previous = chain[2]
    fields = forged_fields(previous, previous.hash)
    with tampering():
        move_up_from(previous.seq + 1)

        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEntry.objects.create(seq=previous.seq + 1, hash=entry_hash(**fields), **fields)


def test_a_row_appended_behind_the_applications_back_is_named_inserted(chain):
    last = chain[-1]
    fields = forged_fields(last, last.hash)
    AuditEntry.objects.create(seq=last.seq + 1, hash=entry_hash(**fields), **fields)

    report = verify_chain()

    assert (report.problem.kind, report.problem.seq) == ("inserted", last.seq + 1)


def test_two_swapped_rows_are_named_reordered(chain):
    first, second = chain[2], chain[3]
    with tampering():
        AuditEntry.objects.filter(pk=first.pk).update(seq=10_000)
        AuditEntry.objects.filter(pk=second.pk).update(seq=first.seq)
        AuditEntry.objects.filter(pk=first.pk).update(seq=second.seq)

    report = verify_chain()

    assert report.problem.kind == "reordered"
    assert report.problem.seq in {first.seq, second.seq}


def test_verify_audit_log_fails_naming_the_entry(chain):
    middle = chain[2]
    with tampering():
        AuditEntry.objects.filter(pk=middle.pk).update(details={"n": 99})

    with pytest.raises(CommandError, match=rf"FAILED at entry #{middle.seq} \[edited\]"):
        call_command("verify_audit_log")


def test_verify_audit_log_fails_when_the_last_row_is_deleted(chain):
    last = chain[-1]
    with tampering():
        AuditEntry.objects.filter(pk=last.pk).delete()

    with pytest.raises(CommandError, match=rf"FAILED at entry #{last.seq} \[deleted\]"):
        call_command("verify_audit_log")


def test_verify_audit_log_accepts_an_earlier_head_the_chain_grew_from(chain, legal_officer):
    recorded_head = chain[-1].hash
    audit_record(action=AuditAction.LOGOUT, actor=legal_officer)

    output = verify_audit_log_output(expect_head=recorded_head)

    assert output.startswith("OK 7 entries verified")


def test_verify_audit_log_fails_when_a_recorded_head_is_gone(chain):
    with pytest.raises(CommandError, match="no longer in the chain"):
        call_command("verify_audit_log", expect_head=fake_hash("a head nobody wrote"))


def test_the_verification_page_reports_tampering(chain, auditor):
    with tampering():
        AuditEntry.objects.filter(pk=chain[2].pk).update(actor_label="mallory")

    response = client_for(auditor).post(reverse("audit-verify"))

    assert response.status_code == 200
    assert response.context["report"].problem.kind == "edited"
    assert "The audit log has been tampered with" in response.content.decode()
    assert AuditEntry.objects.latest("seq").details == {"ok": False, "count": 3, "problem": "edited"}


@pytest.mark.postgres
def test_on_postgresql_update_and_delete_on_the_audit_table_fail(chain):
    entry = chain[2]

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE warrantdesk_auditentry SET actor_label = 'mallory' WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM warrantdesk_auditentry WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()

    assert AuditEntry.objects.get(pk=entry.pk).actor_label == entry.actor_label
    assert verify_chain().ok


# --- concurrency ---------------------------------------------------------------------------------

WRITERS = 8
ENTRIES_PER_WRITER = 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain():
    count_before = AuditEntry.objects.count()
    start = threading.Barrier(WRITERS)
    failures = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for number in range(ENTRIES_PER_WRITER):
                audit_record(action=AuditAction.AUDIT_VERIFIED, actor_label=f"writer-{writer}", details={"n": number})
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == count_before + WRITERS * ENTRIES_PER_WRITER
    assert seqs == list(range(1, len(seqs) + 1))
    for writer in range(WRITERS):
        numbers = AuditEntry.objects.filter(actor_label=f"writer-{writer}").order_by("seq")
        assert [entry.details["n"] for entry in numbers] == list(range(ENTRIES_PER_WRITER))
    assert verify_chain().ok
    assert AuditChainHead.objects.get(pk=1).seq == seqs[-1]


# --- the audit log pages -------------------------------------------------------------------------


@pytest.fixture
def busy_week(legal_officer, reviewer, time_machine):
    """Entries on three days (Seoul time) by two actors on two warrants."""
    plan = [
        (dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), legal_officer, AuditAction.WARRANT_CREATED, "WD-2026-000001"),
        (dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC), reviewer, AuditAction.WARRANT_TRANSITION, "WD-2026-000001"),
        (dt.datetime(2026, 3, 3, 11, 0, tzinfo=dt.UTC), legal_officer, AuditAction.WARRANT_CREATED, "WD-2026-000002"),
        (dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC), reviewer, AuditAction.DOCUMENT_VIEWED, "WD-2026-000002"),
    ]
    entries = []
    for at, actor, action, reference in plan:
        time_machine.move_to(at, tick=False)
        entries.append(audit_record(action=action, actor=actor, warrant_ref=reference))
    time_machine.move_to(dt.datetime(2026, 3, 5, 10, 0, tzinfo=dt.UTC), tick=False)
    return entries


AUDIT_FILTERS = {
    "actor": ({"actor": "bob"}, [1, 3]),
    "action": ({"action": "warrant.created"}, [0, 2]),
    "warrant": ({"warrant": "WD-2026-000002"}, [2, 3]),
    "time-range": ({"since": "2026-03-03", "until": "2026-03-03"}, [1, 2]),
    "combined": ({"actor": "alice", "since": "2026-03-03"}, [2]),
}


@pytest.mark.parametrize(("query", "expected"), AUDIT_FILTERS.values(), ids=list(AUDIT_FILTERS))
def test_the_audit_page_filters_entries(query, expected, busy_week, auditor):
    response = client_for(auditor).get(reverse("audit-log"), query)

    assert response.status_code == 200
    shown = [entry.seq for entry in response.context["page"].object_list]
    assert shown == sorted((busy_week[index].seq for index in expected), reverse=True)


@pytest.mark.parametrize(("query", "expected"), AUDIT_FILTERS.values(), ids=list(AUDIT_FILTERS))
def test_the_csv_export_holds_the_filtered_entries_under_a_header(query, expected, busy_week, auditor):
    response = client_for(auditor).get(reverse("audit-export"), query)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "seq",
        "at",
        "actor",
        "action",
        "warrant",
        "object_type",
        "object_id",
        "ip",
        "details",
        "prev_hash",
        "hash",
    ]
    assert [int(row[0]) for row in rows[1:]] == sorted(busy_week[index].seq for index in expected)
    assert all(row[10] == AuditEntry.objects.get(seq=int(row[0])).hash for row in rows[1:])


def test_exporting_is_recorded_with_the_filters(busy_week, auditor):
    client_for(auditor).get(reverse("audit-export"), {"actor": "bob", "action": "document.viewed"})

    entry = AuditEntry.objects.latest("seq")
    assert (entry.action, entry.actor) == (AuditAction.AUDIT_EXPORTED, auditor)
    assert entry.details == {"actor": "bob", "action": "document.viewed"}


def test_the_audit_api_lists_entries_newest_first_with_filters(busy_week, auditor):
    response = client_for(auditor).get("/api/v1/audit/", {"actor": "bob"})

    assert response.status_code == 200
    assert [(item["seq"], item["actor"]) for item in response.json()["results"]] == [
        (busy_week[3].seq, "bob"),
        (busy_week[1].seq, "bob"),
    ]


# --- sign-in ---------------------------------------------------------------------------------------


def test_signing_in_is_recorded(legal_officer, client):
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="192.0.2.7")

    entry = AuditEntry.objects.latest("seq")
    assert (entry.action, entry.actor, entry.ip) == (AuditAction.LOGIN, legal_officer, "192.0.2.7")


def test_a_failed_sign_in_is_recorded_without_the_password(legal_officer, client):
    tried = "hunter2-Secret-Guess"

    response = client.post(reverse("login"), {"username": "alice", "password": tried})

    assert response.status_code == 200
    entry = AuditEntry.objects.latest("seq")
    assert (entry.action, entry.actor, entry.actor_label) == (AuditAction.LOGIN_FAILED, None, "alice")
    stored = str(AuditEntry.objects.filter(pk=entry.pk).values().get())
    assert tried not in stored
    assert "hunter2" not in stored


def test_signing_out_is_recorded(legal_officer):
    client = client_for(legal_officer)

    client.post(reverse("logout"))

    entry = AuditEntry.objects.latest("seq")
    assert (entry.action, entry.actor) == (AuditAction.LOGOUT, legal_officer)


# --- admin ---------------------------------------------------------------------------------------


@pytest.fixture
def superuser(admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save(update_fields=["is_staff", "is_superuser"])
    return admin_user


def test_the_admin_shows_the_audit_log_read_only(superuser, chain, rf):
    from django.contrib.admin import site

    request = rf.get("/admin/warrantdesk/auditentry/")
    request.user = superuser
    model_admin = AuditEntryAdmin(AuditEntry, site)

    permissions = (
        model_admin.has_view_permission(request, chain[0]),
        model_admin.has_add_permission(request),
        model_admin.has_change_permission(request, chain[0]),
        model_admin.has_delete_permission(request, chain[0]),
    )

    assert permissions == (True, False, False, False)


def test_posting_a_change_or_delete_in_the_admin_is_refused(superuser, chain):
    client = client_for(superuser)
    entry = chain[2]

    change = client.post(f"/admin/warrantdesk/auditentry/{entry.pk}/change/", {"actor_label": "mallory"})
    delete = client.post(f"/admin/warrantdesk/auditentry/{entry.pk}/delete/", {"post": "yes"})
    add = client.post("/admin/warrantdesk/auditentry/add/", {"actor_label": "mallory"})

    assert (change.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert AuditEntry.objects.get(pk=entry.pk).actor_label == entry.actor_label
    assert verify_chain().ok
