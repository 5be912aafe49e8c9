"""The registry says why a certificate cannot be registered (expired, not yet valid, a weak key), can
register a certificate as of a past moment, and a signature made with a weak key says so (issue 10.10).

Real certificates, keys and signatures (tests/pki.py)."""

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from requests_app import registry, services, signatures
from requests_app.models import Investigator, SignatureCheck, SignatureOutcome
from requests_app.services import TargetInput
from tests import pki
from tests.factories import warrant_fields
from tests.helpers import client_for
from warrantdesk.exceptions import DomainError
from warrantdesk.models import AuditAction, AuditEntry

TODAY = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)  # after expired_a's end (2025-01-01), before the others'


# --- why a registration is refused ---------------------------------------------------------------


@time_machine.travel(TODAY, tick=False)
def test_an_expired_certificate_is_refused_as_expired_with_its_dates_not_as_unchained(agency_a, ca):
    with pytest.raises(DomainError) as refusal:
        registry.investigator_register(agency=agency_a, certificate=ca.expired_a.pem, name="Choi", actor=None)

    message = refusal.value.message
    assert "expired on 2025-01-01" in message
    assert "valid from 2023-01-01" in message
    assert "--valid-at" in message
    assert "does not chain" not in message
    assert not Investigator.objects.exists()


@time_machine.travel(TODAY, tick=False)
def test_a_certificate_not_yet_valid_at_the_moment_asked_is_refused_as_such(agency_a, ca):
    before_it_began = dt.datetime(2023, 6, 1, tzinfo=dt.UTC)

    with pytest.raises(DomainError, match="was not yet valid at 2023-06-01") as refusal:
        registry.investigator_register(
            agency=agency_a, certificate=ca.chief_a.pem, name="Kim", actor=None, valid_at=before_it_began
        )

    assert "valid from 2024-01-01" in refusal.value.message


@time_machine.travel(TODAY, tick=False)
def test_a_certificate_of_another_agency_still_does_not_chain(agency_a, ca):
    with pytest.raises(DomainError, match="does not chain to any trust anchor of agency-a"):
        registry.investigator_register(agency=agency_a, certificate=ca.chief_b.pem, name="Park", actor=None)


@time_machine.travel(TODAY, tick=False)
def test_a_moment_in_the_future_is_refused(agency_a, ca):
    with pytest.raises(DomainError, match="not the future"):
        registry.investigator_register(
            agency=agency_a, certificate=ca.chief_a.pem, name="Kim", actor=None, valid_at=TODAY + dt.timedelta(days=1)
        )


def test_a_certificate_with_a_1024_bit_rsa_key_is_refused_with_its_size_and_the_minimum(agency_a):
    weak = pki.rsa_signer(1024)

    with pytest.raises(DomainError, match="has a 1024-bit RSA key; the signature policy requires at least 2048 bits"):
        registry.investigator_register(agency=agency_a, certificate=weak.pem, name="Yoon", actor=None)


# --- registering as of a past moment -----------------------------------------------------------------


@time_machine.travel(TODAY, tick=False)
def test_an_expired_certificate_registered_as_of_a_past_moment_records_that_moment(agency_a, ca):
    investigator = registry.investigator_register(
        agency=agency_a,
        certificate=ca.expired_a.pem,
        name="Choi",
        is_chief=True,
        actor=None,
        valid_at=pki.SIGNED_WHILE_VALID,
    )

    entry = AuditEntry.objects.filter(action=AuditAction.REGISTRY_CHANGED).latest("seq")
    assert investigator.certificate_valid_at == pki.SIGNED_WHILE_VALID
    assert entry.details["valid_at"] == pki.SIGNED_WHILE_VALID.isoformat()
    assert entry.details["as_of_past"] is True


@time_machine.travel(TODAY, tick=False)
def test_a_registration_now_records_now(agency_a, ca):
    investigator = registry.investigator_register(agency=agency_a, certificate=ca.chief_a.pem, name="Kim", actor=None)

    assert investigator.certificate_valid_at == TODAY
    assert AuditEntry.objects.filter(action=AuditAction.REGISTRY_CHANGED).latest("seq").details["as_of_past"] is False


@time_machine.travel(TODAY, tick=False)
def test_the_command_line_registers_as_of_a_past_moment_and_refuses_a_bad_one(agency_a, ca, tmp_path, capsys):
    certificate = tmp_path / "choi.pem"
    certificate.write_bytes(ca.expired_a.pem)

    with pytest.raises(CommandError, match="expired on 2025-01-01"):
        call_command("register_investigator", "agency-a", str(certificate), "--name", "Choi", "--chief")
    with pytest.raises(CommandError, match=r"is not a (valid )?date"):
        call_command(
            "register_investigator", "agency-a", str(certificate), "--name", "Choi", "--valid-at", "2024-13-45"
        )
    call_command(
        "register_investigator",
        "agency-a",
        str(certificate),
        "--name",
        "Choi",
        "--chief",
        "--valid-at",
        "2024-10-01T09:30+00:00",
    )

    assert "validated as of 2024-10-01" in capsys.readouterr().out
    assert Investigator.objects.get().certificate_valid_at == dt.datetime(2024, 10, 1, 9, 30, tzinfo=dt.UTC)


