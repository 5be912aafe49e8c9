"""The signature timestamp: which token, if any, is trusted (validated at the receipt time against
the agency's anchors), which moment the signer is then judged at, and what the signer claims
(signingTime, reported but never relied on)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import cms as asn1_cms
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator.policy_decl import NO_REVOCATION

from warrantdesk.stored_text import gettext_noop

from .certificates import _utc
from .revocation import _MAYBE_REVINFO_PROBLEMS, _SOFT_REVOCATION, _Revinfo
from .trust import _context


@dataclass
class _Timing:
    claimed: dt.datetime | None = None
    timestamp: dt.datetime | None = None  # a trusted signature timestamp
    status: TimestampSignatureStatus | None = None
    notes: list[str] = field(default_factory=list)
    technical: list[str] = field(default_factory=list)


async def _signature_timestamp(
    signer_info: asn1_cms.SignerInfo, anchors, at: dt.datetime, revinfo: _Revinfo
) -> _Timing:
    """Validate the signature timestamp token(s), at ``at``; the first trusted one wins."""
    timing = _Timing()
    try:
        # pyHanko internal: generic_cms.extract_self_reported_ts, the signingTime attribute
        timing.claimed = generic_cms.extract_self_reported_ts(signer_info)
    except Exception:  # a broken signingTime attribute is only a claim: ignore it
        timing.claimed = None
    try:
        # pyHanko internal: generic_cms.extract_tst_data_iter (not in its __all__), the signature
        # timestamp tokens, so that each is validated at ``at`` and the trusted one sets the moment
        tokens = list(generic_cms.extract_tst_data_iter(signer_info, signed=False))
    except Exception as exc:
        timing.notes.append(
            gettext_noop("The signature carries a timestamp that could not be read; it was not relied on.")
        )
        timing.technical.append(f"timestamp unreadable: {exc}")
        return timing
    for token in tokens:
        try:
            status = await _validate_timestamp(token, signer_info, anchors, at, revinfo, _SOFT_REVOCATION)
            if revinfo and not status.trusted and status.trust_problem_indic in _MAYBE_REVINFO_PROBLEMS:
                # the embedded revocation data may be what failed (out of date at ``at``): as for
                # the signer, unusable revocation data counts as none
                retry = await _validate_timestamp(token, signer_info, anchors, at, revinfo, NO_REVOCATION)
                if retry.trusted:
                    timing.technical.append("timestamp: embedded revocation data unusable, not checked")
                    status = retry
        except Exception as exc:
            timing.technical.append(f"timestamp invalid: {exc}")
            continue
        timing.status = status
        timing.technical.append(f"TIMESTAMP_TOKEN<{status.summary(delimiter='|')}>")
        if status.intact and status.valid and status.trusted:
            timing.timestamp = _utc(status.timestamp)
            return timing
    if tokens:
        timing.notes.append(
            gettext_noop(
                "The signature carries a timestamp that could not be verified against the agency's "
                "certificates; it was not relied on."
            )
        )
    return timing


async def _validate_timestamp(token, signer_info, anchors, at, revinfo, policy) -> TimestampSignatureStatus:
    # pyHanko internal: generic_cms.validate_tst_signed_data with message_imprint_checker (not in its
    # __all__), the timestamp piece of pyHanko's pipeline, under our context; returns status kwargs.
    kwargs = await generic_cms.validate_tst_signed_data(
        token,
        _context(anchors, at, revinfo, policy),
        generic_cms.message_imprint_checker(signer_info),
    )
    return TimestampSignatureStatus(**kwargs)
