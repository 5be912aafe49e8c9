"""The warrant workflow: every allowed move works, every other pair of statuses is refused."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from requests_app import services
from requests_app.models import Warrant, WarrantEvent
from requests_app.services import TargetInput
from requests_app.workflow import SYSTEM, TRANSITIONS, FourEyesViolation, Status, TransitionNotAllowed
from tests.factories import warrant_fields
from tests.helpers import record_valid_signature, verify_signature
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction, AuditEntry

FROZEN_AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

ALLOWED = [(source, target) for source, moves in TRANSITIONS.items() for target in moves]
REFUSED = [(source, target) for source in Status for target in Status if target not in TRANSITIONS[source]]
SYSTEM_MOVES = [(source, target) for source, target in ALLOWED if TRANSITIONS[source][target].by == SYSTEM]
MOVES_NEEDING_A_NOTE = [(source, target) for source, target in ALLOWED if TRANSITIONS[source][target].note_required]

PAST_VERIFICATION = {
    Status.VERIFIED,
    Status.APPROVED,
    Status.EXPORTING,
    Status.EXPORTED,
    Status.DELIVERED,
    Status.NOTIFYING,
    Status.CLOSED,
}
PAST_APPROVAL = PAST_VERIFICATION - {Status.VERIFIED}


def pair_id(pair) -> str:
    source, target = pair
    return f"{source}->{target}"


def put_in_status(warrant: Warrant, status: Status, *, approver) -> Warrant:
    """Arrange a warrant as if it had reached ``status`` the normal way (timestamps included)."""
    at = timezone.now() - dt.timedelta(hours=1)
    Warrant.objects.filter(pk=warrant.pk).update(
        status=status,
        verified_at=at if status in PAST_VERIFICATION else None,
        approved_by=approver if status in PAST_APPROVAL else None,
        approved_at=at if status in PAST_APPROVAL else None,
        closed_at=at if status in {Status.CLOSED, Status.REJECTED} else None,
    )
    if status in PAST_VERIFICATION:
        record_valid_signature(warrant)
    warrant.refresh_from_db()
    return warrant


def move_as_its_rule_requires(warrant: Warrant, target: Status, *, officer, reviewer) -> Warrant:
    """System moves are made by the application on the officer's behalf; review moves by the reviewer."""
    rule = TRANSITIONS[Status(warrant.status)][target]
    note = "Outside the operator's service" if rule.note_required else ""
    if rule.by == SYSTEM:
        return services.warrant_transition(warrant=warrant, to=target, actor=officer, note=note, system=True)
    return services.warrant_transition(warrant=warrant, to=target, actor=reviewer, note=note)


def snapshot(warrant: Warrant) -> dict:
    row = Warrant.objects.values().get(pk=warrant.pk)
    return {
        "row": row,
        "events": WarrantEvent.objects.filter(warrant=warrant).count(),
        "audit": AuditEntry.objects.count(),
    }


@pytest.mark.parametrize(("source", "target"), ALLOWED, ids=map(pair_id, ALLOWED))
def test_every_allowed_transition_moves_the_warrant_and_records_it_once(
    source, target, warrant, legal_officer, reviewer, time_machine
):
    time_machine.move_to(FROZEN_AT, tick=False)
    warrant = put_in_status(warrant, source, approver=reviewer)
    events_before = WarrantEvent.objects.filter(warrant=warrant).count()
    transitions_before = AuditEntry.objects.filter(action=AuditAction.WARRANT_TRANSITION).count()

    moved = move_as_its_rule_requires(warrant, target, officer=legal_officer, reviewer=reviewer)

    warrant.refresh_from_db()
    assert moved.status == target
    assert warrant.status == target
    assert WarrantEvent.objects.filter(warrant=warrant).count() == events_before + 1
    event = WarrantEvent.objects.filter(warrant=warrant).latest("pk")
    assert (event.from_status, event.to_status, event.at) == (source, target, FROZEN_AT)
    transitions = AuditEntry.objects.filter(action=AuditAction.WARRANT_TRANSITION)
    assert transitions.count() == transitions_before + 1
    entry = transitions.latest("seq")
    assert entry.warrant_ref == warrant.reference
    assert (entry.details["from"], entry.details["to"]) == (source, target)