@time_machine.travel(TODAY, tick=False)
def test_the_api_registers_as_of_a_past_moment_and_says_why_it_refuses(agency_a, ca, admin_user):
    client = client_for(admin_user)
    body = {"agency": "agency-a", "name": "Choi", "is_chief": True, "certificate_pem": ca.expired_a.pem.decode()}

    refused = client.post("/api/v1/investigators/", body, content_type="application/json")
    accepted = client.post(
        "/api/v1/investigators/",
        {**body, "valid_at": "2024-10-01T09:30:00Z"},
        content_type="application/json",
    )

    assert refused.status_code == 400
    assert "expired on 2025-01-01" in refused.json()["detail"]
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["certificate_valid_at"].startswith("2024-10-01T")


def test_a_warrant_received_while_the_certificate_was_valid_verifies_and_a_later_one_does_not(
    agency_a, ca, legal_officer
):
    with time_machine.travel(TODAY, tick=False):
        registry.investigator_register(
            agency=agency_a,
            certificate=ca.expired_a.pem,
            name="Choi",
            is_chief=True,
            actor=None,
            valid_at=pki.SIGNED_WHILE_VALID,
        )
    outcomes = []
    for number, received in (("while-valid", pki.SIGNED_WHILE_VALID + dt.timedelta(days=1)), ("late", pki.RECEIPT)):
        signed = pki.sign_pdf(pki.make_pdf(title=number), ca.expired_a, signing_time=pki.SIGNED_WHILE_VALID)
        warrant = services.warrant_register(
            actor=legal_officer,
            targets=[TargetInput("UID", "target-1")],
            upload=SimpleUploadedFile(f"{number}.pdf", signed, "application/pdf"),
            **warrant_fields(agency_a, warrant_number=number, received_at=received),
        )
        services.document_check_signature(document=services.current_warrant_document(warrant))
        outcomes.append(SignatureCheck.objects.filter(document__warrant=warrant).get().outcome)

    assert outcomes == [SignatureOutcome.VALID, SignatureOutcome.EXPIRED]


# --- a signature made with a weak key --------------------------------------------------------------


def test_a_pdf_signed_with_a_1024_bit_rsa_key_is_reported_as_a_weak_key_with_its_size_and_the_minimum(ca):
    signed = pki.sign_pdf(pki.make_pdf(), pki.rsa_signer(1024))

    found = signatures.verify_pdf(signed, trust_roots=ca.anchors_a, at=pki.RECEIPT)

    (finding,) = found.findings
    assert found.error == ""
    assert finding.outcome == signatures.Outcome.WEAK_ALGORITHM
    assert finding.reasons[0].startswith(
        "The signer's key is a 1024-bit RSA key; the signature policy requires at least 2048 bits."
    )


def test_a_detached_signature_with_a_1024_bit_rsa_key_is_reported_the_same_way(ca):
    pdf = pki.make_pdf()

    found = signatures.verify_detached(
        pdf, pki.detached_cms(pdf, pki.rsa_signer(1024)), trust_roots=ca.anchors_a, at=pki.RECEIPT
    )

    (finding,) = found.findings
    assert finding.outcome == signatures.Outcome.WEAK_ALGORITHM
    assert "1024-bit RSA key" in finding.reasons[0]
    assert "at least 2048 bits" in finding.reasons[0]


def test_a_2048_bit_rsa_key_is_strong_enough(ca):
    signed = pki.sign_pdf(pki.make_pdf(), pki.rsa_signer(2048))

    (finding,) = signatures.verify_pdf(signed, trust_roots=ca.anchors_a, at=pki.RECEIPT).findings

    assert finding.outcome == signatures.Outcome.VALID


def test_the_stored_verdict_of_a_weak_key_names_it_on_the_warrant_page(agency_a, legal_officer):
    signed = pki.sign_pdf(pki.make_pdf(), pki.rsa_signer(1024))
    warrant = services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", "target-1")],
        upload=SimpleUploadedFile("weak.pdf", signed, "application/pdf"),
        **warrant_fields(agency_a, received_at=pki.RECEIPT),
    )

    check = services.document_check_signature(document=services.current_warrant_document(warrant))
    page = client_for(legal_officer).get(warrant.get_absolute_url()).content.decode()

    assert check.outcome == SignatureOutcome.WEAK_ALGORITHM
    assert "Key or algorithm too weak" in page
    assert "1024-bit RSA key" in page
