"""What the signature check returns: the technical ``Outcome`` of one signature, the finding per
signature (``SignatureFinding``) and per file (``DocumentFindings``), and the helpers that build a
MALFORMED finding. Registry verdicts (unknown signer, not a chief, another agency) are not here:
``requests_app.verification`` adds them, as ``models.SignatureOutcome``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from warrantdesk.stored_text import gettext_noop

from .certificates import CertificateInfo


class Outcome(StrEnum):
    """The technical outcome of one signature (or of a file: UNSIGNED, MALFORMED)."""

    VALID = "VALID"
    UNSIGNED = "UNSIGNED"
    TAMPERED = "TAMPERED"  # the signed bytes changed, or the signature value does not verify
    MODIFIED = "MODIFIED"  # content added or changed after signing, or bytes outside the signed range
    UNTRUSTED = "UNTRUSTED"  # no chain to any of the agency's anchors
    EXPIRED = "EXPIRED"  # signer certificate expired or not yet valid at the validation time
    REVOKED = "REVOKED"
    MALFORMED = "MALFORMED"  # unreadable PDF, encrypted PDF, broken CMS, not CMS at all
    WEAK_ALGORITHM = "WEAK_ALGORITHM"  # a key too short or a digest too weak for ALGORITHM_POLICY


@dataclass(frozen=True)
class SignatureFinding:
    """The technical verdict on one signature."""

    name: str  # the PDF signature field name, or "detached"
    outcome: Outcome  # VALID, TAMPERED, MODIFIED, UNTRUSTED, EXPIRED, REVOKED, WEAK_ALGORITHM or MALFORMED
    reasons: tuple[str, ...] = ()  # plain-language sentences, most important first
    signer: CertificateInfo | None = None
    signing_time: dt.datetime | None = None  # claimed by the signer: shown, never trusted
    timestamp: dt.datetime | None = None  # time of a valid, trusted timestamp token
    validated_at: dt.datetime | None = None  # the moment the certificate was judged at
    covers_whole_document: bool = False
    revocation_info: bool = False  # revocation data was embedded and used
    technical: str = ""  # pyHanko's summary and error messages, for logs and the audit trail


@dataclass(frozen=True)
class DocumentFindings:
    findings: tuple[SignatureFinding, ...] = ()
    error: str = ""  # why the file itself could not be examined (then outcome MALFORMED)
    details: dict = field(default_factory=dict)

    @property
    def unsigned(self) -> bool:
        return not self.error and not self.findings

    @property
    def outcome(self) -> Outcome:
        """The technical outcome of the whole file: MALFORMED, UNSIGNED, VALID (every signature
        valid) or the outcome of the first signature that is not valid. Registry verdicts
        (UNKNOWN_SIGNER, NOT_CHIEF, OTHER_AGENCY) are for ``requests_app.verification`` to add."""
        if self.error:
            return Outcome.MALFORMED
        if not self.findings:
            return Outcome.UNSIGNED
        for finding in self.findings:
            if finding.outcome != Outcome.VALID:
                return finding.outcome
        return Outcome.VALID


def _short(text: object, limit: int = 300) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _malformed(name: str, reason: str, technical: object = "", **extra) -> SignatureFinding:
    return SignatureFinding(
        name=name, outcome=Outcome.MALFORMED, reasons=(reason,), technical=_short(technical), **extra
    )


def _describe_format_error(exc: Exception) -> str:
    message = str(exc)
    if "encapsulated data" in message:
        return gettext_noop(
            "The signature data is malformed: it carries its own copy of the signed content instead of "
            "signing the document it belongs to."
        )
    return gettext_noop("The signature data is malformed and cannot be checked.")
