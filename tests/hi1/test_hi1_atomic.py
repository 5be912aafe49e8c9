"""An HI-1 message is stored whole or not at all; the codes and dictionary values are TS 103 120's.

A message whose third action fails leaves no warrant, target, document, HI-1 object, sealed file or
key behind; its response gives the refused action its own error and every other one the reason it
was not applied. Run on SQLite and on PostgreSQL (DATABASE_URL)."""

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from guardian.shortcuts import assign_perm

from hi1 import status, xml
from hi1.models import Message, Object
from requests_app import services
from requests_app.models import Document, FollowUpRequest, Warrant, WarrantTarget
from requests_app.workflow import Status
from tests.helpers import client_for
from tests.hi1.builder import MessageBuilder, new_id
from tests.hi1.test_hi1 import action_codes, parsed, post
from warrantdesk import keystore
from warrantdesk.models import AuditAction, AuditEntry

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
TARGETS = [(("ETSI", "InternationalE164"), "821012345678")]


def stored() -> dict:
    """Everything a message could leave behind: rows, sealed files, keys, case audit entries."""
    root = default_storage.location
    return {
        "rows": [
            model.objects.count() for model in (Warrant, WarrantTarget, Document, Object, Message, FollowUpRequest)
        ],
        "files": sorted(str(p) for p in Path(root).rglob("*") if p.is_file()),
        "keys": sorted(keystore.names()),
        "audit": sorted(
            AuditEntry.objects.exclude(action__in=[AuditAction.HI1_RECEIVED, AuditAction.HI1_SENT]).values_list(
                "action", flat=True
            )
        ),
    }


def new_warrant_message(signed_pdf, *, extra=None):
    """CREATE Authorisation, LDTask, warrant Document, then ``extra(builder, ids)`` adds more."""
    ids = {"auth": new_id(), "task": new_id(), "doc": new_id(), "more": new_id()}
    builder = MessageBuilder()
    listed = [ids["task"], ids["doc"]] + ([ids["more"]] if getattr(extra, "listed", False) else [])
    builder.authorisation(ids["auth"], associated=listed)
    builder.ldtask(ids["task"], associated=[ids["auth"]], identifiers=TARGETS, start=START, end=END)
    builder.document(ids["doc"], signed_pdf, associated=[ids["auth"]])
    if extra:
        extra(builder, ids)
    return builder.bytes(), ids


def a_second_document_that_is_not_a_pdf(builder, ids):
    builder.document(ids["more"], b"GIF89a not a pdf", associated=[ids["auth"]], doc_type="Supporting")


a_second_document_that_is_not_a_pdf.listed = True  # the Authorisation lists it among its AssociatedObjects


def an_ldtask_of_an_unknown_authorisation(builder, ids):
    builder.ldtask(ids["more"], associated=[new_id()], identifiers=TARGETS, start=START, end=END)


@pytest.mark.parametrize(
    "extra, codes",
    [
        (
            a_second_document_that_is_not_a_pdf,
            {"0": xml.E_LINK_FAILED, "1": xml.E_GENERAL, "2": xml.E_GENERAL, "3": xml.E_IMPROPER_VALUE},
        ),
        (
            an_ldtask_of_an_unknown_authorisation,
            {"0": xml.E_GENERAL, "1": xml.E_GENERAL, "2": xml.E_GENERAL, "3": xml.E_LINK_NOT_FOUND},
        ),
    ],
    ids=["not-a-pdf", "unknown-authorisation"],
)
def test_a_message_whose_last_action_fails_stores_nothing(extra, codes, hi1_token, signed_pdf):
    data, _ids = new_warrant_message(signed_pdf, extra=extra)
    before = stored()

    response = post(data, hi1_token)

    assert response.status_code == 200
    assert action_codes(response) == codes
    assert parsed(response).find(".//c:CREATEResponse", xml.NS) is None
    assert stored() == before
    descriptions = [e.text for e in parsed(response).iterfind(".//c:ErrorDescription", xml.NS)]
    assert all("Not applied" in text for text in descriptions[:3])


