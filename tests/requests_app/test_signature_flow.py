"""The signature gate end to end: registry, upload, background check, stored verdicts, re-check,
approval gate, the command line. Real certificates and real PDF signatures (tests/pki.py)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from requests_app import registry, services
from requests_app.models import Agency, Investigator, SignatureCheck, SignatureOutcome, TrustAnchor, Warrant
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests import pki
from tests.factories import InvestigatorFactory, UserFactory, warrant_fields
from tests.helpers import client_for, web_form_fields
from tests.shared_data import TESTDATA as SHARED_TESTDATA
from tests.shared_data import needs
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction, AuditEntry

TESTDATA = SHARED_TESTDATA / "pdfsig"


@pytest.fixture
def agency_b(db, ca):
    agency = registry.agency_save(code="agency-b", name="Agency B", actor=None)
    registry.anchor_add(agency=agency, certificate=ca.agency_b.anchors_pem, actor=None)
    return agency


@pytest.fixture
def registered(agency_a, agency_b, ca):
    """Agency A's chief and ordinary investigator, agency B's chief, and A's revoked and expired chiefs."""
    people = {
        "chief_a": registry.investigator_register(
            agency=agency_a, certificate=ca.chief_a.pem, name="Kim Min-jun", title="Chief", is_chief=True, actor=None
        ),
        "investigator_a": registry.investigator_register(
            agency=agency_a, certificate=ca.investigator_a.pem, name="Lee Seo-yeon", actor=None
        ),
        "chief_b": registry.investigator_register(
            agency=agency_b, certificate=ca.chief_b.pem, name="Park Ji-ho", is_chief=True, actor=None
        ),
        "revoked_a": registry.investigator_register(
            agency=agency_a, certificate=ca.revoked_a.pem, name="Jung", is_chief=True, actor=None
        ),
    }
    # The expired certificate can no longer be registered today; it was registered while valid.
    InvestigatorFactory(
        agency=agency_a,
        name="Choi",
        is_chief=True,
        certificate_pem=ca.expired_a.pem.decode(),
        certificate_sha256=ca.expired_a.fingerprint,
    )
    return people


def log_warrant(officer, agency, pdf: bytes, *, reviewer=None, signature: bytes | None = None) -> Warrant:
    warrant = services.warrant_register(
        actor=officer,
        targets=[TargetInput("UID", "target-1")],
        upload=SimpleUploadedFile("warrant.pdf", pdf, "application/pdf"),
        signature_upload=SimpleUploadedFile("warrant.p7s", signature, "application/pkcs7-signature")
        if signature is not None
        else None,
        **warrant_fields(agency, received_at=pki.RECEIPT),
    )
    if reviewer is not None:
        services.warrant_assign(warrant=warrant, user=reviewer, actor=officer)
    return warrant


def latest_check(warrant: Warrant) -> SignatureCheck:
    return SignatureCheck.objects.filter(document__warrant=warrant).latest("checked_at", "pk")


# --- the registry ----------------------------------------------------------------------------------


def test_registering_an_agency_and_its_signers_from_the_command_line_is_audited(db, ca, tmp_path, capsys):
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(ca.agency_a.anchors_pem)
    chief = tmp_path / "chief.pem"
    chief.write_bytes(ca.chief_a.pem)

    call_command("register_agency", "agency-a", "Agency A", "--anchor", str(anchors), "--kind", "PROSECUTION")
    call_command("register_investigator", "agency-a", str(chief), "--name", "Kim Min-jun", "--chief")

    agency = Agency.objects.get(code="agency-a")
    assert TrustAnchor.objects.filter(agency=agency).count() == 2
    investigator = Investigator.objects.get(agency=agency)
    assert (investigator.is_chief, investigator.certificate_sha256) == (True, ca.chief_a.fingerprint)
    changes = AuditEntry.objects.filter(action=AuditAction.REGISTRY_CHANGED)
    assert [entry.details["op"] for entry in changes] == ["agency.add", "anchor.add", "anchor.add", "investigator.add"]
    assert all(entry.actor_label.startswith("cli:") for entry in changes)
    assert "registered as chief investigator of agency-a" in capsys.readouterr().out


