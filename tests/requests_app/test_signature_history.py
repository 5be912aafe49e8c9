"""The warrant's signature panel lists only checks of the warrant's own documents (issue 10.7)."""

from django.urls import reverse

from requests_app import services
from requests_app.models import Document, SignatureCheck, SignatureOutcome
from tests.factories import pdf_bytes
from tests.helpers import client_for


def _check(document: Document, outcome: str) -> SignatureCheck:
    return SignatureCheck.objects.create(document=document, outcome=outcome, reasons=["Arranged by the test."])


def test_a_follow_up_requests_check_is_not_an_earlier_check_of_the_warrant(warrant, legal_officer, pdf_upload):
    warrant_document = services.current_warrant_document(warrant)
    first_check = _check(warrant_document, SignatureOutcome.UNSIGNED)
    follow_up_document = services.document_upload(
        warrant=warrant,
        upload=pdf_upload("follow-up.pdf", pdf_bytes("Follow-up request")),
        kind=Document.Kind.FOLLOW_UP,
        actor=legal_officer,
    )
    follow_up_check = _check(follow_up_document, SignatureOutcome.NOT_CHIEF)
    latest = _check(warrant_document, SignatureOutcome.VALID)

    page = client_for(legal_officer).get(warrant.get_absolute_url())
    panel = client_for(legal_officer).get(reverse("requests_app:warrant-signature", args=[warrant.pk]))
    api = client_for(legal_officer).get(f"/api/v1/warrants/{warrant.pk}/signature-checks/")

    assert page.context["signature"] == latest
    assert page.context["earlier_checks"] == [first_check]
    assert panel.context["earlier_checks"] == [first_check]
    assert "follow-up.pdf" not in panel.content.decode()
    assert {row["id"] for row in api.json()} == {latest.pk, first_check.pk}
    assert follow_up_check.pk not in {row["id"] for row in api.json()}