def test_the_same_message_without_its_bad_action_is_stored_whole(hi1_token, signed_pdf):
    data, _ids = new_warrant_message(signed_pdf)

    response = post(data, hi1_token)

    assert action_codes(response) == {}
    warrant = Warrant.objects.get()
    assert Object.objects.filter(warrant=warrant).count() == 3 and warrant.documents.count() == 1


def test_when_the_first_write_fails_nothing_is_left_behind(hi1_token, signed_pdf, monkeypatch):
    """The warrant's own transaction failing (here: the database, after the PDF was sealed under a
    staging key) leaves no row, no file and no live key; the sender may send the message again."""
    data, _ids = new_warrant_message(signed_pdf)
    before = stored()

    def database_down(**kwargs):
        raise OSError("the database went away")

    monkeypatch.setattr(services, "_warrant_create", database_down)
    response = post(data, hi1_token)

    assert action_codes(response) == {"0": xml.E_TRANSIENT, "1": xml.E_LINK_FAILED, "2": xml.E_LINK_FAILED}
    after = stored()
    assert (after["rows"], after["files"], after["audit"]) == (before["rows"], before["files"], before["audit"])
    assert [name for name in after["keys"] if keystore.exists(name)] == before["keys"]  # a staging key's tombstone


def test_a_document_that_cannot_be_stored_after_the_warrant_is_reported_as_such(hi1_token, signed_pdf, monkeypatch, ca):
    """The one case where part of a message stays: a further document (its own transaction) failing
    for a technical reason after the warrant was logged. Everything else was checked before the
    warrant; the response says what exists, and the document can be sent again on its own."""
    from tests import pki

    supporting = pki.sign_pdf(pki.make_pdf(title="Supporting"), ca.chief_a)

    def with_supporting(builder, ids):
        builder.document(ids["more"], supporting, associated=[ids["auth"]], doc_type="Supporting")

    with_supporting.listed = True

    data, ids = new_warrant_message(signed_pdf, extra=with_supporting)

    def storage_full(**kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(services, "document_upload", storage_full)
    response = post(data, hi1_token)

    assert action_codes(response) == {"3": xml.E_TRANSIENT}
    assert {o.object_id.hex for o in Object.objects.all()} == {ids[k].replace("-", "") for k in ("auth", "task", "doc")}


def test_a_follow_up_of_an_unknown_authorisation_is_refused_with_its_document(hi1_token, signed_pdf):
    task, document = new_id(), new_id()
    builder = MessageBuilder()
    builder.ldtask(task, associated=[new_id()], identifiers=TARGETS, start=START, end=END, request_type="follow-up")
    builder.document(document, signed_pdf, associated=[task])

    response = post(builder.bytes(), hi1_token)

    assert action_codes(response) == {"0": xml.E_LINK_NOT_FOUND, "1": xml.E_LINK_FAILED}
    assert Document.objects.count() == 0


def test_two_cases_in_one_message_are_refused(hi1_token, signed_pdf):
    ids = {"auth": new_id(), "task": new_id(), "doc": new_id(), "other": new_id(), "other_task": new_id()}
    builder = MessageBuilder()
    builder.authorisation(ids["auth"], associated=[ids["task"], ids["doc"]])
    builder.ldtask(ids["task"], associated=[ids["auth"]], identifiers=TARGETS, start=START, end=END)
    builder.document(ids["doc"], signed_pdf, associated=[ids["auth"]])
    builder.authorisation(ids["other"], associated=[ids["other_task"]], reference="EPOC-2026-0043")
    builder.ldtask(ids["other_task"], associated=[ids["other"]], identifiers=TARGETS, start=START, end=END)

    response = post(builder.bytes(), hi1_token)

    assert action_codes(response)["3"] == action_codes(response)["4"] == xml.E_NOT_SUPPORTED
    assert Warrant.objects.count() == 0


def test_an_action_identifier_used_twice_refuses_the_message(hi1_token):
    builder = MessageBuilder()
    builder.get(new_id())
    builder.get(new_id())
    builder.count = 0
    builder.get(new_id())
    data = builder.bytes().replace(b"<ActionIdentifier>1</ActionIdentifier>", b"<ActionIdentifier>0</ActionIdentifier>")

    response = post(data, hi1_token)

    assert response.status_code == 400
    assert parsed(response).findtext(".//c:ErrorCode", namespaces=xml.NS) == str(xml.E_DUPLICATE_ACTION_ID)


def test_gets_and_lists_alone_are_answered_one_by_one(hi1_token, signed_pdf):
    data, ids = new_warrant_message(signed_pdf)
    post(data, hi1_token)
    query = MessageBuilder()
    query.get(new_id())
    query.get(ids["auth"])

    response = post(query.bytes(), hi1_token)

    assert action_codes(response) == {"0": xml.E_GET_NOT_FOUND}
    assert parsed(response).find(".//c:GETResponse", xml.NS) is not None


# TS 103 120 Annex D, table D.1, the codes warrantdesk answers with: pinned, an agency's system keys on them.
ANNEX_D = {
    "E_GENERAL": 3000,
    "E_NOT_SUPPORTED": 3001,
    "E_DUPLICATE_ACTION_ID": 3002,
    "E_TRANSIENT": 3003,
    "E_CONFIGURATION": 3004,
    "E_MISSING": 3005,
    "E_IMPROPER_VALUE": 3007,
    "E_ALREADY_EXISTS": 3010,
    "E_GET_NOT_FOUND": 3014,
    "E_LINK_NOT_FOUND": 3016,
    "E_LINK_FAILED": 3018,
    "E_VALIDATION": 3020,
    "E_TOO_LARGE": 3022,
}


def test_the_error_codes_are_annex_d_s_and_stay_put():
    codes = {name: value for name, value in vars(xml).items() if name.startswith("E_") and isinstance(value, int)}

    assert codes == ANNEX_D


# The values of the ETSI dictionaries warrantdesk sends (TS 103 120: AuthorisationStatus, LDTaskStatus).
AUTHORISATION_STATUS = {"AwaitingApproval", "Active", "Rejected", "Cancelled", "Expired", "Invalid"}
LDTASK_STATUS = {
    "AwaitingApproval",
    "AwaitingDisclosure",
    "Disclosed",
    "DisclosureNotAvailable",
    "Rejected",
    "Cancelled",
    "Invalid",
}


@pytest.mark.parametrize("workflow_status", list(Status))
def test_every_warrant_status_is_sent_as_a_value_of_the_etsi_dictionaries(workflow_status):
    warrant = Warrant(status=workflow_status)

    assert status.authorisation_status(warrant) in AUTHORISATION_STATUS
    assert status.ldtask_status(warrant) in LDTASK_STATUS
    assert set(status.FOLLOW_UP_STATUS.values()) <= LDTASK_STATUS


def test_a_get_names_the_etsi_dictionary_of_each_status(hi1_token, signed_pdf):
    data, ids = new_warrant_message(signed_pdf)
    post(data, hi1_token)
    query = MessageBuilder()
    query.get(ids["auth"])
    query.get(ids["task"])

    answer = parsed(post(query.bytes(), hi1_token))

    entries = [
        tuple(e.findtext(f"common:{part}", namespaces=xml.NS) for part in ("Owner", "Name", "Value"))
        for e in answer.iterfind(".//auth:AuthorisationStatus", xml.NS)
    ] + [
        tuple(e.findtext(f"common:{part}", namespaces=xml.NS) for part in ("Owner", "Name", "Value"))
        for e in answer.iterfind(".//task:Status", xml.NS)
    ]
    assert entries == [
        ("ETSI", "AuthorisationStatus", "AwaitingApproval"),
        ("ETSI", "LDTaskStatus", "AwaitingApproval"),
    ]


def test_an_auditor_is_refused_the_hi1_export_even_with_the_case_in_view(hi1_token, signed_pdf, auditor):
    """The HI-1 export of a warrant holds its targets and its documents: case content, refused to an
    auditor (404, recorded) even if a permission on the case were given by mistake."""
    post(new_warrant_message(signed_pdf)[0], hi1_token)
    warrant = Warrant.objects.get()
    assign_perm("view_warrant", auditor, warrant)

    response = client_for(auditor).get(reverse("hi1:warrant-export", args=[warrant.pk]))

    assert response.status_code == 404
    assert AuditEntry.objects.filter(action=AuditAction.ACCESS_DENIED).exists()
