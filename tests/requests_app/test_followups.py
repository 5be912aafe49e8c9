"""Follow-up de-anonymisation: signed, justified, two reviewers, only the approved pseudonyms revealed."""

import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db.models import Count

from demo.generator import generate
from disclosure import keys
from disclosure import services as disclosure_services
from disclosure.followups import services as followups
from disclosure.followups.services import TokenInput
from disclosure.models import Account, Disclosure, Export
from disclosure.packages import package_open
from requests_app import registry, services
from requests_app.models import FollowUpRequest, FollowUpToken
from requests_app.services import TargetInput
from tests import pki
from tests.factories import UserFactory, warrant_fields
from tests.helpers import client_for, verify_signature
from warrantdesk import sealed
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction, AuditEntry
from warrantdesk.roles import Role

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def agency_a(agency_a, ca):
    """Agency A (tests/requests_app/conftest.py) with chief Kim and investigator Lee; agency B with chief Park."""
    agency = agency_a
    registry.investigator_register(agency=agency, certificate=ca.chief_a.pem, name="Kim", is_chief=True, actor=None)
    registry.investigator_register(agency=agency, certificate=ca.investigator_a.pem, name="Lee", actor=None)
    agency_b = registry.agency_save(code="agency-b", name="Agency B", actor=None)
    registry.anchor_add(agency=agency_b, certificate=ca.agency_b.anchors_pem, actor=None)
    registry.investigator_register(agency=agency_b, certificate=ca.chief_b.pem, name="Park", is_chief=True, actor=None)
    return agency


def delivered_warrant(agency, officer, reviewer, *, number: str, pdf_upload) -> tuple:
    """A warrant exported and handed over; returns it with its pseudonymised tokens (in package order)."""
    busiest = Account.objects.filter(uid__startswith="gen-5-").annotate(n=Count("messages")).order_by("-n", "uid")
    warrant = services.warrant_register(
        actor=officer,
        targets=[TargetInput("UID", busiest[0].uid)],
        upload=pdf_upload(f"{number}.pdf"),
        **warrant_fields(agency, warrant_number=number, period_start=START, period_end=START + dt.timedelta(days=60)),
    )
    services.warrant_assign(warrant=warrant, user=reviewer, actor=officer)
    verify_signature(warrant, actor=officer)
    warrant = services.warrant_approve(warrant=warrant, actor=reviewer)
    export = disclosure_services.export_run(export=disclosure_services.export_start(warrant=warrant, actor=officer))
    disclosure_services.export_record_delivery(export=export, actor=officer, channel="IN_PERSON", recipient="Insp. Kim")
    with package_open(export) as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        people = json.loads(archive.read("conversations.json"))["participants"]["pseudonymised"]
    warrant.refresh_from_db()
    return warrant, [person["token"] for person in people]


@pytest.fixture
def scene(agency_a, legal_officer, reviewer, second_reviewer, pdf_upload, ca):
    generate(accounts=50, rooms=6, messages=900, seed=5, start=START, days=60)
    warrant, tokens = delivered_warrant(agency_a, legal_officer, reviewer, number="W-1", pdf_upload=pdf_upload)
    _other, other_tokens = delivered_warrant(agency_a, legal_officer, reviewer, number="W-2", pdf_upload=pdf_upload)
    services.warrant_assign(warrant=warrant, user=second_reviewer, actor=legal_officer)
    return {"warrant": warrant, "tokens": tokens, "other_tokens": other_tokens, "ca": ca}


def signed_request(ca, signer=None) -> SimpleUploadedFile:
    return SimpleUploadedFile("follow-up.pdf", pki.sign_pdf(pki.make_pdf(title="Follow-up"), signer or ca.chief_a))


