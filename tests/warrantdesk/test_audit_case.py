"""The auditor lands on the audit log and reads a case's history from it: process, never content."""

import re

from django.test import Client
from django.urls import reverse

from requests_app import services
from tests.factories import PASSWORD
from tests.helpers import client_for, sign_in, verify_signature
from warrantdesk.models import AuditAction, AuditEntry


def signed_in(username: str):
    return sign_in(Client(), username, PASSWORD, follow=True)  # the password, then the second factor


def test_an_auditor_lands_on_the_audit_log_and_an_officer_on_the_warrants(auditor, legal_officer):
    assert signed_in("audrey").redirect_chain[-1][0] == reverse("audit-log")
    assert signed_in("alice").redirect_chain[-1][0] == reverse("requests_app:warrant-list")


def test_an_administrator_who_also_audits_lands_on_the_warrants(admin_user):
    assert signed_in("root").redirect_chain[-1][0] == reverse("requests_app:warrant-list")


def test_a_warrant_reference_in_the_audit_log_opens_the_case_history(warrant, auditor):
    page = client_for(auditor).get(reverse("audit-log")).content.decode()

    assert f'<a href="/audit/cases/{warrant.reference}/">{warrant.reference}</a>' in page
    assert "/warrants/?q=" not in page


def test_the_case_history_shows_the_process_and_nothing_of_the_content(
    warrant, legal_officer, reviewer, auditor, pdf_upload
):
    warrant.notes = "Suspect Hong Gildong called the hotline"
    warrant.save(update_fields=["notes"])
    services.document_upload(warrant=warrant, upload=pdf_upload("hong-gildong-letter.pdf"), actor=legal_officer)
    verify_signature(warrant, actor=legal_officer)
    services.warrant_approve(warrant=warrant, actor=reviewer, note="Scope checked.")

    response = client_for(auditor).get(reverse("audit-case", args=[warrant.reference]))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"<h1>{warrant.reference}</h1>" in html
    assert "Scope checked." in html  # the status history, as the audit log shows it
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', html, flags=re.DOTALL).group(1)
    assert (
        timeline.count('<li class="timeline__item">')
        == AuditEntry.objects.filter(warrant_ref=warrant.reference).count()
    )
    assert "<dt>SHA-256</dt>" in timeline and "<dt>sha256</dt>" not in timeline  # labelled like the audit log
    for content in ("target-1", "010-1234-5678", "Hong Gildong", "hong-gildong-letter"):
        assert content not in html
    assert not re.search(r'href="[^"]*(download|/documents/|/exports/|/warrants/\d)', html)


def test_only_auditors_read_a_case_history_and_a_refusal_is_recorded(warrant, legal_officer, outsider, auditor):
    url = reverse("audit-case", args=[warrant.reference])
    denied_before = AuditEntry.objects.filter(action=AuditAction.ACCESS_DENIED).count()

    answers = {
        "assigned officer": client_for(legal_officer).get(url).status_code,
        "outsider": client_for(outsider).get(url).status_code,
        "unknown reference": client_for(auditor).get(reverse("audit-case", args=["WD-2026-999999"])).status_code,
        "overlong reference": client_for(auditor).get(reverse("audit-case", args=["W" * 5000])).status_code,
    }

    assert answers == dict.fromkeys(answers, 404)
    assert AuditEntry.objects.filter(action=AuditAction.ACCESS_DENIED).count() == denied_before + 4
    assert client_for(auditor).post(url).status_code == 405
