"""The ETSI TS 103 120 (HI-1) interface end to end: messages built from the schemas, submitted with an
agency's token, the warrant followed through signature check, approval and export to the HI-1
delivery; every response validated against the shipped schemas."""

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from lxml import etree

from disclosure.models import DownloadLink
from hi1 import xml
from hi1.models import Message, Object, Transaction
from requests_app import services
from requests_app.models import Document, Warrant, WarrantTarget
from requests_app.workflow import Status
from tests.helpers import client_for, run_export
from tests.hi1.builder import MessageBuilder, new_id, warrant_message
from warrantdesk.models import AuditAction, AuditEntry

URL = "/api/hi1/"
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)


def post(data: bytes, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(URL, data=data, content_type="application/xml", **headers)


def parsed(response):
    xml.validate(response.content)  # every answer is a valid HI-1 message
    return etree.fromstring(response.content)


def error_code(response) -> int:
    root = parsed(response)
    return int(root.findtext(".//c:ErrorInformation/c:ErrorCode", namespaces=xml.NS))


def action_codes(response) -> dict[str, int]:
    """{ActionIdentifier: ErrorCode} of a response's per-action errors."""
    return {
        answer.findtext("c:ActionIdentifier", namespaces=xml.NS): int(code)
        for answer in parsed(response).iterfind(".//c:ActionResponse", xml.NS)
        if (code := answer.findtext("c:ErrorInformation/c:ErrorCode", namespaces=xml.NS)) is not None
    }


def stored_files() -> int:
    root = Path(default_storage.location)
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.exists() else 0


def test_the_builder_makes_schema_valid_messages(hi1_agency, signed_pdf):
    data, _ids = warrant_message(signed_pdf, start=START, end=END)
    xml.validate(data)


def test_a_warrant_through_hi1_to_its_delivery(
    hi1_token, signed_pdf, immediate_tasks, reviewer, admin_user, django_capture_on_commit_callbacks
):
    data, ids = warrant_message(signed_pdf, start=START, end=END, emergency=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(data, hi1_token)
    assert response.status_code == 200, response.content
    root = parsed(response)
    created = root.findall(".//c:CREATEResponse/c:Identifier", xml.NS)
    assert sorted(e.text for e in created) == sorted(ids.values())

    warrant = Warrant.objects.get()
    assert warrant.warrant_number == "EPOC-2026-0042"
    assert warrant.is_emergency and warrant.received_via == Warrant.Via.API
    assert warrant.deadline - warrant.received_at == dt.timedelta(hours=8)
    assert (warrant.period_start, warrant.period_end) == (START, END)
    assert "Kim Min-jun" in warrant.notes
    assert {(t.kind, t.identifier) for t in warrant.targets.all()} == {
        (WarrantTarget.Kind.UID, "target-1"),
        (WarrantTarget.Kind.PHONE, "821012345678"),
    }
    assert warrant.status == Status.VERIFIED  # the real signature of the chief, checked as an upload is
    assert Object.objects.filter(warrant=warrant).count() == 3

    # Resubmitted: the same answer, nothing created twice.
    again = post(data, hi1_token)
    assert again.content == response.content
    assert Warrant.objects.count() == 1 and Document.objects.count() == 1

    # Status through an HI-1 GET.
    query = MessageBuilder()
    query.get(ids["auth"])
    query.get(ids["task"])
    answer = parsed(post(query.bytes(), hi1_token))
    values = [e.text for e in answer.iterfind(".//common:Value", xml.NS)]
    assert values == ["AwaitingApproval", "AwaitingApproval"]

    services.warrant_assign(warrant=warrant, user=reviewer, actor=admin_user)
    services.warrant_approve(warrant=warrant, actor=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        export = run_export(warrant, reviewer)
    warrant.refresh_from_db()
    assert warrant.status == Status.EXPORTED

    query = MessageBuilder()
    query.get(ids["task"])
    answer = parsed(post(query.bytes(), hi1_token))
    assert [e.text for e in answer.iterfind(".//common:Value", xml.NS)] == ["Disclosed"]
    warrant.refresh_from_db()
    assert warrant.status == Status.DELIVERED
    assert DownloadLink.objects.filter(export=export).count() == 1

    fetched = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {hi1_token}")
    assert fetched.status_code == 200
    deliver = parsed(fetched)
    data_element = deliver.find(".//delivery:Data", xml.NS)
    reference = json.loads(base64.b64decode(data_element.text))
    export.refresh_from_db()
    assert reference["package_sha256"] == export.package_sha256
    assert "/d/" in reference["url"]
    assert deliver.find(".//c:DELIVER", xml.NS) is not None
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {hi1_token}").status_code == 204
    delivery_id = deliver.findtext(".//c:DELIVER/c:Identifier", namespaces=xml.NS)
    query = MessageBuilder()
    query.get(delivery_id)
    answer = parsed(post(query.bytes(), hi1_token))
    assert answer.find(".//c:GETResponse/c:HI1Object", xml.NS).get(f"{{{xml.XSI}}}type") == "delivery:DeliveryObject"

    kinds = list(Message.objects.filter(warrant=warrant).values_list("direction", "kind"))
    assert ("IN", "REQUEST") in kinds and ("OUT", "RESPONSE") in kinds and ("OUT", "DELIVER") in kinds
    received = AuditEntry.objects.filter(action=AuditAction.HI1_RECEIVED, warrant_ref=warrant.reference)
    assert {entry.details["sha256"] for entry in received} >= {xml_sha(data)}


def xml_sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_the_warrant_page_shows_the_exchange_and_exports_hi1(hi1_token, signed_pdf, admin_user):
    data, _ids = warrant_message(signed_pdf, start=START, end=END)
    assert post(data, hi1_token).status_code == 200
    warrant = Warrant.objects.get()
    page = client_for(admin_user).get(warrant.get_absolute_url())
    text = page.content.decode()
    assert "HI-1" in text and "EPOC-2026-0042" in text
    assert base64.b64encode(signed_pdf).decode()[:200] not in text  # document bodies elided
    exported = client_for(admin_user).get(reverse("hi1:warrant-export", args=[warrant.pk]))
    assert exported.status_code == 200
    xml.validate(exported.content)
    assert b"target-1" in exported.content


def test_a_web_form_warrant_round_trips_through_hi1(hi1_token, hi1_agency, signed_pdf, admin_user, legal_officer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from requests_app.services import TargetInput
    from tests.factories import warrant_fields

    warrant = services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", "target-7"), TargetInput("EMAIL", "t7@example.org")],
        upload=SimpleUploadedFile("warrant.pdf", signed_pdf, "application/pdf"),
        **warrant_fields(hi1_agency, period_start=START, period_end=END),
    )
    exported = client_for(admin_user).get(reverse("hi1:warrant-export", args=[warrant.pk])).content
    xml.validate(exported)
    # Sent in again as it is: the duplicate check of any intake refuses it (same number, same file).
    refused = parsed(post(exported, hi1_token))
    assert xml.E_ALREADY_EXISTS in {int(e.text) for e in refused.iterfind(".//c:ErrorCode", xml.NS)}
    # Once the first is out of the way, the exported message logs the same warrant.
    Warrant.objects.filter(pk=warrant.pk).update(warrant_number="renamed", warrant_number_key="renamed")
    Document.objects.filter(warrant=warrant).update(sha256="0" * 64)
    old_id = etree.fromstring(exported).findtext(".//c:TransactionIdentifier", namespaces=xml.NS)
    response = post(exported.replace(old_id.encode(), new_id().encode()), hi1_token)  # a new transaction
    assert parsed(response).find(".//c:ErrorInformation", xml.NS) is None, response.content.decode()
    copy = Warrant.objects.exclude(pk=warrant.pk).get()
    assert {(t.kind, t.identifier) for t in copy.targets.all()} == {
        (t.kind, t.identifier) for t in warrant.targets.all()
    }
    assert (copy.period_start, copy.period_end, copy.court) == (START, END, warrant.court)


def test_someone_without_the_case_cannot_download_it(hi1_token, signed_pdf, outsider):
    post(warrant_message(signed_pdf, start=START, end=END)[0], hi1_token)
    warrant = Warrant.objects.get()
    assert client_for(outsider).get(reverse("hi1:warrant-export", args=[warrant.pk])).status_code == 404


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core">&lol3;</HI1Message>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core">&xxe;</HI1Message>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE HI1Message SYSTEM "http://127.0.0.1:9/hi1.dtd">
<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core"/>"""


@pytest.mark.parametrize(
    "case, status, code, says",
    [
        ("malformed", 400, xml.E_VALIDATION, "not well-formed"),
        ("schema", 400, xml.E_VALIDATION, "schemas"),
        ("xxe", 400, xml.E_VALIDATION, "Document type declarations"),
        ("laughs", 400, xml.E_VALIDATION, "Document type declarations"),
        ("dtd", 400, xml.E_VALIDATION, "Document type declarations"),
        ("unknown-sender", 403, xml.E_CONFIGURATION, "Unknown sender"),
        ("other-agency", 403, xml.E_CONFIGURATION, "another agency"),
        ("no-token", 401, xml.E_CONFIGURATION, "Bearer"),
        ("bad-token", 401, xml.E_CONFIGURATION, "Authentication failed"),
        ("too-big", 413, xml.E_TOO_LARGE, "larger than"),
    ],
)
def test_bad_messages_get_an_hi1_error_and_store_nothing(
    case, status, code, says, hi1_token, other_token, signed_pdf, settings
):
    good, _ids = warrant_message(signed_pdf, start=START, end=END)
    token = hi1_token
    data = {
        "malformed": good[:-40],
        "schema": good.replace(b"<Version>", b"<Verzion>").replace(b"</Version>", b"</Verzion>"),
        "xxe": XXE,
        "laughs": BILLION_LAUGHS,
        "dtd": EXTERNAL_DTD,
        "unknown-sender": good.replace(b"agency-a-hi1", b"agency-z-hi1"),
    }.get(case, good)
    if case == "other-agency":
        token = other_token
    elif case == "no-token":
        token = None
    elif case == "bad-token":
        token = hi1_token[:-4] + "AAAA"
    elif case == "too-big":
        settings.WARRANTDESK_HI1_MAX_BYTES = len(good) - 1
    before = (Warrant.objects.count(), Document.objects.count(), Transaction.objects.count(), stored_files())
    audit_before = AuditEntry.objects.exclude(
        action__in=[AuditAction.HI1_REFUSED, AuditAction.API_CLIENT_REFUSED]
    ).count()
    response = post(data, token)
    assert response.status_code == status, response.content
    assert error_code(response) == code
    assert says in parsed(response).findtext(".//c:ErrorDescription", namespaces=xml.NS)
    assert (Warrant.objects.count(), Document.objects.count(), Transaction.objects.count(), stored_files()) == before
    audit_after = AuditEntry.objects.exclude(
        action__in=[AuditAction.HI1_REFUSED, AuditAction.API_CLIENT_REFUSED]
    ).count()
    assert audit_after == audit_before
    assert b"root:" not in response.content and b"lollol" not in response.content


def test_an_unsigned_pdf_or_a_wrong_checksum_is_an_action_error(hi1_token, hi1_agency):
    from tests.factories import pdf_bytes

    pdf = pdf_bytes("not a pdf at all")
    ids = {"auth": new_id(), "task": new_id(), "doc": new_id()}
    builder = MessageBuilder()
    builder.authorisation(ids["auth"], associated=[ids["task"], ids["doc"]])
    builder.ldtask(ids["task"], associated=[ids["auth"]], identifiers=[(("x", "AccountID"), "t")], start=START, end=END)
    builder.document(ids["doc"], pdf, associated=[ids["auth"]], checksum="0" * 64)
    response = post(builder.bytes(), hi1_token)
    assert response.status_code == 200
    # The document is refused (its checksum), the Authorisation it belongs to is not applied (3018), the
    # LDTask neither (3000): a message is stored whole or not at all.
    assert action_codes(response) == {"0": xml.E_LINK_FAILED, "1": xml.E_GENERAL, "2": xml.E_IMPROPER_VALUE}
    assert Warrant.objects.count() == 0


def test_the_shipped_schemas_are_the_test_data_s_and_carry_their_notice():
    shipped = Path(xml.SCHEMA_DIR)
    assert (shipped / "NOTICE.md").read_text().count("BSD") >= 1
    assert len(list(shipped.glob("*.xsd"))) == 10


def test_endpoints_and_bindings_are_registered_from_the_command_line(hi1_agency):
    from django.core.management import call_command

    from hi1.models import ClientBinding, Endpoint
    from tests.factories import UserFactory
    from warrantdesk.api_clients import api_client_create
    from warrantdesk.roles import Role

    call_command("hi1_endpoint", "add", "--agency", "agency-a", "--country", "fr", "--identifier", "second")
    assert Endpoint.objects.filter(agency=hi1_agency, country_code="FR", unique_identifier="second").exists()
    client, _token = api_client_create(
        name="x", user=UserFactory(username="svc", role=Role.INTAKE_OFFICER), scopes=["warrants:write"], days=1
    )
    call_command("hi1_endpoint", "bind", "--agency", "agency-a", "--client", client.prefix)
    assert ClientBinding.objects.get(client=client).agency == hi1_agency
    assert AuditEntry.objects.filter(action=AuditAction.REGISTRY_CHANGED, details__op="hi1_client_bound").exists()


def test_a_transaction_identifier_reused_for_another_message_is_refused(hi1_token, signed_pdf):
    transaction_id = new_id()
    first, _ids = warrant_message(signed_pdf, start=START, end=END, transaction_id=transaction_id)
    assert post(first, hi1_token).status_code == 200
    other = MessageBuilder(transaction_id=transaction_id)
    other.get(new_id())
    response = post(other.bytes(), hi1_token)
    assert response.status_code == 409
    assert error_code(response) == xml.E_IMPROPER_VALUE
    assert Warrant.objects.count() == 1


def test_list_answers_the_agency_s_objects_and_no_other_s(hi1_token, other_token, signed_pdf):
    data, ids = warrant_message(signed_pdf, start=START, end=END)
    post(data, hi1_token)
    query = MessageBuilder()
    query.list()
    query.list("LDTask")
    answer = parsed(post(query.bytes(), hi1_token))
    everything, tasks = answer.iterfind(".//c:LISTResponse", xml.NS)
    assert {e.text for e in everything.iterfind(".//c:Identifier", xml.NS)} == set(ids.values())
    assert [e.text for e in tasks.iterfind(".//c:Identifier", xml.NS)] == [ids["task"]]
    theirs = MessageBuilder(sender=xml.Endpoint("FR", "agency-b-hi1"))
    theirs.list()
    answer = parsed(post(theirs.bytes(), other_token))
    assert answer.find(".//c:ListResponseRecord", xml.NS) is None
    theirs = MessageBuilder(sender=xml.Endpoint("FR", "agency-b-hi1"))
    theirs.get(ids["auth"])  # another agency's object: not found
    assert error_code(post(theirs.bytes(), other_token)) == xml.E_GET_NOT_FOUND


def test_a_token_without_the_write_scope_is_refused(hi1_agency, signed_pdf):
    from tests.hi1.conftest import _token

    token = _token(hi1_agency, "reader", scopes=("warrants:read",))
    response = post(warrant_message(signed_pdf, start=START, end=END)[0], token)
    assert response.status_code == 403
    assert error_code(response) == xml.E_CONFIGURATION
    assert Warrant.objects.count() == 0


def test_messages_are_sealed_at_rest_and_every_one_is_audited_with_its_hash(hi1_token, signed_pdf):
    data, ids = warrant_message(signed_pdf, start=START, end=END)
    response = post(data, hi1_token)
    for message in Message.objects.all():
        with default_storage.open(message.file) as handle:
            raw = handle.read()
        assert b"target-1" not in raw and b"HI1Message" not in raw  # sealed, not plaintext
    query = MessageBuilder()
    query.get(ids["auth"])
    answer = post(query.bytes(), hi1_token)
    hashes = set(
        AuditEntry.objects.filter(action__in=[AuditAction.HI1_RECEIVED, AuditAction.HI1_SENT]).values_list(
            "details__sha256", flat=True
        )
    )
    assert {xml_sha(data), xml_sha(response.content), xml_sha(query.bytes()), xml_sha(answer.content)} <= hashes


def test_the_hi1_audit_details_have_labels_in_the_reader_s_language():
    from django.utils import translation

    from warrantdesk import audit_labels

    with translation.override("ko"):
        assert audit_labels.label("transaction") == "HI-1 트랜잭션"
        assert audit_labels.value("kind", "fetched") == "기관이 가져감"


def test_a_refusal_after_the_header_was_read_is_addressed_to_the_sender(hi1_token, other_token, signed_pdf):
    response = post(warrant_message(signed_pdf, start=START, end=END)[0], other_token)
    root = parsed(response)
    assert root.findtext(".//c:ReceiverIdentifier/c:UniqueIdentifier", namespaces=xml.NS) == "agency-a-hi1"


def test_the_json_form_is_accepted_and_checked_against_the_json_schemas(hi1_token, signed_pdf):
    from tests.hi1.builder import json_form

    data, ids = warrant_message(signed_pdf, start=START, end=END)
    as_json = json_form(data)
    response = Client().post(
        URL, data=as_json, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {hi1_token}"
    )
    assert response.status_code == 200, response.content
    created = parsed(response).findall(".//c:CREATEResponse/c:Identifier", xml.NS)
    assert sorted(e.text for e in created) == sorted(ids.values())
    assert Warrant.objects.get().warrant_number == "EPOC-2026-0042"

    broken = as_json.replace(b'"TransactionIdentifier": "', b'"TransactionIdentifier": "x')
    response = Client().post(
        URL, data=broken, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {hi1_token}"
    )
    assert response.status_code == 400 and error_code(response) == xml.E_VALIDATION
    response = Client().post(
        URL, data=b"[[[", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {hi1_token}"
    )
    assert response.status_code == 400 and error_code(response) == xml.E_VALIDATION
    assert Warrant.objects.count() == 1