def log_request(scene, officer, tokens, *, signer=None) -> FollowUpRequest:
    request = followups.followup_register(
        warrant=scene["warrant"],
        actor=officer,
        tokens=[TokenInput(token, f"Reason for {index}") for index, token in enumerate(tokens)],
        upload=signed_request(scene["ca"], signer),
        received_at=pki.RECEIPT,
        deadline=pki.RECEIPT + dt.timedelta(days=10),
    )
    services.document_check_signature(document=request.document, actor=officer)
    request.refresh_from_db()
    return request


def altered(token: str) -> str:
    return token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")


def decide(request, reviewer, verdicts: dict[str, tuple[bool, str]]):
    pending = {t.token: t.pk for t in request.tokens.filter(decision=FollowUpToken.Decision.PENDING)}
    return followups.followup_decide(
        request=request, reviewer=reviewer, decisions={pending[token]: verdict for token, verdict in verdicts.items()}
    )


def test_the_full_flow_reveals_only_what_two_reviewers_approved(
    scene, legal_officer, reviewer, second_reviewer, tmp_path, capsys
):
    wanted, refused_later = scene["tokens"][0], scene["tokens"][1]
    foreign, broken = scene["other_tokens"][0], altered(scene["tokens"][2])

    request = log_request(scene, legal_officer, [wanted, refused_later, foreign, broken])

    assert request.status == FollowUpRequest.Status.IN_REVIEW
    validity = dict(request.tokens.values_list("token", "validity"))
    assert validity == {
        wanted: FollowUpToken.Validity.VALID,
        refused_later: FollowUpToken.Validity.VALID,
        foreign: FollowUpToken.Validity.FOREIGN,
        broken: FollowUpToken.Validity.ALTERED,
    }
    assert "another warrant" in request.tokens.get(token=foreign).validity_reason
    assert "altered" in request.tokens.get(token=broken).validity_reason

    decide(request, reviewer, {wanted: (True, ""), refused_later: (True, "")})
    request = decide(request, second_reviewer, {wanted: (True, ""), refused_later: (False, "Not needed for the case")})

    assert request.status == FollowUpRequest.Status.DECIDED
    decisions = dict(request.tokens.values_list("token", "decision"))
    assert decisions[wanted] == FollowUpToken.Decision.APPROVED
    assert {decisions[t] for t in (refused_later, foreign, broken)} == {FollowUpToken.Decision.REFUSED}

    sheet = disclosure_services.export_run(
        export=disclosure_services.identity_sheet_start(follow_up=request, actor=second_reviewer)
    )
    assert sheet.status == Export.Status.READY, sheet.error
    with package_open(sheet) as handle:
        package = tmp_path / "sheet.zip"
        package.write_bytes(handle.read())
    identities = json.loads(zipfile.ZipFile(package).read("identities.json"))["identities"]
    key_id, key = keys.case_key(scene["warrant"])
    from disclosure.pseudonyms import reidentify

    revealed_uid = reidentify(wanted, scope=scene["warrant"].reference, keys={key_id: key})
    refused_uids = [reidentify(t, scope=scene["warrant"].reference, keys={key_id: key}) for t in (refused_later,)]
    assert [person["uid"] for person in identities] == [revealed_uid]
    revealed = Account.objects.get(uid=revealed_uid)
    assert identities[0]["display_name"] == revealed.display_name
    everything = zipfile.ZipFile(package).read("identities.json").decode() + json.dumps(
        list(AuditEntry.objects.values_list("details", flat=True)), ensure_ascii=False
    )
    for uid in refused_uids:
        refused_account = Account.objects.get(uid=uid)
        assert uid not in everything
        assert refused_account.display_name not in everything
    assert revealed_uid not in json.dumps(list(AuditEntry.objects.values_list("details", flat=True)))
    assert list(
        Disclosure.objects.filter(export=sheet, role=Disclosure.Role.REVEALED).values_list("account__uid", flat=True)
    ) == [revealed_uid]
    request.refresh_from_db()
    assert request.status == FollowUpRequest.Status.DISCLOSED
    call_command("verify_export", str(package))
    assert "VALID" in capsys.readouterr().out