@pytest.mark.parametrize(("source", "target"), REFUSED, ids=map(pair_id, REFUSED))
def test_every_other_pair_of_statuses_is_refused_and_changes_nothing(source, target, warrant, reviewer):
    warrant = put_in_status(warrant, source, approver=reviewer)
    before = snapshot(warrant)

    # The most permissive call there is: a system step, by an assigned reviewer, with a note.
    with pytest.raises(TransitionNotAllowed) as refusal:
        services.warrant_transition(warrant=warrant, to=target, actor=reviewer, note="Because", system=True)

    assert refusal.value.status_code == 409
    assert refusal.value.code == "transition_not_allowed"
    assert snapshot(warrant) == before


def test_a_refused_transition_names_both_statuses(warrant, reviewer):
    with pytest.raises(TransitionNotAllowed) as refusal:
        services.warrant_transition(warrant=warrant, to=Status.CLOSED, actor=reviewer, system=True)

    assert refusal.value.message == "A warrant in status “Received” cannot move to “Closed”."


@pytest.mark.parametrize(("source", "target"), SYSTEM_MOVES, ids=map(pair_id, SYSTEM_MOVES))
def test_system_moves_cannot_be_made_by_hand(source, target, warrant, reviewer):
    warrant = put_in_status(warrant, source, approver=reviewer)
    before = snapshot(warrant)

    with pytest.raises(Conflict) as refusal:
        services.warrant_transition(warrant=warrant, to=target, actor=reviewer, note="By hand")

    assert refusal.value.status_code == 409
    assert refusal.value.code == "system_transition"
    assert snapshot(warrant) == before


@pytest.mark.parametrize(("source", "target"), MOVES_NEEDING_A_NOTE, ids=map(pair_id, MOVES_NEEDING_A_NOTE))
@pytest.mark.parametrize("note", ["", "   \n"], ids=["empty", "blank"])
def test_rejecting_needs_a_reason(source, target, note, warrant, reviewer):
    warrant = put_in_status(warrant, source, approver=reviewer)
    before = snapshot(warrant)

    with pytest.raises(DomainError) as refusal:
        services.warrant_transition(warrant=warrant, to=target, actor=reviewer, note=note)

    assert refusal.value.code == "note_required"
    assert refusal.value.message == "Please give a reason."
    assert snapshot(warrant) == before


def test_rejection_keeps_the_reason_in_history_and_closes_the_case(warrant, reviewer, time_machine):
    time_machine.move_to(FROZEN_AT, tick=False)

    services.warrant_reject(warrant=warrant, actor=reviewer, note="Outside the operator's service")

    warrant.refresh_from_db()
    assert warrant.status == Status.REJECTED
    assert warrant.closed_at == FROZEN_AT
    event = warrant.events.latest("pk")
    assert (event.actor, event.note) == (reviewer, "Outside the operator's service")


def test_signature_verification_records_when_it_happened(warrant, legal_officer, time_machine):
    time_machine.move_to(FROZEN_AT, tick=False)

    verify_signature(warrant, actor=legal_officer)

    warrant.refresh_from_db()
    assert warrant.verified_at == FROZEN_AT
    assert AuditEntry.objects.filter(action=AuditAction.WARRANT_TRANSITION).latest("seq").details["by"] == "system"


def test_approval_records_the_approver_and_when(warrant, legal_officer, reviewer, time_machine):
    verify_signature(warrant, actor=legal_officer)
    time_machine.move_to(FROZEN_AT, tick=False)

    services.warrant_approve(warrant=warrant, actor=reviewer)

    warrant.refresh_from_db()
    assert (warrant.status, warrant.approved_by, warrant.approved_at) == (Status.APPROVED, reviewer, FROZEN_AT)


def test_a_failed_export_going_back_to_approved_keeps_the_original_approver(warrant, legal_officer, reviewer):
    warrant = put_in_status(warrant, Status.EXPORTING, approver=reviewer)
    approved_at = warrant.approved_at

    services.warrant_transition(warrant=warrant, to=Status.APPROVED, actor=legal_officer, system=True)

    warrant.refresh_from_db()
    assert (warrant.approved_by, warrant.approved_at) == (reviewer, approved_at)


