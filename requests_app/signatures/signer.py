"""The signer of one CMS signature, shared by the PDF and the detached check: pyHanko's integrity
and trust validation at the right moment with the right revocation policy, and the mapping of its
verdict to TAMPERED / REVOKED / EXPIRED / WEAK_ALGORITHM / UNTRUSTED / VALID with reasons."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.general import extract_signer_info
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.status import StandardCMSSignatureStatus
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, RevocationCheckingPolicy

from warrantdesk.stored_text import gettext_noop

from .reasons import (
    AN_AUTHORITY_ABOVE,
    AT_POINT,
    AT_RECEIPT,
    AT_TIMESTAMP,
    CLAIMED_SIGNING_TIME,
    NO_REVOCATION_DATA,
    REVOCATION_DATA_NOT_FOR_SIGNER,
    REVOCATION_DATA_UNUSABLE,
    REVOKED_BEFORE,
    THE_AUTHORITY,
    THE_SIGNERS_CERTIFICATE,
    TIMESTAMP_SHOWS,
    WEAK_ALGORITHM_FALLBACK,
    _revoked_on,
    _when,
)
from .results import Outcome
from .revocation import _CHECK_SIGNER_REVOCATION, _MAYBE_REVINFO_PROBLEMS, _SOFT_REVOCATION, _own_crl_check, _Revinfo
from .timestamps import _Timing
from .trust import _SIGNING_KEY_USAGE, _algorithm_problem, _context, _key_usage_allows_signing, _validity_problem


def _cms_status_kwargs(status_kwargs: dict, timing: _Timing) -> dict:
    # pyHanko internal: the keyword arguments of pyHanko's status classes (signer_reported_dt,
    # timestamp_validity), set as pyHanko's own pipeline sets them.
    kwargs = dict(status_kwargs)
    if timing.claimed is not None:
        kwargs["signer_reported_dt"] = timing.claimed
    if timing.status is not None:
        kwargs["timestamp_validity"] = timing.status
    return kwargs


async def _validate_signer(
    signed_data: asn1_cms.SignedData,
    digest: bytes,
    anchors,
    moment: dt.datetime,
    revinfo: _Revinfo,
    policy: RevocationCheckingPolicy,
    status_kwargs: dict,
) -> dict:
    """pyHanko's CMS check (integrity, then trust at ``moment``); returns the status keyword arguments."""
    # pyHanko internal: generic_cms.cms_basic_validation, one piece of validate_pdf_signature /
    # validate_detached_cms, so that the signer is validated at our moment with our revocation policy;
    # it returns status keyword arguments, not a status.
    return await generic_cms.cms_basic_validation(
        signed_data,
        raw_digest=digest,
        validation_context=_context(anchors, moment, revinfo, policy),
        status_kwargs=dict(status_kwargs),
        key_usage_settings=_SIGNING_KEY_USAGE,
    )


@dataclass
class _Verdict:
    outcome: Outcome
    reasons: list[str]
    revocation_info: bool


def _judge_trust(
    status: StandardCMSSignatureStatus,
    moment: dt.datetime,
    point: str,
    *,
    revinfo_used: bool,
    signer_info: asn1_cms.SignerInfo | None = None,
) -> _Verdict:
    """Map pyHanko's trust verdict to UNTRUSTED / REVOKED / EXPIRED (or VALID).

    ``point`` names the validation moment in words, e.g. "the warrant's receipt time (...)".
    """
    when = AT_POINT % {"point": point}
    cert: asn1_x509.Certificate = status.signing_cert
    problem = status.trust_problem_indic
    if status.trusted and problem is None:
        return _Verdict(Outcome.VALID, [], revinfo_used)

    if problem == AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND:
        return _Verdict(
            Outcome.UNTRUSTED,
            [
                gettext_noop(
                    "The signer's certificate does not lead to any of the issuing agency's registered certificates."
                )
            ],
            False,
        )

    details = status.revocation_details
    if problem in (AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE) or details is not None:
        who = AN_AUTHORITY_ABOVE if details and details.ca_revoked else THE_SIGNERS_CERTIFICATE
        if details is not None:
            reason = str(details.revocation_reason.native or "") if details.revocation_reason is not None else ""
            sentence = _revoked_on(who, details.revocation_date, reason, point)
        else:
            sentence = REVOKED_BEFORE % {"who": who, "point": point}
        return _Verdict(Outcome.REVOKED, [sentence], True)

    # Validity windows, checked on the certificates themselves: the signer's, then the CA path's.
    expired = _validity_problem(cert, moment, when, who=THE_SIGNERS_CERTIFICATE)
    if expired is None and status.validation_path is not None:
        for ca_cert in status.validation_path.iter_certs(include_root=True):
            if isinstance(ca_cert, asn1_x509.Certificate) and ca_cert.dump() != cert.dump():
                expired = _validity_problem(
                    ca_cert,
                    moment,
                    when,
                    who=THE_AUTHORITY % {"subject": ca_cert.subject.human_friendly},
                )
                if expired:
                    break
    if expired is not None:
        return _Verdict(Outcome.EXPIRED, [expired], False)

    if problem == AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE and not _key_usage_allows_signing(cert):
        return _Verdict(
            Outcome.UNTRUSTED,
            [
                gettext_noop(
                    "The signer's certificate is not allowed to be used for signing: its key usage includes "
                    "neither digital signature nor non-repudiation."
                )
            ],
            False,
        )
    if problem in (
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    ):
        reason = _algorithm_problem(status, signer_info, moment)
        return _Verdict(Outcome.WEAK_ALGORITHM, [reason or WEAK_ALGORITHM_FALLBACK], False)
    return _Verdict(
        Outcome.UNTRUSTED,
        [
            gettext_noop(
                "The signer's certificate chain could not be validated against the issuing agency's certificates."
            )
        ],
        False,
    )