def test_the_same_reviewer_cannot_decide_twice_nor_the_officer_who_logged_it(
    scene, legal_officer, reviewer, second_reviewer
):
    request = log_request(scene, legal_officer, scene["tokens"][:1])
    decide(request, reviewer, {scene["tokens"][0]: (True, "")})

    with pytest.raises(Conflict, match="already decided"):
        followups.followup_decide(request=request, reviewer=reviewer, decisions={})
    assert "Only a reviewer" in followups.reviewer_refusal(request, legal_officer)


def test_an_officer_who_is_also_a_reviewer_cannot_decide_on_the_request_they_logged(scene, legal_officer):
    both = UserFactory(username="grace-both", role=Role.INTAKE_OFFICER)
    both.groups.add(*UserFactory(username="grace-r", role=Role.REVIEWER).groups.all())
    services.warrant_assign(warrant=scene["warrant"], user=both, actor=legal_officer)
    request = log_request(scene, both, scene["tokens"][:1])

    with pytest.raises(Conflict, match="You logged this request"):
        decide(request, both, {scene["tokens"][0]: (True, "")})


@pytest.mark.parametrize(
    ("signer", "outcome"),
    [("investigator_a", "NOT_CHIEF"), ("chief_b", "OTHER_AGENCY")],
)
def test_a_request_not_signed_by_a_chief_of_the_same_agency_is_refused(scene, legal_officer, reviewer, signer, outcome):
    request = log_request(scene, legal_officer, scene["tokens"][:1], signer=getattr(scene["ca"], signer))

    assert request.status == FollowUpRequest.Status.SIGNATURE_FAILED
    assert services.latest_signature_check(request.document).outcome == outcome
    with pytest.raises(Conflict, match="no valid chief-investigator signature"):
        decide(request, reviewer, {scene["tokens"][0]: (True, "")})


def test_a_request_on_a_warrant_whose_keys_were_destroyed_is_refused_irreversible_with_the_date(
    scene, legal_officer, reviewer
):
    record = keys.case_key_destroy(warrant=scene["warrant"], actor=reviewer)

    with pytest.raises(
        keys.KeyDestroyed, match=f"Irreversible: the key was destroyed on {record.destroyed_at:%Y-%m-%d}"
    ):
        log_request(scene, legal_officer, scene["tokens"][:2])

    assert not FollowUpRequest.objects.exists()
    # Validating a token alone (the form's check) says the same, with the date.
    validity, reason = followups.validate_token(scene["warrant"], scene["tokens"][0])
    assert validity == FollowUpToken.Validity.KEY_DESTROYED
    assert f"destroyed on {record.destroyed_at:%Y-%m-%d}" in reason and "Irreversible" in reason


def test_the_token_cap_is_enforced_and_nothing_is_stored(scene, legal_officer, settings):
    settings.WARRANTDESK_FOLLOWUP_MAX_TOKENS = 2

    with pytest.raises(DomainError, match="at most 2 pseudonyms"):
        log_request(scene, legal_officer, scene["tokens"][:3])

    assert not FollowUpRequest.objects.exists()


def test_each_token_needs_its_justification(scene, legal_officer):
    with pytest.raises(DomainError, match="justification"):
        followups.followup_register(
            warrant=scene["warrant"],
            actor=legal_officer,
            tokens=[TokenInput(scene["tokens"][0], "  ")],
            upload=signed_request(scene["ca"]),
            received_at=pki.RECEIPT,
            deadline=pki.RECEIPT + dt.timedelta(days=3),
        )


def test_reviewers_are_warned_of_a_fishing_request(scene, legal_officer, settings):
    settings.WARRANTDESK_FOLLOWUP_WARN_TOKENS = 2
    settings.WARRANTDESK_FOLLOWUP_WARN_SHARE = 0.05

    request = log_request(scene, legal_officer, scene["tokens"][:3])
    warnings = followups.fishing_warnings(request)

    assert any("names 3 pseudonyms" in warning for warning in warnings)
    assert any("pseudonymised people of room" in warning for warning in warnings)