def test_an_investigator_whose_certificate_does_not_chain_to_the_agency_is_refused(agency_a, ca):
    with pytest.raises(DomainError, match="does not chain to any trust anchor of agency-a"):
        registry.investigator_register(agency=agency_a, certificate=ca.chief_b.pem, name="Park", actor=None)

    assert not Investigator.objects.exists()


def test_a_ca_certificate_cannot_be_registered_as_an_investigator_nor_a_person_as_an_anchor(agency_a, ca):
    with pytest.raises(DomainError, match="is a CA certificate"):
        registry.investigator_register(agency=agency_a, certificate=ca.agency_a.root.pem, name="Root", actor=None)
    with pytest.raises(DomainError, match="is not a CA certificate"):
        registry.anchor_add(agency=agency_a, certificate=ca.chief_a.pem, actor=None)


def test_garbage_is_not_a_certificate(agency_a):
    with pytest.raises(DomainError, match="not a certificate"):
        registry.anchor_add(agency=agency_a, certificate=b"hello", actor=None)


def test_the_command_line_refuses_an_unknown_agency_with_a_clear_error(db, ca, tmp_path):
    chief = tmp_path / "chief.pem"
    chief.write_bytes(ca.chief_a.pem)

    with pytest.raises(Exception, match="No agency with code 'nope'"):
        call_command("register_investigator", "nope", str(chief), "--name", "X")


def test_only_administrators_change_the_registry_through_the_api(agency_a, ca, legal_officer, admin_user):
    payload = {"agency": "agency-a", "name": "Kim", "is_chief": True, "certificate_pem": ca.chief_a.pem.decode()}

    refused = client_for(legal_officer).post("/api/v1/investigators/", payload, content_type="application/json")
    created = client_for(admin_user).post("/api/v1/investigators/", payload, content_type="application/json")

    assert refused.status_code == 404
    assert created.status_code == 201, created.content
    assert created.json()["certificate_sha256"] == ca.chief_a.fingerprint
    demoted = client_for(admin_user).patch(
        f"/api/v1/investigators/{created.json()['id']}/", {"is_chief": False}, content_type="application/json"
    )
    assert demoted.json()["is_chief"] is False
    ops = [e.details["op"] for e in AuditEntry.objects.filter(action=AuditAction.REGISTRY_CHANGED, actor=admin_user)]
    assert ops == ["investigator.add", "investigator.change"]


# --- upload, background check, verdicts ------------------------------------------------------------

SIGNED_BY = {
    "chief_a": (SignatureOutcome.VALID, Status.VERIFIED),
    "investigator_a": (SignatureOutcome.NOT_CHIEF, Status.SIGNATURE_FAILED),
    "chief_b": (SignatureOutcome.OTHER_AGENCY, Status.SIGNATURE_FAILED),
    "revoked_a": (SignatureOutcome.REVOKED, Status.SIGNATURE_FAILED),
    "expired_a": (SignatureOutcome.EXPIRED, Status.SIGNATURE_FAILED),
    "nosign_a": (SignatureOutcome.UNTRUSTED, Status.SIGNATURE_FAILED),  # key usage forbids signing
}


@pytest.mark.parametrize("signer", SIGNED_BY)
def test_uploading_a_signed_warrant_checks_it_and_moves_the_warrant(
    signer, registered, agency_a, ca, legal_officer, immediate_tasks, django_capture_on_commit_callbacks
):
    identity = getattr(ca, signer)
    expected_outcome, expected_status = SIGNED_BY[signer]
    crl = ca.agency_a.crls if signer == "revoked_a" else None
    signed_while_valid = pki.SIGNED_WHILE_VALID if signer == "expired_a" else None
    pdf = pki.sign_pdf(pki.make_pdf(), identity, embed_crl=crl, signing_time=signed_while_valid)

    with django_capture_on_commit_callbacks(execute=True):
        warrant = log_warrant(legal_officer, agency_a, pdf)

    warrant.refresh_from_db()
    check = latest_check(warrant)
    assert (check.outcome, warrant.status) == (expected_outcome, expected_status), check.reasons
    assert check.signer_fingerprint == identity.fingerprint
    assert check.reasons, "every verdict says why"
    assert check.checked_by == legal_officer
    entry = AuditEntry.objects.filter(action=AuditAction.SIGNATURE_CHECKED).latest("seq")
    assert (entry.warrant_ref, entry.details["outcome"]) == (warrant.reference, expected_outcome)


