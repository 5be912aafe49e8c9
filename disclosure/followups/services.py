"""Follow-up de-anonymisation: a separate, signed request naming pseudonyms; two reviewers decide
each one; only approved pseudonyms are decrypted, into an identity sheet packaged like an export.

Identities never appear in an audit entry, a log line or a stored row of the request: tokens are
decrypted when needed and only the resulting Disclosure rows (account, "revealed") are kept.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from requests_app import services as intake
from requests_app.dates import receipt_errors
from requests_app.models import Document, FollowUpDecision, FollowUpRequest, FollowUpToken, SignatureOutcome, Warrant
from requests_app.permissions import can, can_recheck_signature
from requests_app.workflow import Status
from warrantdesk import keystore
from warrantdesk.audit import audit_record
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction

from .. import keys, pseudonyms
from ..models import Account, CaseKey, Disclosure
from ..scope import warrant_scope
from ..tasks import run_identity_sheet

REVEALABLE_STATUSES = {Status.DELIVERED, Status.NOTIFYING, Status.CLOSED}


@dataclass(frozen=True)
class TokenInput:
    token: str
    justification: str


def _require(actor: User, permission: str, warrant: Warrant) -> None:
    if not can(actor, permission, warrant):
        raise PermissionDenied(_("You do not have permission to do this."))


def token_account(warrant: Warrant, token: str):
    """The account behind ``token`` and "" — or None and why it cannot be opened: FOREIGN (the key id
    of another warrant), ALTERED (this warrant's key id, but the code is not canonical or does not
    decrypt), KEY_DESTROYED, or UNKNOWN (no warrant has that key id, or it is no pseudonym at all)."""

    record = CaseKey.objects.filter(warrant=warrant).first()
    if record is not None and record.destroyed_at is not None:
        return None, FollowUpToken.Validity.KEY_DESTROYED
    try:
        uid = pseudonyms.reidentify(token, scope=warrant.reference, keys=keys.case_keys(warrant))
    except pseudonyms.InvalidPseudonym as refusal:
        if record is not None and refusal.key_id == record.key_id:
            return None, FollowUpToken.Validity.ALTERED
        if refusal.key_id and CaseKey.objects.filter(key_id=refusal.key_id).exclude(warrant=warrant).exists():
            return None, FollowUpToken.Validity.FOREIGN
        return None, FollowUpToken.Validity.UNKNOWN
    return Account.objects.filter(uid=uid).first(), ""


def validate_token(warrant: Warrant, token: str) -> tuple[str, str]:
    """(validity, reason) of one requested pseudonym; the identity never leaves this function."""

    reasons = {
        FollowUpToken.Validity.FOREIGN: _("It was made with another warrant's key: it belongs to another warrant."),
        FollowUpToken.Validity.UNKNOWN: _(
            "No warrant has a key with this id: it is not one of our pseudonyms (made up or mistyped)."
        ),
        FollowUpToken.Validity.ALTERED: _(
            "It names this warrant's key but does not open: it was altered, shortened or mistyped."
        ),
        FollowUpToken.Validity.NOT_DISCLOSED: _("It did not appear in any export delivered for this warrant."),
        FollowUpToken.Validity.TARGET: _("It is a target, already disclosed in clear."),
    }
    account, failure = token_account(warrant, token)
    if failure == FollowUpToken.Validity.KEY_DESTROYED:
        destroyed_at = keys.warrant_keys_destroyed_at(warrant) or timezone.now()
        reason = _("Irreversible: this warrant's key was destroyed on %(date)s; no pseudonym of it can be reversed.")
        return failure, reason % {"date": f"{destroyed_at:%Y-%m-%d}"}  # as KeyDestroyed says it (UTC)
    if failure:
        return failure, str(reasons[failure])
    delivered = Disclosure.objects.filter(
        export__warrant=warrant, export__deliveries__isnull=False, account=account
    ).values_list("role", flat=True)
    roles = set(delivered)
    if account is None or not roles:
        return FollowUpToken.Validity.NOT_DISCLOSED, str(reasons[FollowUpToken.Validity.NOT_DISCLOSED])
    if roles == {Disclosure.Role.TARGET}:
        return FollowUpToken.Validity.TARGET, str(reasons[FollowUpToken.Validity.TARGET])
    return FollowUpToken.Validity.VALID, ""


def followup_register(
    *,
    warrant: Warrant,
    actor: User,
    tokens: Iterable[TokenInput],
    upload: UploadedFile,
    received_at: dt.datetime,
    deadline: dt.datetime,
    signature_upload: UploadedFile | None = None,
) -> FollowUpRequest:
    """Log a follow-up request with its signed document. Each token is validated at once, on its own:
    a bad token gets its reason and is refused, the others go on to review."""

    _require(actor, "requests_app.add_document", warrant)
    if (destroyed_at := keys.warrant_keys_destroyed_at(warrant)) is not None:
        # Crypto-shredded: no pseudonym can be reversed, and no document stored under its keys (410).
        raise keys.KeyDestroyed(keystore.warrant_pseudonyms_key(warrant.reference), destroyed_at)
    tokens = [TokenInput(t.token.strip(), t.justification.strip()) for t in tokens if t.token.strip()]
    if not tokens:
        raise DomainError(_("Name at least one pseudonym."), code="no_tokens")
    if len(tokens) > settings.WARRANTDESK_FOLLOWUP_MAX_TOKENS:
        raise DomainError(
            _("A follow-up request may name at most %(cap)d pseudonyms; this one names %(count)d.")
            % {"cap": settings.WARRANTDESK_FOLLOWUP_MAX_TOKENS, "count": len(tokens)},
            code="too_many_tokens",
        )
    duplicates = [token for token, n in Counter(t.token for t in tokens).items() if n > 1]
    if duplicates:
        raise DomainError(_("A pseudonym is named twice: %(token)s") % {"token": duplicates[0]}, code="duplicate")
    if missing := [t.token for t in tokens if not t.justification]:
        raise DomainError(
            _("Each pseudonym needs its own justification; missing for %(token)s.") % {"token": missing[0]},
            code="justification_required",
        )
    if warrant.status not in REVEALABLE_STATUSES:
        raise Conflict(_("Follow-up requests are possible only after the export was delivered."), code="not_delivered")
    if errors := receipt_errors(received_at=received_at, deadline=deadline, what="request"):
        raise DomainError(" ".join(errors.values()), code="bad_dates")
    staged = intake.upload_stage(upload, signature_upload, actor=actor, warrant=warrant)
    try:
        return _followup_create(
            warrant=warrant, actor=actor, tokens=tokens, staged=staged, received_at=received_at, deadline=deadline
        )
    except BaseException:
        staged.discard()
        raise


@transaction.atomic(durable=True)
def _followup_create(*, warrant, actor: User, tokens, staged, received_at, deadline) -> FollowUpRequest:

    warrant = Warrant.objects.select_for_update().get(pk=warrant.pk)
    document = intake.document_create(warrant=warrant, staged=staged, actor=actor, kind=Document.Kind.FOLLOW_UP)
    number = warrant.follow_ups.count() + 1
    request = FollowUpRequest.objects.create(
        warrant=warrant,
        reference=f"{warrant.reference}-F{number}",
        document=document,
        received_at=received_at,
        deadline=deadline,
        created_by=actor,
    )
    rows = []
    for position, item in enumerate(tokens, start=1):
        with translation.override("en"):  # stored in English, shown in the reader's language
            validity, reason = validate_token(warrant, item.token)
        rows.append(
            FollowUpToken(
                request=request,
                position=position,
                token=item.token,
                justification=item.justification,
                validity=validity,
                validity_reason=reason,
                decision=FollowUpToken.Decision.PENDING
                if validity == FollowUpToken.Validity.VALID
                else FollowUpToken.Decision.REFUSED,
            )
        )
    FollowUpToken.objects.bulk_create(rows)
    audit_record(
        action=AuditAction.FOLLOWUP_CREATED,
        actor=actor,
        warrant=warrant,
        obj=request,
        details={
            "reference": request.reference,
            "tokens": len(rows),
            "invalid": {
                row.validity: sum(1 for r in rows if r.validity == row.validity) for row in rows if not row.is_valid
            },
        },
    )
    return request


def on_signature_checked(sender, *, document: Document, outcome: str, **kwargs) -> None:
    """Receiver of ``requests_app.signals.signature_checked``, in the check's transaction: a follow-up
    request whose document was checked goes to review, or fails."""
    if document.kind != Document.Kind.FOLLOW_UP:
        return
    request = FollowUpRequest.objects.select_for_update().filter(document=document).first()
    if request is None or request.status not in {
        FollowUpRequest.Status.RECEIVED,
        FollowUpRequest.Status.SIGNATURE_FAILED,
    }:
        return
    request.status = (
        FollowUpRequest.Status.IN_REVIEW
        if outcome == SignatureOutcome.VALID
        else FollowUpRequest.Status.SIGNATURE_FAILED
    )
    request.save(update_fields=["status"])


RECHECKABLE = (FollowUpRequest.Status.RECEIVED, FollowUpRequest.Status.SIGNATURE_FAILED)


def followup_recheck_signature(*, request: FollowUpRequest, actor: User) -> FollowUpRequest:
    """Check the request's signature again with the registry as it is now (an investigator registered
    or made chief since): a valid verdict sends a failed request to review. The check takes
    milliseconds, so it runs here rather than in the background; earlier verdicts are kept."""

    warrant = request.warrant
    if not can_recheck_signature(actor, warrant):
        raise PermissionDenied(_("You do not have permission to do this."))
    if request.document is None:
        raise Conflict(_("No request document has been uploaded."), code="no_document")
    if request.status not in RECHECKABLE:
        raise Conflict(
            _("The signature was already found valid; this request is %(status)s.")
            % {"status": request.get_status_display()},
            code="not_recheckable",
        )
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.SIGNATURE_RECHECK_REQUESTED,
            actor=actor,
            warrant=warrant,
            obj=request.document,
            details={"follow_up": request.reference},
        )
    intake.document_check_signature(document=request.document, actor=actor)
    request.refresh_from_db()
    return request


def followup_signature_gate(request: FollowUpRequest) -> str:

    check = intake.latest_signature_check(request.document)
    if check is None:
        return str(_("The signature of the request has not been checked yet."))
    if not check.is_valid:
        return str(
            _("The request has no valid chief-investigator signature: %(outcome)s.")
            % {"outcome": check.get_outcome_display()}
        )
    return ""


def followup_log_refusal(user, warrant: Warrant) -> str:
    """Why ``user`` may not log a follow-up request on ``warrant`` ("" when they may): the warrant's
    export must have been delivered, and the user must be an intake officer assigned to the case.
    The form, the warrant page's panel and the demo's sample request (demo.views) ask it."""
    if warrant.status not in REVEALABLE_STATUSES:
        return _("Follow-up requests are possible only after the export was delivered.")
    if not can(user, "requests_app.add_document", warrant):
        return _("Only an intake officer assigned to this case can log a follow-up request.")
    return ""


def reviewer_refusal(request: FollowUpRequest, reviewer: User) -> str:
    """Why ``reviewer`` may not decide on this request ("" when they may)."""
    if not can(reviewer, "requests_app.review_warrant", request.warrant):
        return str(_("Only a reviewer assigned to this warrant can decide."))
    if reviewer.pk == request.created_by_id:
        return str(_("You logged this request; two other reviewers must decide."))
    if reason := followup_signature_gate(request):
        return reason
    if request.status != FollowUpRequest.Status.IN_REVIEW:
        return str(_("This request is not in review."))
    if FollowUpDecision.objects.filter(token__request=request, reviewer=reviewer).exists():
        return str(_("You have already decided on this request; a second reviewer must decide too."))
    return ""


def followup_decide(
    *, request: FollowUpRequest, reviewer: User, decisions: dict[int, tuple[bool, str]]
) -> FollowUpRequest:
    """Record one reviewer's decision on every valid token. A token is approved when two different
    reviewers approve it, refused as soon as one refuses it (with a reason)."""
    with transaction.atomic(durable=True):
        request = FollowUpRequest.objects.select_for_update().select_related("warrant").get(pk=request.pk)
        if refusal := reviewer_refusal(request, reviewer):
            raise Conflict(refusal, code="not_allowed")
        pending = list(request.tokens.filter(decision=FollowUpToken.Decision.PENDING))
        if set(decisions) != {token.pk for token in pending}:
            raise DomainError(_("Decide on every pseudonym still pending, and on nothing else."), code="incomplete")
        for token in pending:
            approve, reason = decisions[token.pk]
            if not approve and not reason.strip():
                raise DomainError(_("Give a reason for every refusal."), code="reason_required")
            FollowUpDecision.objects.create(token=token, reviewer=reviewer, approve=approve, reason=reason.strip())
            if not approve:
                token.decision = FollowUpToken.Decision.REFUSED
            elif token.decisions.filter(approve=True).count() >= 2:
                token.decision = FollowUpToken.Decision.APPROVED
            token.save(update_fields=["decision"])
        audit_record(
            action=AuditAction.FOLLOWUP_DECISION,
            actor=reviewer,
            warrant=request.warrant,
            obj=request,
            details={
                "approved": sum(1 for approve, _reason in decisions.values() if approve),
                "refused": sum(1 for approve, _reason in decisions.values() if not approve),
            },
        )
        if not request.tokens.filter(decision=FollowUpToken.Decision.PENDING).exists():
            approved = request.tokens.filter(decision=FollowUpToken.Decision.APPROVED).count()
            request.status = FollowUpRequest.Status.DECIDED if approved else FollowUpRequest.Status.REFUSED
            request.decided_at = timezone.now()
            request.save(update_fields=["status", "decided_at"])
            audit_record(
                action=AuditAction.FOLLOWUP_DECIDED,
                actor=reviewer,
                warrant=request.warrant,
                obj=request,
                details={"approved": approved, "refused": request.tokens.count() - approved},
            )
            if approved:
                transaction.on_commit(lambda: _enqueue_sheet(request.pk, reviewer.pk))
    return request


def _enqueue_sheet(request_id: int, actor_id: int) -> None:

    run_identity_sheet.enqueue(request_id, actor_id)


def fishing_warnings(request: FollowUpRequest) -> list[str]:
    """Warnings for reviewers: many pseudonyms at once, or a large share of one room's people."""

    warnings = []
    tokens = list(request.tokens.all())
    if len(tokens) > settings.WARRANTDESK_FOLLOWUP_WARN_TOKENS:
        warnings.append(
            str(
                _("The request names %(count)d pseudonyms (more than %(limit)d): check it is not a fishing request.")
                % {"count": len(tokens), "limit": settings.WARRANTDESK_FOLLOWUP_WARN_TOKENS}
            )
        )
    accounts = {
        account.pk
        for token in tokens
        if token.is_valid
        for account in [token_account(request.warrant, token.token)[0]]
        if account
    }
    if not accounts:
        return warnings
    scope = warrant_scope(request.warrant)
    for index, room in enumerate(scope.rooms, start=1):
        others = room.participants - set(scope.target_accounts)
        asked = accounts & others
        if others and len(asked) / len(others) > settings.WARRANTDESK_FOLLOWUP_WARN_SHARE:
            warnings.append(
                str(
                    _(
                        "It asks for %(asked)d of the %(total)d pseudonymised people of room %(room)s "
                        "(over %(share)d%%)."
                    )
                    % {
                        "asked": len(asked),
                        "total": len(others),
                        "room": index,
                        "share": round(settings.WARRANTDESK_FOLLOWUP_WARN_SHARE * 100),
                    }
                )
            )
    return warnings