async def _judge_signer(
    signed_data: asn1_cms.SignedData,
    digest: bytes,
    anchors,
    at: dt.datetime,
    revinfo: _Revinfo,
    timing: _Timing,
    base_kwargs: dict,
    status_cls,
) -> tuple[Any, _Verdict, dt.datetime, str]:
    """Validate the signer at the right moment, with the right revocation policy; judge the result."""
    moment = timing.timestamp or at
    point = (AT_TIMESTAMP if timing.timestamp else AT_RECEIPT) % {"date": _when(moment)}
    when = AT_POINT % {"point": point}
    signer_cert = _signer_cert(signed_data)
    if not revinfo:
        policy, note = _SOFT_REVOCATION, NO_REVOCATION_DATA
    elif signer_cert is not None and revinfo.concerns(signer_cert):
        policy, note = _CHECK_SIGNER_REVOCATION, ""
    else:
        policy, note = _SOFT_REVOCATION, REVOCATION_DATA_NOT_FOR_SIGNER
    kwargs = await _validate_signer(signed_data, digest, anchors, moment, revinfo, policy, base_kwargs)
    status = status_cls(**kwargs)  # pyHanko internal: a status built from pyHanko's keyword arguments
    if not (status.intact and status.valid):
        return status, _Verdict(Outcome.TAMPERED, [], False), moment, when
    signer_info = extract_signer_info(signed_data)
    verdict = _judge_trust(
        status, moment, point, revinfo_used=policy is _CHECK_SIGNER_REVOCATION, signer_info=signer_info
    )
    if revinfo and verdict.outcome == Outcome.UNTRUSTED and status.trust_problem_indic in _MAYBE_REVINFO_PROBLEMS:
        # Perhaps only the embedded revocation data was unusable at the moment (out of date, or its
        # issuer not verifiable): first make sure no CRL we can verify ourselves lists the
        # certificate, then judge again without revocation checking and say so.
        issuers = [*anchors.every, *revinfo.certs, *_embedded_certs(signed_data)]
        own = _own_crl_check(signer_cert, issuers, revinfo.crls, moment) if signer_cert else None
        if own is not None and own[0] == "revoked":
            _kind, date, reason = own
            sentence = _revoked_on(THE_SIGNERS_CERTIFICATE, date, reason, point)
            return status, _Verdict(Outcome.REVOKED, [sentence], True), moment, when
        retry_kwargs = await _validate_signer(signed_data, digest, anchors, moment, revinfo, NO_REVOCATION, base_kwargs)
        retry = status_cls(**retry_kwargs)  # pyHanko internal: as above
        retry_verdict = _judge_trust(retry, moment, point, revinfo_used=own is not None, signer_info=signer_info)
        if retry_verdict.outcome in (Outcome.VALID, Outcome.EXPIRED):
            status, verdict = retry, retry_verdict
            if own is None:
                note = REVOCATION_DATA_UNUSABLE % {"when": when}
    if note and verdict.outcome == Outcome.VALID:
        verdict.reasons.append(note)
    return status, verdict, moment, when


def _embedded_certs(signed_data: asn1_cms.SignedData) -> list[asn1_x509.Certificate]:
    try:
        return [choice.chosen for choice in signed_data["certificates"] if choice.name == "certificate"]
    except (ValueError, KeyError, TypeError):
        return []


def _signer_cert(signed_data: asn1_cms.SignedData) -> asn1_x509.Certificate | None:
    try:
        # pyHanko internal: generic_cms's certificate extraction, to look at the signer's certificate
        return generic_cms.extract_certs_for_validation(signed_data).signer_cert
    except Exception:
        return None


def _timing_reasons(verdict: _Verdict, timing: _Timing, moment: dt.datetime, at: dt.datetime, cert) -> list[str]:
    reasons = []
    if timing.timestamp is not None:
        reasons.append(TIMESTAMP_SHOWS % {"date": _when(timing.timestamp)})
    reasons.extend(timing.notes)
    if (
        verdict.outcome == Outcome.EXPIRED
        and timing.timestamp is None
        and timing.claimed is not None
        and cert is not None
        and cert.not_valid_before <= timing.claimed <= cert.not_valid_after
    ):
        reasons.append(CLAIMED_SIGNING_TIME % {"date": _when(timing.claimed)})
    return reasons