def test_a_valid_check_names_the_chief_and_when_the_certificate_was_judged(
    registered, agency_a, ca, legal_officer, immediate_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        warrant = log_warrant(
            legal_officer, agency_a, pki.sign_pdf(pki.make_pdf(), ca.chief_a, embed_crl=ca.agency_a.crls)
        )

    check = latest_check(warrant)
    assert check.investigator == registered["chief_a"]
    assert check.validated_at == pki.RECEIPT
    assert check.signing_time == pki.SIGNED
    assert check.revocation_checked is True


def _signed(ca) -> bytes:
    return pki.sign_pdf(pki.make_pdf(), ca.chief_a)


BAD_DOCUMENTS = {
    "unsigned": (lambda ca: pki.make_pdf(), SignatureOutcome.UNSIGNED),
    "page-added-after-signing": (lambda ca: pki.add_page_incrementally(_signed(ca)), SignatureOutcome.MODIFIED),
    "one-signed-byte-changed": (lambda ca: pki.flip_signed_byte(_signed(ca)), SignatureOutcome.TAMPERED),
    "truncated": (lambda ca: _signed(ca)[:1500], SignatureOutcome.MALFORMED),
    "encrypted": (lambda ca: pki.encrypt_pdf(pki.make_pdf()), SignatureOutcome.MALFORMED),
    "garbage-in-the-signature": (lambda ca: pki.corrupt_signature_contents(_signed(ca)), SignatureOutcome.MALFORMED),
}


@pytest.mark.parametrize("name", BAD_DOCUMENTS)
def test_bad_documents_get_a_stored_verdict_with_a_reason_and_no_server_error(
    name, registered, agency_a, ca, legal_officer, immediate_tasks, django_capture_on_commit_callbacks
):
    make, outcome = BAD_DOCUMENTS[name]
    client = client_for(legal_officer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("requests_app:warrant-create"),
            {**web_form_fields(agency_a), "document": SimpleUploadedFile("w.pdf", make(ca), "application/pdf")},
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    warrant = Warrant.objects.get()
    check = latest_check(warrant)
    assert check.outcome == outcome, check.reasons
    assert check.reasons
    page = client.get(warrant.get_absolute_url())
    assert page.status_code == 200
    assert check.get_outcome_display() in page.content.decode()


def test_a_detached_p7s_signature_is_checked_over_the_pdf(
    registered, agency_a, ca, legal_officer, immediate_tasks, django_capture_on_commit_callbacks
):
    pdf = pki.make_pdf()
    with django_capture_on_commit_callbacks(execute=True):
        good = log_warrant(legal_officer, agency_a, pdf, signature=pki.detached_cms(pdf, ca.chief_a))
    other_pdf = pki.make_pdf(title="Another warrant")
    with django_capture_on_commit_callbacks(execute=True):
        wrong = log_warrant(legal_officer, agency_a, other_pdf, signature=pki.detached_cms(pdf, ca.chief_a))
    with django_capture_on_commit_callbacks(execute=True):
        junk = log_warrant(legal_officer, agency_a, pki.make_pdf(title="Third"), signature=b"not a CMS signature")

    assert latest_check(good).outcome == SignatureOutcome.VALID
    assert latest_check(wrong).outcome == SignatureOutcome.TAMPERED
    assert latest_check(junk).outcome == SignatureOutcome.MALFORMED


# --- the gate --------------------------------------------------------------------------------------


def test_no_approval_without_a_valid_check_and_the_reason_is_given_everywhere(
    registered, agency_a, ca, legal_officer, reviewer, immediate_tasks, django_capture_on_commit_callbacks
):
    pdf = pki.sign_pdf(pki.make_pdf(), ca.investigator_a)
    with django_capture_on_commit_callbacks(execute=True):
        warrant = log_warrant(legal_officer, agency_a, pdf, reviewer=reviewer)
    Warrant.objects.filter(pk=warrant.pk).update(status=Status.VERIFIED)  # as if a state slipped through

    with pytest.raises(Conflict) as refusal:
        services.warrant_approve(warrant=warrant, actor=reviewer)
    api = client_for(reviewer).post(
        f"/api/v1/warrants/{warrant.pk}/transitions/", {"to": "APPROVED"}, content_type="application/json"
    )
    page = client_for(reviewer).get(warrant.get_absolute_url()).content.decode()

    reason = "The current document has no valid chief-investigator signature: Signer is not a chief investigator."
    assert refusal.value.message == reason
    assert (api.status_code, api.json()["detail"], api.json()["code"]) == (409, reason, "signature_gate")
    assert reason in page and "disabled" in page
    warrant.refresh_from_db()
    assert warrant.approved_by is None


def test_a_recheck_after_promoting_the_signer_adds_a_row_and_verifies_the_warrant(
    registered, agency_a, ca, legal_officer, reviewer, admin_user, immediate_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        warrant = log_warrant(
            legal_officer, agency_a, pki.sign_pdf(pki.make_pdf(), ca.investigator_a), reviewer=reviewer
        )
    registry.investigator_update(investigator=registered["investigator_a"], is_chief=True, actor=admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(reviewer).post(reverse("requests_app:warrant-recheck", args=[warrant.pk]))

    assert response.status_code == 302
    warrant.refresh_from_db()
    outcomes = list(
        SignatureCheck.objects.filter(document__warrant=warrant).order_by("pk").values_list("outcome", flat=True)
    )
    assert outcomes == [SignatureOutcome.NOT_CHIEF, SignatureOutcome.VALID]
    assert warrant.status == Status.VERIFIED
    services.warrant_approve(warrant=warrant, actor=reviewer)


def test_the_page_polls_while_the_check_is_pending_and_shows_the_verdict_after(
    registered, agency_a, ca, legal_officer, django_capture_on_commit_callbacks
):
    warrant = log_warrant(legal_officer, agency_a, pki.sign_pdf(pki.make_pdf(), ca.chief_a))
    client = client_for(legal_officer)

    pending = client.get(warrant.get_absolute_url()).content.decode()
    services.document_check_signature(document=services.current_warrant_document(warrant), actor=None)
    panel = client.get(reverse("requests_app:warrant-signature", args=[warrant.pk]), HTTP_HX_REQUEST="true")

    assert 'hx-trigger="every 2s"' in pending and "Checking…" in pending
    assert panel.status_code == 200
    assert "Valid chief-investigator signature" in panel.content.decode()
    assert panel["HX-Refresh"] == "true"


@pytest.mark.django_db(transaction=True)
def test_the_real_task_worker_runs_the_check(ca, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from warrantdesk.roles import Role, sync_roles

    sync_roles()
    officer = UserFactory(username="worker-officer", role=Role.INTAKE_OFFICER)
    agency = registry.agency_save(code="agency-a", name="Agency A", actor=None)
    registry.anchor_add(agency=agency, certificate=ca.agency_a.anchors_pem, actor=None)
    registry.investigator_register(agency=agency, certificate=ca.chief_a.pem, name="Kim", is_chief=True, actor=None)
    warrant = log_warrant(officer, agency, pki.sign_pdf(pki.make_pdf(), ca.chief_a))
    assert Warrant.objects.get(pk=warrant.pk).status == Status.RECEIVED

    call_command("db_worker", batch=True, queue_name="*", verbosity=0)

    assert Warrant.objects.get(pk=warrant.pk).status == Status.VERIFIED


# --- the command line ------------------------------------------------------------------------------


def test_verify_document_prints_the_verdict_and_exits_non_zero_unless_valid(registered, agency_a, ca, tmp_path, capsys):
    good = tmp_path / "good.pdf"
    good.write_bytes(pki.sign_pdf(pki.make_pdf(), ca.chief_a))
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(pki.sign_pdf(pki.make_pdf(), ca.investigator_a))
    at = pki.RECEIPT.isoformat()

    call_command("verify_document", str(good), "--agency", "agency-a", "--at", at)
    out = capsys.readouterr().out
    with pytest.raises(SystemExit) as failed:
        call_command("verify_document", str(bad), "--agency", "agency-a", "--at", at, "--json")

    assert out.startswith("VALID")
    assert "Kim Min-jun" in out
    assert failed.value.code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["outcome"] == "NOT_CHIEF"
    assert result["signer_fingerprint"] == ca.investigator_a.fingerprint
    assert result["reasons"]


def test_verify_document_with_a_detached_signature(registered, ca, tmp_path, capsys):
    pdf = pki.make_pdf()
    (tmp_path / "w.pdf").write_bytes(pdf)
    (tmp_path / "w.p7s").write_bytes(pki.detached_cms(pdf, ca.chief_a))

    call_command(
        "verify_document",
        str(tmp_path / "w.pdf"),
        "--detached",
        str(tmp_path / "w.p7s"),
        "--agency",
        "agency-a",
        "--at",
        pki.RECEIPT.isoformat(),
    )

    assert capsys.readouterr().out.startswith("VALID")


def test_verify_document_reads_a_file_that_is_not_a_pdf_as_malformed(registered, tmp_path, capsys):
    (tmp_path / "x.pdf").write_bytes(b"GIF89a not a pdf at all")

    with pytest.raises(SystemExit):
        call_command("verify_document", str(tmp_path / "x.pdf"), "--agency", "agency-a", "--json")

    assert json.loads(capsys.readouterr().out)["outcome"] == "MALFORMED"


@needs("pdfsig")
@pytest.mark.parametrize(
    ("file", "registered_as_chief", "outcome"),
    [
        ("pades-with-old-style-signing-cert-attr.pdf", True, "VALID"),
        ("pades-with-old-style-signing-cert-attr.pdf", False, "NOT_CHIEF"),
        ("sig-with-ski-sid.pdf", True, "VALID"),
        ("DERIVED_tampered_pades-with-old-style-signing-cert-attr.pdf", True, "TAMPERED"),
        ("minimal-signed-twice-no-sig-type.pdf", True, "UNTRUSTED"),
    ],
)
def test_real_signed_files_through_the_whole_check(file, registered_as_chief, outcome, db, tmp_path, capsys):
    """The outside files of ../shared/testdata/pdfsig, with Alice registered at the pyHanko test CA."""
    from requests_app import signatures

    agency = registry.agency_save(code="pyhanko", name="pyHanko testing CA", actor=None)
    registry.anchor_add(
        agency=agency,
        certificate=(TESTDATA / "TRUST-ROOT_pyhanko-testing-ca_root.cert.pem").read_bytes()
        + (TESTDATA / "pyhanko-testing-ca_interm.cert.pem").read_bytes(),
        actor=None,
    )
    reference = signatures.verify_pdf(
        (TESTDATA / "pades-with-old-style-signing-cert-attr.pdf").read_bytes(),
        trust_roots=registry.agency_anchor_certificates(agency),
        at=pki.dt.datetime(2020, 11, 1, tzinfo=pki.UTC),
    )
    alice = reference.findings[0].signer
    InvestigatorFactory(
        agency=agency,
        name="Alice",
        is_chief=registered_as_chief,
        certificate_pem=alice.pem,
        certificate_sha256=alice.fingerprint,
    )

    with pytest.raises(SystemExit) if outcome != "VALID" else _nothing():
        call_command(
            "verify_document", str(TESTDATA / file), "--agency", "pyhanko", "--at", "2020-11-01T00:00:00Z", "--json"
        )

    assert json.loads(capsys.readouterr().out)["outcome"] == outcome


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_requested_recheck_shows_as_running_until_its_verdict_arrives(registered, agency_a, ca, legal_officer):
    warrant = log_warrant(legal_officer, agency_a, pki.sign_pdf(pki.make_pdf(), ca.chief_a))
    document = services.current_warrant_document(warrant)
    services.document_check_signature(document=document, actor=legal_officer)
    client = client_for(legal_officer)

    client.post(reverse("requests_app:warrant-recheck", args=[warrant.pk]))
    waiting = client.get(warrant.get_absolute_url()).content.decode()
    services.document_check_signature(document=document, actor=legal_officer)
    done = client.get(warrant.get_absolute_url()).content.decode()

    assert "Checking…" in waiting and 'hx-trigger="every 2s"' in waiting
    assert "Checking…" not in done
