"""Fail closed: when the audit entry of an action cannot be written, the action does not happen."""

import datetime as dt

import pytest
from django.db import DatabaseError
from django.utils import timezone

from disclosure import services as disclosure_services
from disclosure.models import Export, Notification
from disclosure.notifications import services as notifications
from requests_app import services
from requests_app.models import FollowUpDecision, FollowUpRequest, FollowUpToken, Warrant, WarrantEvent
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests.factories import warrant_fields
from tests.helpers import _notification_of, verify_signature
from tests.requests_app.test_followups import agency_a, decide, log_request, scene  # noqa: F401  (fixtures)
from warrantdesk.models import AuditEntry


@pytest.fixture
def audit_write_fails(monkeypatch):
    """From now on every audit insert fails, as a full disk or a revoked grant would make it fail."""

    def refuse(*args, **kwargs):
        raise DatabaseError("audit insert refused (test)")

    def arm():
        monkeypatch.setattr(AuditEntry.objects, "create", refuse)

    return arm


def test_a_warrant_is_not_registered_without_its_audit_entry(legal_officer, agency, pdf_upload, audit_write_fails):
    audit_write_fails()

    with pytest.raises(DatabaseError):
        services.warrant_register(
            actor=legal_officer, targets=[TargetInput("UID", "u-1")], upload=pdf_upload(), **warrant_fields(agency)
        )

    assert not Warrant.objects.exists()
    assert not AuditEntry.objects.filter(action="warrant.created").exists()


def test_a_transition_does_not_happen_without_its_audit_entry(warrant, legal_officer, reviewer, audit_write_fails):
    verify_signature(warrant, actor=legal_officer)
    warrant.refresh_from_db()
    events = WarrantEvent.objects.filter(warrant=warrant).count()
    audit_write_fails()

    with pytest.raises(DatabaseError):
        services.warrant_approve(warrant=warrant, actor=reviewer)

    warrant.refresh_from_db()
    assert warrant.status == Status.VERIFIED
    assert WarrantEvent.objects.filter(warrant=warrant).count() == events


def test_an_export_does_not_start_without_its_audit_entry(warrant, legal_officer, reviewer, audit_write_fails):
    verify_signature(warrant, actor=legal_officer)
    warrant = services.warrant_approve(warrant=warrant, actor=reviewer)
    audit_write_fails()

    with pytest.raises(DatabaseError):
        disclosure_services.export_start(warrant=warrant, actor=legal_officer)

    warrant.refresh_from_db()
    assert warrant.status == Status.APPROVED
    assert not Export.objects.filter(warrant=warrant).exists()


def test_a_notification_is_not_deferred_without_its_audit_entry(warrant, reviewer, audit_write_fails):
    notification = _notification_of(warrant)
    audit_write_fails()

    with pytest.raises(DatabaseError):
        notifications.notification_defer(
            notification=notification,
            actor=reviewer,
            until=timezone.now() + dt.timedelta(days=30),
            justification="Ongoing investigation",
        )

    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING
    assert notification.deferred_until is None and notification.defer_justification == ""


def test_a_follow_up_decision_is_not_recorded_without_its_audit_entry(
    scene,  # noqa: F811  (the fixture imported above)
    legal_officer,
    reviewer,
    audit_write_fails,
):
    request = log_request(scene, legal_officer, scene["tokens"][:2])
    assert request.status == FollowUpRequest.Status.IN_REVIEW
    audit_write_fails()

    with pytest.raises(DatabaseError):
        decide(request, reviewer, {scene["tokens"][0]: (True, ""), scene["tokens"][1]: (False, "Not needed")})

    assert not FollowUpDecision.objects.filter(token__request=request).exists()
    assert set(request.tokens.values_list("decision", flat=True)) == {FollowUpToken.Decision.PENDING}