# --- four eyes and per-case permissions ----------------------------------------------------------


@pytest.fixture
def own_verified_warrant(officer_reviewer, agency, pdf_upload):
    """A verified warrant logged by someone who is both intake officer and reviewer."""
    warrant = services.warrant_register(
        actor=officer_reviewer, targets=[TargetInput("UID", "target-1")], upload=pdf_upload(), **warrant_fields(agency)
    )
    return verify_signature(warrant, actor=officer_reviewer)


def test_the_officer_who_logged_a_warrant_cannot_approve_it_even_as_a_reviewer(own_verified_warrant, officer_reviewer):
    before = snapshot(own_verified_warrant)

    with pytest.raises(FourEyesViolation) as refusal:
        services.warrant_approve(warrant=own_verified_warrant, actor=officer_reviewer)

    assert refusal.value.status_code == 409
    assert refusal.value.code == "four_eyes"
    assert snapshot(own_verified_warrant) == before


def test_another_assigned_reviewer_can_approve_it(own_verified_warrant, officer_reviewer, reviewer):
    services.warrant_assign(warrant=own_verified_warrant, user=reviewer, actor=officer_reviewer)

    services.warrant_approve(warrant=own_verified_warrant, actor=reviewer)

    own_verified_warrant.refresh_from_db()
    assert (own_verified_warrant.status, own_verified_warrant.approved_by) == (Status.APPROVED, reviewer)


def test_the_database_refuses_an_approval_by_the_officer_who_logged_the_warrant(own_verified_warrant):
    approving_own = Warrant.objects.filter(pk=own_verified_warrant.pk)

    with pytest.raises(IntegrityError, match="warrant_four_eyes"), transaction.atomic():
        approving_own.update(
            status=Status.APPROVED, approved_by=own_verified_warrant.created_by, approved_at=timezone.now()
        )

    assert Warrant.objects.get(pk=own_verified_warrant.pk).approved_by is None


def test_a_reviewer_not_assigned_to_the_case_cannot_approve_it(warrant, legal_officer, second_reviewer):
    verify_signature(warrant, actor=legal_officer)
    before = snapshot(warrant)

    with pytest.raises(PermissionDenied):
        services.warrant_approve(warrant=warrant, actor=second_reviewer)

    assert snapshot(warrant) == before


def test_an_assigned_intake_officer_without_the_reviewer_role_cannot_reject(warrant, legal_officer):
    before = snapshot(warrant)

    with pytest.raises(PermissionDenied):
        services.warrant_reject(warrant=warrant, actor=legal_officer, note="Not ours")

    assert snapshot(warrant) == before


# --- references ----------------------------------------------------------------------------------


def register_received_at(officer, agency, received_at: dt.datetime) -> Warrant:
    return services.warrant_register(
        actor=officer,
        targets=[TargetInput("UID", "target-1")],
        **warrant_fields(
            agency,
            received_at=received_at,
            period_start=received_at - dt.timedelta(days=30),
            period_end=received_at - dt.timedelta(days=1),
        ),
    )


def test_references_are_sequential_within_a_year(legal_officer, agency):
    spring = dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)

    references = [register_received_at(legal_officer, agency, spring).reference for _ in range(3)]

    assert references == ["WD-2026-000001", "WD-2026-000002", "WD-2026-000003"]


def test_each_year_has_its_own_numbering(legal_officer, agency):
    register_received_at(legal_officer, agency, dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    register_received_at(legal_officer, agency, dt.datetime(2026, 5, 1, tzinfo=dt.UTC))

    older = register_received_at(legal_officer, agency, dt.datetime(2025, 11, 1, tzinfo=dt.UTC))
    newer = register_received_at(legal_officer, agency, dt.datetime(2026, 6, 1, tzinfo=dt.UTC))

    assert (older.reference, newer.reference) == ("WD-2025-000001", "WD-2026-000003")


def test_the_reference_year_is_the_local_year_of_receipt(legal_officer, agency, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    new_year_in_seoul = dt.datetime(2025, 12, 31, 16, 30, tzinfo=dt.UTC)  # 01:30 on 1 January 2026 in Seoul

    warrant = register_received_at(legal_officer, agency, new_year_in_seoul)

    assert warrant.reference == "WD-2026-000001"
