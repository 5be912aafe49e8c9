"""A known scenario for the auditor's workspace, built with the services at fixed times.

Working hours are 09:00-18:00, Monday to Friday, in Seoul. Tuesday 3 March 2026 at 10:00 is in hours;
the same Tuesday at 22:30 and Saturday 7 March at 11:00 are not. The dashboard is read on Tuesday
10 March 2026 at 10:00 (``NOW``).
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

import pytest
import time_machine

from disclosure.models import Disclosure, Export, Notification
from requests_app import services
from requests_app.models import FollowUpRequest, FollowUpToken, SignatureCheck, SignatureOutcome, Warrant
from requests_app.services import TargetInput, current_warrant_document
from requests_app.workflow import Status
from tests.factories import AgencyFactory, MessageFactory, warrant_fields
from tests.helpers import delivered_export, make_account, verify_signature
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction, AuditEntry

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
IN_HOURS = dt.datetime(2026, 3, 3, 10, 0, tzinfo=SEOUL)
TUESDAY_NIGHT = dt.datetime(2026, 3, 3, 22, 30, tzinfo=SEOUL)
SATURDAY = dt.datetime(2026, 3, 7, 11, 0, tzinfo=SEOUL)
NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=SEOUL)

# What must never reach an auditor: people's names, addresses, numbers, and what they wrote.
SECRETS = [
    "김비밀",
    "secret.person@example.kr",
    "010-4242-4242",
    "서울시 비밀구 은밀로 7",
    "Brian Hidden",
    "brian.hidden@example.com",
    "010-8989-8989",
    "the parcel is under the bridge",
    "target-account-77",
]


@dataclass
class Scenario:
    warrants: dict[str, Warrant] = field(default_factory=dict)
    night_entries_by_alice: int = 0
    saturday_entries_by_bob: int = 0


@pytest.fixture
def working_hours(settings):
    settings.WARRANTDESK_WORKING_HOURS = (9, 18)
    settings.WARRANTDESK_WORKING_DAYS = (1, 2, 3, 4, 5)
    settings.WARRANTDESK_WORKING_TIMEZONE = "Asia/Seoul"
    settings.WARRANTDESK_DEFERRAL_WARNING_DAYS = 14


def _register(officer, agency, reviewer, pdf_upload, **overrides) -> Warrant:
    warrant = services.warrant_register(
        actor=officer,
        targets=[TargetInput("UID", "target-account-77")],
        upload=pdf_upload(),
        **warrant_fields(agency, **overrides),
    )
    services.warrant_assign(warrant=warrant, user=reviewer, actor=officer)
    return warrant


@pytest.fixture
def scenario(working_hours, legal_officer, second_officer, reviewer, agency, pdf_upload) -> Scenario:
    police = AgencyFactory(code="knpa", name="Korean National Police Agency")
    scene = Scenario()
    with time_machine.travel(IN_HOURS, tick=False):
        # Four warrants approved: three logged by alice and approved by bob, one by dave and bob.
        for name, officer, issuer in [
            ("first", legal_officer, agency),
            ("second", legal_officer, agency),
            ("third", legal_officer, agency),
            ("police", second_officer, police),
        ]:
            warrant = _register(officer, issuer, reviewer, pdf_upload)
            verify_signature(warrant, actor=officer)
            scene.warrants[name] = services.warrant_approve(warrant=warrant, actor=reviewer)
        # Failed signature checks: two unsigned documents from the police, one non-chief signer at the prosecutors'.
        police_document = current_warrant_document(scene.warrants["police"])
        for _ in range(2):
            SignatureCheck.objects.create(document=police_document, outcome=SignatureOutcome.UNSIGNED)
        SignatureCheck.objects.create(
            document=current_warrant_document(scene.warrants["first"]), outcome=SignatureOutcome.NOT_CHIEF
        )
        # People in the store, with what they wrote.
        hidden = make_account("u-hidden", "Brian Hidden", email="brian.hidden@example.com", phone="010-8989-8989")
        secret = make_account("u-secret", "김비밀", email="secret.person@example.kr", phone="010-4242-4242")
        secret.postal_address = "서울시 비밀구 은밀로 7"
        secret.save(update_fields=["postal_address"])
        MessageFactory(sender=hidden, body="the parcel is under the bridge")
        # The first warrant: exported, then a follow-up request asking for three pseudonyms, two approved,
        # and the two people revealed on an identity sheet.
        first = scene.warrants["first"]
        Warrant.objects.filter(pk=first.pk).update(status=Status.EXPORTED)
        delivered_export(
            first,
            legal_officer,
            [(hidden, Disclosure.Role.PSEUDONYMISED, 3), (secret, Disclosure.Role.PSEUDONYMISED, 2)],
        )
        follow_up = FollowUpRequest.objects.create(
            warrant=first,
            reference=f"{first.reference}-F1",
            received_at=first.received_at,
            deadline=first.deadline,
            created_by=legal_officer,
            status=FollowUpRequest.Status.DECIDED,
        )
        for position, decision in enumerate(
            [FollowUpToken.Decision.APPROVED, FollowUpToken.Decision.APPROVED, FollowUpToken.Decision.REFUSED], 1
        ):
            FollowUpToken.objects.create(
                request=follow_up,
                position=position,
                token=f"p1.00000000.token{position}",
                justification="Asked by the investigators",
                validity="VALID",
                decision=decision,
            )
        delivered_export(
            first,
            legal_officer,
            [(hidden, Disclosure.Role.REVEALED, 0), (secret, Disclosure.Role.REVEALED, 0)],
            kind=Export.Kind.IDENTITIES,
        )
    # Notices, as of NOW: on the second warrant one deferral ends in 5 days, one in 30; one notice is
    # 3 days late and one was sent; on the third warrant one notice is a day late.
    second, third = scene.warrants["second"], scene.warrants["third"]
    notices = [
        (second, Notification.Status.DEFERRED, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=5)),
        (second, Notification.Status.DEFERRED, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=30)),
        (second, Notification.Status.PENDING, NOW - dt.timedelta(days=3), None),
        (second, Notification.Status.SENT, NOW - dt.timedelta(days=10), None),
        (third, Notification.Status.PENDING, NOW - dt.timedelta(days=1, hours=1), None),
    ]
    for number, (warrant, status, due_at, deferred_until) in enumerate(notices):
        account = make_account(f"u-notice-{number}", f"Notice person {number}", email=f"n{number}@example.kr")
        Notification.objects.create(
            warrant=warrant,
            account=account,
            status=status,
            disclosed_at=due_at - dt.timedelta(days=30),
            due_at=due_at,
            deferred_until=deferred_until,
            deferred_by=reviewer if deferred_until else None,
            defer_justification="Investigation ongoing" if deferred_until else "",
            message_id=f"<notice-{number}@test>",
            sent_at=due_at if status == Notification.Status.SENT else None,
        )
    # After hours: alice logs a warrant on Tuesday night; bob signs in on Saturday.
    with time_machine.travel(TUESDAY_NIGHT, tick=False):
        before = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
        scene.warrants["night"] = _register(legal_officer, agency, reviewer, pdf_upload)
        scene.night_entries_by_alice = AuditEntry.objects.filter(seq__gt=before, actor_label="alice").count()
    with time_machine.travel(SATURDAY, tick=False):
        audit_record(action=AuditAction.LOGIN, actor=reviewer)
        scene.saturday_entries_by_bob = 1
    return scene
