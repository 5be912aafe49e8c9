"""The warrant workflow: every status and every allowed move, in one table.

Pure Python: no database, no requests. ``services._transition`` applies a move; this module only
says whether it exists and who may make it.

    received ──► verified ──► approved ──► exporting ──► exported ──► delivered ──► notifying ──► closed
       │  ▲          │            ▲           │
       ▼  │          ▼            └───────────┘ (export failed: back to approved, retry)
    signature_failed ──► rejected ◄── (a reviewer may refuse at any point before approval)
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

from warrantdesk.exceptions import Conflict

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


class Status(models.TextChoices):
    RECEIVED = "RECEIVED", _("Received")
    VERIFIED = "VERIFIED", _("Signature verified")
    SIGNATURE_FAILED = "SIGNATURE_FAILED", _("Signature failed")
    APPROVED = "APPROVED", _("Approved")
    REJECTED = "REJECTED", _("Rejected")
    EXPORTING = "EXPORTING", _("Exporting")
    EXPORTED = "EXPORTED", _("Exported")
    DELIVERED = "DELIVERED", _("Delivered")
    NOTIFYING = "NOTIFYING", _("Notifying users")
    CLOSED = "CLOSED", _("Closed")


# Who may make a move. SYSTEM moves are made by the application itself (signature check,
# export task, notifier) on behalf of the user who started that work, never from a button.
SYSTEM = "system"
REVIEW = "requests_app.review_warrant"


@dataclass(frozen=True)
class Rule:
    by: str
    label: "StrPromise"  # translated when shown
    note_required: bool = False
    four_eyes: bool = False  # the officer who logged the warrant may not make this move


TRANSITIONS: dict[Status, dict[Status, Rule]] = {
    Status.RECEIVED: {
        Status.VERIFIED: Rule(SYSTEM, _("Signature verified")),
        Status.SIGNATURE_FAILED: Rule(SYSTEM, _("Signature check failed")),
        Status.REJECTED: Rule(REVIEW, _("Reject"), note_required=True),
    },
    Status.SIGNATURE_FAILED: {
        Status.VERIFIED: Rule(SYSTEM, _("Signature verified on re-check")),
        Status.RECEIVED: Rule(SYSTEM, _("New document received")),
        Status.REJECTED: Rule(REVIEW, _("Reject"), note_required=True),
    },
    Status.VERIFIED: {
        Status.APPROVED: Rule(REVIEW, _("Approve"), four_eyes=True),
        Status.REJECTED: Rule(REVIEW, _("Reject"), note_required=True),
        Status.RECEIVED: Rule(SYSTEM, _("New document received")),
        Status.SIGNATURE_FAILED: Rule(SYSTEM, _("Signature failed on re-check")),
    },
    Status.APPROVED: {
        Status.EXPORTING: Rule(SYSTEM, _("Export started")),
    },
    Status.EXPORTING: {
        Status.EXPORTED: Rule(SYSTEM, _("Export finished")),
        Status.APPROVED: Rule(SYSTEM, _("Export failed")),
    },
    Status.EXPORTED: {
        Status.DELIVERED: Rule(SYSTEM, _("Delivered to the agency")),
    },
    Status.DELIVERED: {
        Status.NOTIFYING: Rule(SYSTEM, _("Notifications started")),
    },
    Status.NOTIFYING: {
        Status.CLOSED: Rule(SYSTEM, _("Closed")),
    },
    Status.REJECTED: {},
    Status.CLOSED: {},
}

TERMINAL = frozenset(status for status, moves in TRANSITIONS.items() if not moves)
# Statuses in which the agency is still waiting for us: the deadline matters.
OPEN = frozenset({Status.RECEIVED, Status.VERIFIED, Status.SIGNATURE_FAILED, Status.APPROVED, Status.EXPORTING})


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"

    def __init__(self, current: str, target: str):
        self.current, self.target = Status(current), Status(target)
        super().__init__(
            str(
                _("A warrant in status “%(current)s” cannot move to “%(target)s”.")
                % {"current": self.current.label, "target": self.target.label}
            )
        )


class FourEyesViolation(Conflict):
    code = "four_eyes"

    def __init__(self):
        super().__init__(str(_("The officer who logged this warrant cannot approve it; another reviewer must.")))


def check_transition(current: str, target: str) -> Rule:
    rule = TRANSITIONS.get(Status(current), {}).get(Status(target))
    if rule is None:
        raise TransitionNotAllowed(current, target)
    return rule


def manual_moves(current: str) -> dict[Status, Rule]:
    """Moves a person can make from a button in this status."""
    return {target: rule for target, rule in TRANSITIONS[Status(current)].items() if rule.by != SYSTEM}