def test_a_follow_up_needs_a_delivered_export(agency_a, legal_officer, pdf_upload, ca):
    warrant = services.warrant_register(
        actor=legal_officer, targets=[TargetInput("UID", "x")], upload=pdf_upload(), **warrant_fields(agency_a)
    )

    with pytest.raises(Conflict, match="after the export was delivered"):
        followups.followup_register(
            warrant=warrant,
            actor=legal_officer,
            tokens=[TokenInput("p1.aa.bb", "Because")],
            upload=signed_request(ca),
            received_at=pki.RECEIPT,
            deadline=pki.RECEIPT,
        )


def test_a_failed_request_is_checked_again_after_its_signer_is_made_chief(scene, legal_officer, reviewer, outsider):
    """The web button and the API re-check with the registry as it is now; earlier verdicts stay."""
    from django.urls import reverse

    from requests_app.models import Investigator

    request = log_request(scene, legal_officer, scene["tokens"][:1], signer=scene["ca"].investigator_a)
    assert request.status == FollowUpRequest.Status.SIGNATURE_FAILED
    web, api = client_for(legal_officer), client_for(reviewer)
    recheck = reverse("followups:recheck", args=[request.pk])
    api_recheck = f"/api/v1/follow-ups/{request.pk}/recheck-signature/"

    assert client_for(outsider).post(recheck).status_code == 404
    assert client_for(outsider).post(api_recheck).status_code == 404
    web.post(recheck)  # the registry has not changed: the same verdict, recorded again
    request.refresh_from_db()
    assert request.status == FollowUpRequest.Status.SIGNATURE_FAILED
    page = web.get(request.get_absolute_url()).content.decode()
    assert "Check the signature again" in page

    lee = Investigator.objects.get(name="Lee")
    registry.investigator_update(investigator=lee, actor=None, is_chief=True)
    response = api.post(api_recheck)
    again = api.post(api_recheck)

    request.refresh_from_db()
    assert response.status_code == 200 and response.json()["status"] == FollowUpRequest.Status.IN_REVIEW
    assert request.status == FollowUpRequest.Status.IN_REVIEW
    assert again.status_code == 409 and again.json()["code"] == "not_recheckable"
    assert [c.outcome for c in request.document.signature_checks.order_by("pk")] == ["NOT_CHIEF", "NOT_CHIEF", "VALID"]
    rechecks = AuditEntry.objects.filter(action=AuditAction.SIGNATURE_RECHECK_REQUESTED)
    assert rechecks.filter(warrant_ref=request.warrant.reference).count() == 2
    decide(request, reviewer, {scene["tokens"][0]: (True, "")})  # the gate now lets the review go on


def other_spelling(token: str) -> str:
    """The same token with other unused low bits in its last base32 character: decodes to the same bytes."""
    import base64

    head, body = token.rsplit(".", 1)
    padding = "=" * (-len(body) % 8)
    sealed = base64.b32decode(body.upper() + padding)
    for letter in "abcdefghijklmnopqrstuvwxyz234567":
        variant = body[:-1] + letter
        if variant != body and base64.b32decode(variant.upper() + padding) == sealed:
            return f"{head}.{variant}"
    raise AssertionError("this token has no unused bits")


