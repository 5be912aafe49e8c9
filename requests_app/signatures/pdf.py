"""Signatures embedded in a PDF (``verify_pdf``): every filled signature field, checked with
pyHanko's pieces (integrity and difference analysis of later revisions once, the timestamp once,
the signer at the right moment), then whether the signature covers the whole file: harmless later
revisions (long-term-validation updates, later signatures in their own fields) are accepted; form
filling, annotations, other changes and bytes after the last %%EOF are not."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Sequence
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, report_seed_value_validation
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from warrantdesk.stored_text import gettext_noop

from .certificates import _info_from_asn1, _utc
from .reasons import FORM_FIELDS_CHANGED, UNSUPPORTED_FORMAT
from .results import DocumentFindings, Outcome, SignatureFinding, _describe_format_error, _malformed
from .revocation import _dss_revinfo, _Revinfo, _signature_revinfo
from .runtime import _quiet_pyhanko, _run
from .signer import _cms_status_kwargs, _judge_signer, _timing_reasons
from .timestamps import _signature_timestamp
from .trust import _load_anchors

logger = logging.getLogger(__name__)


def _later_signature_fields(signatures: Sequence[tuple], revision: int) -> set[str]:
    return {item[0] for item in signatures if item[2] > revision}


_EOF_TAIL = re.compile(rb"startxref\s+(\d+)\s+%%EOF[\x00\t\n\x0c\r ]*\Z")


def _tail_is_clean(data: bytes, reader: PdfFileReader) -> bool:
    """Does the file end with the startxref and %%EOF of its last revision, and nothing else?

    pyHanko accepts bytes after the last %%EOF that form no revision (it reports no modification);
    they are outside every signed range, so they must not pass.
    """
    match = _EOF_TAIL.search(data[-1024:])
    if match is None:
        return False
    # pyHanko internal: the reader's xref cache (``reader.xrefs``), to find where the last revision's
    # startxref points; the public reader exposes only ``last_startxref`` of the file as read.
    last = reader.xrefs.total_revisions - 1
    return int(match.group(1)) == reader.xrefs.get_startxref_for_revision(last)


def _judge_coverage(
    status: PdfSignatureStatus, later_signatures: set[str], *, tail_clean: bool = True
) -> tuple[bool, list[str]]:
    """(covers the whole document, reasons it does not). Harmless later revisions are accepted."""
    coverage = status.coverage
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return True, []
    if not tail_clean:
        return False, [
            gettext_noop(
                "Bytes were added at the end of the file after it was signed; they are not covered by the signature."
            )
        ]
    if coverage == SignatureCoverageLevel.UNCLEAR:
        return False, [
            gettext_noop(
                "The signature does not cover the file in the usual way (irregular signed byte range), "
                "so parts of the document are not protected by it."
            )
        ]
    if coverage == SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START:
        return False, [
            gettext_noop(
                "Part of the file is not covered by the signature: bytes outside the signed range could "
                "change what the document shows."
            )
        ]
    if coverage != SignatureCoverageLevel.ENTIRE_REVISION:
        return False, [gettext_noop("The part of the document covered by the signature could not be determined.")]
    diff = status.diff_result
    if isinstance(diff, SuspiciousModification) or diff is None:
        return False, [
            gettext_noop(
                "The document was changed after it was signed: content was added or altered in a later "
                "revision of the file."
            )
        ]
    level = diff.modification_level
    if level in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES):
        return _docmdp(status)
    if level == ModificationLevel.FORM_FILLING:
        changed = set(diff.changed_form_fields)
        if changed <= later_signatures:
            return _docmdp(status)  # later signatures were added; nothing else changed
        names = ", ".join(sorted(changed - later_signatures))
        return False, [FORM_FIELDS_CHANGED % {"names": names}]
    if level == ModificationLevel.ANNOTATIONS:
        return False, [
            gettext_noop(
                "The document was changed after it was signed: annotations (comments, markings or stamps) "
                "were added or changed."
            )
        ]
    return False, [
        gettext_noop(
            "The document was changed after it was signed: content was added or altered (for example pages or text)."
        )
    ]


def _docmdp(status: PdfSignatureStatus) -> tuple[bool, list[str]]:
    if status.docmdp_ok is False:
        return False, [
            gettext_noop(
                "The changes made after signing are not permitted by the signer's certification of the document."
            )
        ]
    return True, []


_PDF_SUBFILTERS = (SigSeedSubFilter.ADOBE_PKCS7_DETACHED, SigSeedSubFilter.PADES, SigSeedSubFilter.PBAD_PADES)


def _collect_pdf_signatures(reader: PdfFileReader):
    """Every filled signature field: (name, EmbeddedPdfSignature or the exception, signed revision, type)."""
    result = []
    for fq_name, sig_obj_ref, sig_field in enumerate_sig_fields(reader, filled_status=True):
        try:
            sig_obj = sig_obj_ref.get_object()
            sig_type = sig_obj.get("/Type", "/Sig")
            subfilter = sig_obj.get("/SubFilter", None)
        except Exception as exc:
            result.append((fq_name, exc, -1, "/Sig"))
            continue
        if sig_type == "/DocTimeStamp":
            try:
                emb = EmbeddedPdfSignature(reader, sig_field, fq_name)
                result.append((fq_name, emb, emb.signed_revision, "/DocTimeStamp"))
            except Exception:
                result.append((fq_name, None, -1, "/DocTimeStamp"))
            continue
        try:
            if SigSeedSubFilter(subfilter) not in _PDF_SUBFILTERS:
                raise ValueError(subfilter)
        except ValueError:
            result.append((fq_name, _UnsupportedFormat(str(subfilter)), -1, "/Sig"))
            continue
        try:
            emb = EmbeddedPdfSignature(reader, sig_field, fq_name)
            result.append((fq_name, emb, emb.signed_revision, "/Sig"))
        except Exception as exc:
            result.append((fq_name, exc, -1, "/Sig"))
    result.sort(key=lambda item: item[2])
    return result


class _UnsupportedFormat(Exception):
    pass


async def _check_pdf_signature(
    emb: EmbeddedPdfSignature,
    anchors,
    at: dt.datetime,
    dss: _Revinfo,
    later_signatures: set[str],
    tail_clean: bool = True,
) -> SignatureFinding:
    name = emb.field_name
    technical: list[str] = []
    # 1. the CMS structure and the signer's certificate
    try:
        signer_cert = emb.signer_cert
        signer = _info_from_asn1(signer_cert)
    except Exception as exc:
        return _malformed(
            name, gettext_noop("The signature does not contain the signer's certificate or cannot be read."), str(exc)
        )
    try:
        claimed = emb.self_reported_timestamp
    except Exception:
        claimed = None
    base = {"signer": signer, "signing_time": _utc(claimed) if claimed else None}

    # 2. integrity: digest of the byte ranges, coverage, difference analysis of later revisions
    try:
        emb.compute_integrity_info()
        # pyHanko internal: the integrity summary is a dict of PdfSignatureStatus keyword arguments
        # (coverage, diff_result, docmdp_ok), fed to the status below as pyHanko's own pipeline does.
        integrity = emb.summarise_integrity_info()
    except Exception as exc:
        return _malformed(
            name, gettext_noop("The structure of the signed file could not be analysed."), str(exc), **base
        )

    # 3. timestamp (validated at the receipt time), then the signer at the right moment
    revinfo = dss.plus(_signature_revinfo(emb.signed_data, emb.signer_info))
    try:
        timing = await _signature_timestamp(emb.signer_info, anchors, at, revinfo)
        if timing.claimed is None:
            timing.claimed = claimed
        status, verdict, moment, _when_text = await _judge_signer(
            emb.signed_data,
            emb.compute_digest(),
            anchors,
            at,
            revinfo,
            timing,
            _cms_status_kwargs(integrity, timing),
            PdfSignatureStatus,
        )
    except SignatureValidationError as exc:
        if getattr(exc, "ades_subindication", None) == AdESFailure.FORMAT_FAILURE or "structural" in str(exc):
            return _malformed(name, _describe_format_error(exc), str(exc), **base)
        return _malformed(
            name,
            gettext_noop("The signature could not be checked: its data is not in a usable form."),
            str(exc),
            **base,
        )
    except Exception as exc:
        logger.info("signature %s could not be checked", name, exc_info=exc)
        return _malformed(
            name,
            gettext_noop("The signature could not be checked: its data is not in a usable form."),
            str(exc),
            **base,
        )
    technical.append(status.summary())
    technical.extend(timing.technical)

    covers, coverage_reasons = _judge_coverage(status, later_signatures, tail_clean=tail_clean)
    common = {
        "name": name,
        **base,
        "signing_time": _utc(timing.claimed) if timing.claimed else None,
        "timestamp": timing.timestamp,
        "validated_at": moment,
        "covers_whole_document": covers,
    }
    if verdict.outcome == Outcome.TAMPERED:
        reasons = (
            [
                gettext_noop(
                    "The document was changed after it was signed: the signed content no longer matches the signature."
                )
            ]
            if not status.intact
            else [
                gettext_noop(
                    "The signature value does not verify against the signer's certificate: it is forged or damaged."
                )
            ]
        )
        return SignatureFinding(
            outcome=Outcome.TAMPERED, reasons=tuple(reasons), technical="; ".join(technical), **common
        )
    if coverage_reasons:
        return SignatureFinding(
            outcome=Outcome.MODIFIED,
            reasons=tuple(coverage_reasons + (verdict.reasons[:1] if verdict.outcome != Outcome.VALID else [])),
            technical="; ".join(technical),
            revocation_info=verdict.revocation_info,
            **{**common, "covers_whole_document": False},
        )
    reasons = verdict.reasons + _timing_reasons(verdict, timing, moment, at, signer_cert)
    outcome = verdict.outcome
    if outcome == Outcome.VALID:
        try:
            # pyHanko internal: the seed-value check of pyHanko's own pipeline, called on its own
            # because validate_pdf_signature is not called as a whole; returns status keyword arguments.
            seed = report_seed_value_validation(
                emb, status.validation_path, timing.timestamp is not None and timing.status is not None
            )
        except Exception as exc:  # pragma: no cover - defensive
            seed = {"seed_value_constraint_error": exc}
        if seed.get("seed_value_constraint_error") is not None:
            outcome = Outcome.MALFORMED
            reasons.insert(
                0,
                gettext_noop("The signature does not meet the requirements the document sets for its signature field."),
            )
            technical.append(str(seed["seed_value_constraint_error"]))
    return SignatureFinding(
        outcome=outcome,
        reasons=tuple(reasons),
        technical="; ".join(technical),
        revocation_info=verdict.revocation_info and outcome in (Outcome.VALID, Outcome.REVOKED),
        **common,
    )


def verify_pdf(data: bytes, *, trust_roots: Sequence[bytes], at: dt.datetime) -> DocumentFindings:
    """Examine every signature embedded in a PDF.

    Never raises for a bad file: an unreadable or encrypted file gives ``error`` (outcome MALFORMED),
    a broken signature a MALFORMED finding. Raises ValueError only for unreadable ``trust_roots``.
    Document timestamps (/DocTimeStamp) are not signatures of a person: they are counted in
    ``details["document_timestamps"]`` and not judged.
    """
    anchors = _load_anchors(trust_roots)
    at = _utc(at)
    with _quiet_pyhanko():
        return _run(lambda: _verify_pdf(bytes(data), anchors, at))


async def _verify_pdf(data: bytes, anchors, at: dt.datetime) -> DocumentFindings:
    if b"%PDF-" not in data[:1024]:
        return DocumentFindings(error=gettext_noop("The file is not a PDF document."))
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
    except Exception as exc:
        return DocumentFindings(
            error=gettext_noop("The PDF file is damaged or incomplete and cannot be read."),
            details={"technical": str(exc)},
        )
    try:
        if reader.encrypted:
            return DocumentFindings(
                error=gettext_noop("The PDF is encrypted (password-protected), so its signatures cannot be checked.")
            )
        signatures = _collect_pdf_signatures(reader)
    except Exception as exc:
        return DocumentFindings(
            error=gettext_noop("The PDF file is damaged or incomplete and cannot be read."),
            details={"technical": str(exc)},
        )
    details: dict[str, Any] = {
        "revisions": reader.xrefs.total_revisions,  # pyHanko internal: the xref cache, revision count
        "document_timestamps": sum(1 for item in signatures if item[3] == "/DocTimeStamp"),
    }
    regular = [item for item in signatures if item[3] == "/Sig"]
    if not regular:
        return DocumentFindings(details=details)
    dss, dss_problem = _dss_revinfo(reader)
    try:
        tail_clean = _tail_is_clean(data, reader)
    except Exception:
        tail_clean = False
    if dss_problem:
        details["dss"] = dss_problem
    findings = []
    for name, emb, revision, _kind in regular:
        if isinstance(emb, _UnsupportedFormat):
            findings.append(_malformed(name, UNSUPPORTED_FORMAT % {"format": emb}, str(emb)))
        elif isinstance(emb, Exception) or emb is None:
            findings.append(
                _malformed(
                    name,
                    gettext_noop("The signature data is damaged and cannot be read (it is not a valid CMS signature)."),
                    str(emb),
                )
            )
        else:
            later = _later_signature_fields(signatures, revision)
            try:
                findings.append(await _check_pdf_signature(emb, anchors, at, dss, later, tail_clean))
            except Exception as exc:  # last resort: never let a strange file escape as an exception
                logger.warning("unexpected failure checking signature %s", name, exc_info=exc)
                findings.append(_malformed(name, gettext_noop("The signature could not be checked."), str(exc)))
    return DocumentFindings(findings=tuple(findings), details=details)
