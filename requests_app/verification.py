"""From the cryptographic findings to the legal verdict: is this a chief investigator's signature?

``signatures`` says whether each signature is technically sound; this module matches the signer
against the registry of the issuing agency. It only reads. ``services.document_check_signature``
stores the verdict and moves the warrant; ``manage.py verify_document`` prints it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from warrantdesk.stored_text import english, gettext_noop, template

from . import signatures
from .dates import signature_warnings, warning_message
from .models import Agency, Investigator, SignatureOutcome
from .registry import agency_anchor_certificates

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

# When no signature is valid, report the one closest to being acceptable.
_CLOSEST_FIRST = [
    SignatureOutcome.NOT_CHIEF,
    SignatureOutcome.OTHER_AGENCY,
    SignatureOutcome.UNKNOWN_SIGNER,
    SignatureOutcome.REVOKED,
    SignatureOutcome.EXPIRED,
    SignatureOutcome.WEAK_ALGORITHM,
    SignatureOutcome.UNTRUSTED,
    SignatureOutcome.MODIFIED,
    SignatureOutcome.TAMPERED,
    SignatureOutcome.MALFORMED,
]

# Keyed by outcome; a SignatureCheck's ``outcome`` column (a plain str) finds its entry too.
EXPLANATIONS: dict[str, StrPromise] = {
    SignatureOutcome.VALID: _(
        "The document carries an intact signature of a registered chief investigator of the issuing agency, "
        "covering the whole document."
    ),
    SignatureOutcome.UNSIGNED: _("The document carries no digital signature. Ask the agency for a signed copy."),
    SignatureOutcome.TAMPERED: _(
        "The signature does not match the document: the signed content was altered, or the signature is invalid."
    ),
    SignatureOutcome.MODIFIED: _(
        "Content was added or changed after signing, or part of the file is not covered by the signature."
    ),
    SignatureOutcome.UNTRUSTED: _("The signer's certificate does not lead to any trusted CA of the issuing agency."),
    SignatureOutcome.EXPIRED: _(
        "The signer's certificate was not valid (expired or not yet valid) when the warrant was received."
    ),
    SignatureOutcome.REVOKED: _("The signer's certificate has been revoked by its CA."),
    SignatureOutcome.WEAK_ALGORITHM: _(
        "The signature uses a key or an algorithm too weak for the signature policy (for example an RSA key "
        "shorter than 2048 bits). Ask the agency to sign again with a stronger key."
    ),
    SignatureOutcome.UNKNOWN_SIGNER: _("The signer is not a registered, active investigator of the issuing agency."),
    SignatureOutcome.NOT_CHIEF: _("The signer is a registered investigator but not a chief investigator."),
    SignatureOutcome.OTHER_AGENCY: _(
        "The signer is registered with another agency, not the one that issued this warrant."
    ),
    SignatureOutcome.MALFORMED: _("The signature or the PDF could not be read."),
    SignatureOutcome.PENDING: _("The signature is being checked."),
}


# Reasons are stored in English and shown in the reader's language (``warrantdesk.stored_text``).
OTHER_AGENCY_REASON = template(gettext_noop("The signer, %(name)s, is registered with %(agency)s."))
NOT_IN_REGISTRY = gettext_noop("The signing certificate is not in the registry.")
NO_LONGER_ACTIVE = template(gettext_noop("%(name)s is registered but no longer active."))
NOT_A_CHIEF = template(gettext_noop("%(name)s (%(title)s) is not a chief investigator."))
SIGNED_BY = template(gettext_noop("Signed by %(name)s, %(title)s."))
NO_ANCHORS = gettext_noop("The agency has no trust anchors registered.")
# With several signatures: the reason of one of them, or the outcome label of another.
OF_SIGNATURE = template(gettext_noop("Signature “%(signature)s”: %(reason)s"), texts={"reason"})


@dataclass
class Verdict:
    outcome: SignatureOutcome
    reasons: list[str]
    finding: signatures.SignatureFinding | None = None
    investigator: Investigator | None = None
    findings: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)  # see dates.signature_warnings

    @property
    def is_valid(self) -> bool:
        return self.outcome == SignatureOutcome.VALID

    def as_dict(self) -> dict:
        finding = self.finding
        signer = finding.signer if finding else None
        return {
            "outcome": self.outcome.value,
            "explanation": str(EXPLANATIONS[self.outcome]),
            "reasons": self.reasons,
            "signer_subject": signer.subject if signer else "",
            "signer_fingerprint": signer.fingerprint if signer else "",
            "signing_time": finding.signing_time.isoformat() if finding and finding.signing_time else None,
            "timestamp": finding.timestamp.isoformat() if finding and finding.timestamp else None,
            "validated_at": finding.validated_at.isoformat() if finding and finding.validated_at else None,
            "investigator": self.investigator.name if self.investigator else None,
            "signatures": self.findings,
            "warnings": [{**warning, "message": warning_message(warning)} for warning in self.warnings],
        }


def _registry_outcome(
    finding: signatures.SignatureFinding, agency: Agency, by_fingerprint: dict[str, Investigator]
) -> tuple[SignatureOutcome, str, Investigator | None]:
    """The legal verdict on one signature given its technical one."""
    technical = SignatureOutcome(finding.outcome.value)
    investigator = by_fingerprint.get(finding.signer.fingerprint) if finding.signer else None
    if (
        investigator is not None
        and investigator.agency_id != agency.pk
        and technical
        in {
            SignatureOutcome.VALID,
            SignatureOutcome.UNTRUSTED,
        }
    ):
        return (
            SignatureOutcome.OTHER_AGENCY,
            OTHER_AGENCY_REASON % {"name": investigator.name, "agency": investigator.agency.name},
            None,
        )
    if technical != SignatureOutcome.VALID:
        return technical, "", None
    if investigator is None:
        return SignatureOutcome.UNKNOWN_SIGNER, NOT_IN_REGISTRY, None
    if not investigator.active:
        return (
            SignatureOutcome.UNKNOWN_SIGNER,
            NO_LONGER_ACTIVE % {"name": investigator.name},
            None,
        )
    if not investigator.is_chief:
        return (
            SignatureOutcome.NOT_CHIEF,
            NOT_A_CHIEF % {"name": investigator.name, "title": investigator.title or "-"},
            investigator,
        )
    return (
        SignatureOutcome.VALID,
        SIGNED_BY % {"name": investigator.name, "title": investigator.title or "-"},
        investigator,
    )


def judge_findings(found: signatures.DocumentFindings, *, agency: Agency) -> Verdict:
    if found.error:
        return Verdict(SignatureOutcome.MALFORMED, [found.error])
    if found.unsigned:
        return Verdict(SignatureOutcome.UNSIGNED, [english(EXPLANATIONS[SignatureOutcome.UNSIGNED])])
    fingerprints = [f.signer.fingerprint for f in found.findings if f.signer]
    by_fingerprint = {
        inv.certificate_sha256: inv
        for inv in Investigator.objects.select_related("agency").filter(certificate_sha256__in=fingerprints)
    }
    judged = []
    for finding in found.findings:
        outcome, note, investigator = _registry_outcome(finding, agency, by_fingerprint)
        reasons = [note, *finding.reasons] if note else list(finding.reasons)
        judged.append((outcome, reasons, finding, investigator))
    several = len(judged) > 1
    records = [
        {
            "name": finding.name,
            "outcome": outcome.value,
            "reasons": reasons,
            "signer_subject": finding.signer.subject if finding.signer else "",
            "signer_fingerprint": finding.signer.fingerprint if finding.signer else "",
            "covers_whole_document": finding.covers_whole_document,
            "revocation_info": finding.revocation_info,
        }
        for outcome, reasons, finding, _investigator in judged
    ]
    rank = {outcome: index for index, outcome in enumerate([SignatureOutcome.VALID, *_CLOSEST_FIRST])}
    outcome, reasons, finding, investigator = min(judged, key=lambda item: rank.get(item[0], len(rank)))
    if several:
        reasons = [OF_SIGNATURE % {"signature": finding.name, "reason": reason} for reason in reasons]
        others = [r for r in records if r["name"] != finding.name]
        reasons += [
            OF_SIGNATURE % {"signature": r["name"], "reason": english(SignatureOutcome(r["outcome"]).label)}
            for r in others
        ]
    return Verdict(outcome, reasons, finding, investigator, records)


def judge_document(pdf: bytes, *, agency: Agency, at: dt.datetime, detached_signature: bytes | None = None) -> Verdict:
    """Verify ``pdf`` (or ``detached_signature`` over it) against the agency's anchors and registry.

    ``at`` is the document's receipt time: signatures claiming to be made after it are warned about."""
    anchors = agency_anchor_certificates(agency)
    if detached_signature:
        found = signatures.verify_detached(pdf, detached_signature, trust_roots=anchors, at=at)
    else:
        found = signatures.verify_pdf(pdf, trust_roots=anchors, at=at)
    verdict = judge_findings(found, agency=agency)
    if not anchors and not found.error and not found.unsigned:
        verdict.reasons.insert(0, NO_ANCHORS)
    verdict.warnings = signature_warnings(found.findings, received_at=at)
    return verdict