def test_refused_tokens_say_whether_they_are_foreign_altered_or_unknown(scene, legal_officer):
    from django.utils import translation

    mine, second = scene["tokens"][0], scene["tokens"][1]
    respelled = other_spelling(second)
    foreign = scene["other_tokens"][0]
    unknown = "p1.0badc0de." + mine.rsplit(".", 1)[1]  # no warrant has this key id
    broken = altered(scene["tokens"][2])

    request = log_request(scene, legal_officer, [mine, respelled, second, foreign, unknown, broken, "hello"])

    rows = {row.token: row for row in request.tokens.all()}
    assert {token: row.validity for token, row in rows.items()} == {
        mine: FollowUpToken.Validity.VALID,
        second: FollowUpToken.Validity.VALID,
        respelled: FollowUpToken.Validity.ALTERED,  # another spelling of a valid token: refused
        foreign: FollowUpToken.Validity.FOREIGN,
        unknown: FollowUpToken.Validity.UNKNOWN,
        broken: FollowUpToken.Validity.ALTERED,
        "hello": FollowUpToken.Validity.UNKNOWN,
    }
    assert "another warrant's key" in rows[foreign].validity_reason
    assert "No warrant has a key with this id" in rows[unknown].validity_reason
    assert "altered" in rows[broken].validity_reason
    assert rows[respelled].validity_reason == rows[broken].validity_reason
    assert rows["hello"].validity_reason == rows[unknown].validity_reason
    reasons = {rows[foreign].validity_reason, rows[unknown].validity_reason, rows[broken].validity_reason}
    assert len(reasons) == 3
    with translation.override("ko"):
        assert all(translation.gettext(reason) != reason for reason in reasons), "each reason has its Korean"


def test_the_api_and_the_page_tell_foreign_altered_and_unknown_tokens_apart(scene, legal_officer, outsider):

    second = scene["tokens"][1]
    tokens = [second, other_spelling(second), scene["other_tokens"][0], "p1.0badc0de." + second.rsplit(".", 1)[1]]

    response = client_for(legal_officer).post(
        f"/api/v1/warrants/{scene['warrant'].pk}/follow-ups/",
        {
            "document": signed_request(scene["ca"]),
            "tokens": json.dumps([{"token": token, "justification": "Named in room 1"} for token in tokens]),
            "received_at": pki.RECEIPT.isoformat(),
            "deadline": (pki.RECEIPT + dt.timedelta(days=10)).isoformat(),
        },
    )

    assert response.status_code == 201, response.content
    rows = response.json()["tokens"]
    assert [row["validity"] for row in rows] == ["VALID", "ALTERED", "FOREIGN", "UNKNOWN"]
    assert "does not open" in rows[1]["validity_reason"]
    assert "another warrant's key" in rows[2]["validity_reason"]
    assert "No warrant has a key" in rows[3]["validity_reason"]
    request = FollowUpRequest.objects.get(pk=response.json()["id"])
    page = client_for(legal_officer).get(request.get_absolute_url()).content.decode()
    assert "does not open" in page and "another warrant&#x27;s key" in page and "No warrant has a key" in page
    assert client_for(outsider).get(request.get_absolute_url()).status_code == 404


def test_an_identity_sheet_is_stored_sealed_and_names_nobody_on_disk(scene, legal_officer, reviewer, second_reviewer):
    request = log_request(scene, legal_officer, scene["tokens"][:1])
    decide(request, reviewer, {scene["tokens"][0]: (True, "")})
    decide(request, second_reviewer, {scene["tokens"][0]: (True, "")})
    sheet = disclosure_services.export_run(
        export=disclosure_services.identity_sheet_start(follow_up=request, actor=second_reviewer)
    )
    assert sheet.status == Export.Status.READY, sheet.error

    with default_storage.open(sheet.package.name, "rb") as handle:
        on_disk = handle.read()
    with package_open(sheet) as handle:
        plain = handle.read()

    assert on_disk.startswith(sealed.MAGIC) and b"PK\x03\x04" not in on_disk
    assert hashlib.sha256(plain).hexdigest() == sheet.package_sha256 and len(plain) == sheet.package_size
    identities = json.loads(zipfile.ZipFile(io.BytesIO(plain)).read("identities.json"))["identities"]
    assert len(identities) == 1
    for value in (identities[0]["uid"], identities[0]["display_name"]):
        assert value.encode() not in on_disk
    assert hashlib.sha256(sheet.manifest.encode()).hexdigest() == sheet.manifest_sha256
