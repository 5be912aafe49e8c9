"""A detached CMS signature (.p7s, DER or PEM) over the PDF bytes (``verify_detached``): the same
signer, timestamp and revocation judgement as an embedded signature; the signature covers the
whole document exactly when the document's digest matches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from asn1crypto import cms as asn1_cms
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import hashes
from pyhanko.sign.general import extract_signer_info, get_pyca_cryptography_hash
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import StandardCMSSignatureStatus

from warrantdesk.stored_text import gettext_noop

from .certificates import _info_from_asn1, _utc
from .results import DocumentFindings, Outcome, SignatureFinding, _describe_format_error, _malformed
from .revocation import _signature_revinfo
from .runtime import _quiet_pyhanko, _run
from .signer import _cms_status_kwargs, _judge_signer, _timing_reasons
from .timestamps import _signature_timestamp
from .trust import _load_anchors


def _load_cms(signature: bytes) -> asn1_cms.SignedData:
    data = bytes(signature)
    if asn1_pem.detect(data):
        _kind, _headers, data = asn1_pem.unarmor(data)
    info = asn1_cms.ContentInfo.load(data)
    if info["content_type"].native != "signed_data":
        raise ValueError(f"content type {info['content_type'].native}, not signed data")
    signed_data = info["content"]
    extract_signer_info(signed_data)  # exactly one signer
    signed_data["encap_content_info"]["content_type"].native  # noqa: B018 - parse now
    return signed_data


def verify_detached(
    content: bytes, signature: bytes, *, trust_roots: Sequence[bytes], at: dt.datetime
) -> DocumentFindings:
    """Examine a detached CMS signature (.p7s, DER or PEM) over ``content`` (the PDF bytes)."""
    anchors = _load_anchors(trust_roots)
    at = _utc(at)
    with _quiet_pyhanko():
        return _run(lambda: _verify_detached(bytes(content), bytes(signature), anchors, at))


async def _verify_detached(content: bytes, signature: bytes, anchors, at: dt.datetime) -> DocumentFindings:
    name = "detached"
    try:
        signed_data = _load_cms(signature)
    except Exception as exc:
        return DocumentFindings(
            findings=(
                _malformed(name, gettext_noop("The signature file is not a valid CMS (PKCS #7) signature."), str(exc)),
            )
        )
    try:
        signer_info = extract_signer_info(signed_data)
        # pyHanko internal: generic_cms's certificate extraction, to report the signer before validating
        signer_cert = generic_cms.extract_certs_for_validation(signed_data).signer_cert
        signer = _info_from_asn1(signer_cert)
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
        # pyHanko internal: get_pyca_cryptography_hash (not in pyhanko.sign.general.__all__), to digest the
        # content with the algorithm the signer named, as validate_detached_cms would
        digest_hash = hashes.Hash(get_pyca_cryptography_hash(algorithm))
        digest_hash.update(content)
        digest = digest_hash.finalize()
    except Exception as exc:
        return DocumentFindings(
            findings=(
                _malformed(
                    name,
                    gettext_noop("The signature file does not contain the signer's certificate or cannot be read."),
                    str(exc),
                ),
            )
        )
    base = {"signer": signer}
    revinfo = _signature_revinfo(signed_data, signer_info)
    try:
        timing = await _signature_timestamp(signer_info, anchors, at, revinfo)
        status, verdict, moment, _when_text = await _judge_signer(
            signed_data,
            digest,
            anchors,
            at,
            revinfo,
            timing,
            _cms_status_kwargs({}, timing),
            StandardCMSSignatureStatus,
        )
    except SignatureValidationError as exc:
        return DocumentFindings(findings=(_malformed(name, _describe_format_error(exc), str(exc), **base),))
    except Exception as exc:
        return DocumentFindings(
            findings=(
                _malformed(
                    name,
                    gettext_noop("The signature could not be checked: its data is not in a usable form."),
                    str(exc),
                    **base,
                ),
            )
        )
    common = {
        "name": name,
        **base,
        "signing_time": _utc(timing.claimed) if timing.claimed else None,
        "timestamp": timing.timestamp,
        "validated_at": moment,
        "covers_whole_document": bool(status.intact),
    }
    technical = "; ".join([status.summary(), *timing.technical])
    if verdict.outcome == Outcome.TAMPERED:
        reason = (
            gettext_noop(
                "The document does not match the detached signature: it was changed after it was signed, or the "
                "signature belongs to another file."
            )
            if not status.intact
            else gettext_noop(
                "The signature value does not verify against the signer's certificate: it is forged or damaged."
            )
        )
        return DocumentFindings(
            findings=(SignatureFinding(outcome=Outcome.TAMPERED, reasons=(reason,), technical=technical, **common),)
        )
    reasons = verdict.reasons + _timing_reasons(verdict, timing, moment, at, signer_cert)
    return DocumentFindings(
        findings=(
            SignatureFinding(
                outcome=verdict.outcome,
                reasons=tuple(reasons),
                technical=technical,
                revocation_info=verdict.revocation_info and verdict.outcome in (Outcome.VALID, Outcome.REVOKED),
                **common,
            ),
        )
    )
