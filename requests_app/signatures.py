"""Cryptographic verification of warrant documents (pyHanko). Pure: no Django, no database.

The caller passes the issuing agency's trust anchors and the moment to validate at (the warrant's
recorded receipt time). This module says, per signature, whether it is technically sound:
intact, covering the whole document, chaining to an anchor, within its validity, not revoked.
Whether the signer is a registered chief investigator of the right agency is decided by
``requests_app.services`` against the registry, from the fingerprint reported here.

Nothing is fetched from the network: revocation data is taken only from the file itself
(the DSS and the signature's revocation-info attribute); its absence is reported.

How a signature is judged (first failing check wins):

1. MALFORMED: the PDF or the CMS structure cannot be read (encrypted, truncated, garbage in
   /Contents, encapsulated content in a detached signature, not CMS at all, unsupported format).
2. TAMPERED: the digest of the signed bytes or the signature value does not verify.
3. MODIFIED: the signature does not cover the whole file, and what follows its revision is not
   harmless. Harmless: long-term-validation updates (DSS, document timestamps) and later signatures
   added to their own (empty) signature fields. Not harmless: anything pyHanko's difference analysis
   reports as form filling, annotations or other changes, and any bytes outside the signed range
   that are not a well-formed later revision.
4. UNTRUSTED: no path from the signer's certificate to one of the anchors.
5. REVOKED: embedded CRL/OCSP data shows the certificate (or a CA above it) revoked before the
   validation moment.
6. EXPIRED: the signer's certificate (or a CA certificate in its path) was not valid at the
   validation moment. Checked on the certificates themselves: pyHanko reports expiry, like a
   missing chain, only as "untrusted" (its sub-indication for a CA's expiry is a general failure).
7. WEAK_ALGORITHM: pyHanko's algorithm policy (``ALGORITHM_POLICY``) refuses the signature or a
   certificate of its path: a key shorter than the policy's minimum (the reason names the key size
   and the minimum), or a digest algorithm it no longer accepts (the reason names it).
8. UNTRUSTED again for the rest: key usage that does not allow signing (reason says so), other
   chain failures.

Revocation: when the file carries CRLs/OCSP responses (DSS, Adobe revocation-info attribute, CMS
crls field) about the signer's certificate, pyHanko must use them (a revocation fails the
signature); revocation data that is unusable at the moment (out of date) counts as none, after an
independent look at the CRLs for a listed revocation. Without data, revocation is not checked and a
reason says so (``NO_REVOCATION_DATA``); ``revocation_info`` tells whether data was used.

The validation moment is the time of a signature timestamp token when the token is intact and its
timestamp authority chains to the anchors (validated at ``at``); otherwise ``at``. The signing time
the signer claims (signingTime attribute, /M) is reported but never used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import hashlib
import io
import itertools
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from pyhanko.pdf_utils.generic import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import (
    MultivaluedAttributeError,
    NonexistentAttributeError,
    extract_signer_info,
    find_unique_cms_attribute,
    get_pyca_cryptography_hash,
)
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, report_seed_value_validation
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import (
    PdfSignatureStatus,
    SignatureCoverageLevel,
    StandardCMSSignatureStatus,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import (
    NO_REVOCATION,
    CertRevTrustPolicy,
    DisallowWeakAlgorithmsPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from warrantdesk.stored_text import gettext_noop, template

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    VALID = "VALID"
    UNSIGNED = "UNSIGNED"
    TAMPERED = "TAMPERED"  # the signed bytes changed, or the signature value does not verify
    MODIFIED = "MODIFIED"  # content added or changed after signing, or bytes outside the signed range
    UNTRUSTED = "UNTRUSTED"  # no chain to any of the agency's anchors
    EXPIRED = "EXPIRED"  # signer certificate expired or not yet valid at the validation time
    REVOKED = "REVOKED"
    UNKNOWN_SIGNER = "UNKNOWN_SIGNER"  # registry verdicts, decided by services
    NOT_CHIEF = "NOT_CHIEF"
    OTHER_AGENCY = "OTHER_AGENCY"
    MALFORMED = "MALFORMED"  # unreadable PDF, encrypted PDF, broken CMS, not CMS at all
    WEAK_ALGORITHM = "WEAK_ALGORITHM"  # a key too short or a digest too weak for ALGORITHM_POLICY


# Reason sentences other code may want to recognise.
NO_REVOCATION_DATA = gettext_noop("No revocation data was embedded; revocation not checked.")
REVOCATION_DATA_NOT_FOR_SIGNER = gettext_noop(
    "Revocation data was embedded, but none of it concerns the signer's certificate; revocation not checked."
)

# Reasons are stored in English and shown in the reader's language (``warrantdesk.stored_text``):
# a fixed sentence is marked with gettext_noop, a sentence with values is a template declared here.
THE_SIGNERS_CERTIFICATE = gettext_noop("The signer's certificate")
AN_AUTHORITY_ABOVE = gettext_noop("The certificate of an issuing authority above the signer")
THE_AUTHORITY = template(gettext_noop('The certificate of the issuing authority "%(subject)s"'), fragment=True)
AT_TIMESTAMP = template(gettext_noop("the time of the trusted timestamp (%(date)s)"), fragment=True)
AT_RECEIPT = template(gettext_noop("the warrant's receipt time (%(date)s)"), fragment=True)
AT_POINT = template(gettext_noop("at %(point)s"), texts={"point"}, fragment=True)
HAD_EXPIRED = template(
    gettext_noop("%(who)s had expired %(when)s: it was valid from %(start)s to %(end)s."), texts={"who", "when"}
)
NOT_YET_VALID = template(
    gettext_noop("%(who)s was not yet valid %(when)s: it was valid from %(start)s to %(end)s."),
    texts={"who", "when"},
)
REVOKED_ON = template(gettext_noop("%(who)s was revoked on %(date)s, before %(point)s."), texts={"who", "point"})
REVOKED_ON_BECAUSE = template(
    gettext_noop("%(who)s was revoked on %(date)s (reason given: %(because)s), before %(point)s."),
    texts={"who", "because", "point"},
)
REVOKED_BEFORE = template(gettext_noop("%(who)s was revoked before %(point)s."), texts={"who", "point"})
CRL_REASONS = (  # RFC 5280 reason codes, as _because spells them
    gettext_noop("key compromise"),
    gettext_noop("ca compromise"),
    gettext_noop("affiliation changed"),
    gettext_noop("superseded"),
    gettext_noop("cessation of operation"),
    gettext_noop("certificate hold"),
    gettext_noop("remove from crl"),
    gettext_noop("privilege withdrawn"),
    gettext_noop("aa compromise"),
)
REVOCATION_DATA_UNUSABLE = template(
    gettext_noop(
        "The revocation data embedded in the file could not be used %(when)s (it was out of date "
        "or could not be verified); revocation not checked."
    ),
    texts={"when"},
)
TIMESTAMP_SHOWS = template(
    gettext_noop(
        "A trusted timestamp shows the document was signed by %(date)s; the signer's "
        "certificate was checked at that time rather than at the warrant's receipt time."
    )
)
CLAIMED_SIGNING_TIME = template(
    gettext_noop(
        "The signer claims to have signed on %(date)s, when the certificate was valid, "
        "but no trusted timestamp proves that time, so it was not relied on."
    )
)
FORM_FIELDS_CHANGED = template(
    gettext_noop("The document was changed after it was signed: form fields were filled in or changed (%(names)s).")
)
UNSUPPORTED_FORMAT = template(gettext_noop("The signature uses a format this check does not support (%(format)s)."))


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    fingerprint: str  # SHA-256 of the DER encoding, lower-case hex
    not_before: dt.datetime
    not_after: dt.datetime
    pem: str
    is_ca: bool
    serial: str = ""  # serial number, lower-case hex
    common_name: str = ""  # the subject's CN, handy for display

    @property
    def der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.pem.encode("ascii")).public_bytes(serialization.Encoding.DER)


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

    @property
    def valid(self) -> bool:
        return self.outcome == Outcome.VALID


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
        (UNKNOWN_SIGNER, NOT_CHIEF, OTHER_AGENCY) are for ``services`` to add."""
        if self.error:
            return Outcome.MALFORMED
        if not self.findings:
            return Outcome.UNSIGNED
        for finding in self.findings:
            if finding.outcome != Outcome.VALID:
                return finding.outcome
        return Outcome.VALID


# --- certificates ------------------------------------------------------------------------------------


def _pem_blocks(data: bytes) -> bool:
    return b"-----BEGIN" in data


def _load_x509(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or many), DER (one) or a PKCS #7 certificate bundle (.p7b/.p7c)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError("Certificate data must be bytes.")
    data = bytes(data)
    if not data.strip():
        raise ValueError("The certificate file is empty.")
    if _pem_blocks(data):
        if b"-----BEGIN PKCS7-----" in data:
            try:
                return list(pkcs7.load_pem_pkcs7_certificates(data))
            except ValueError as exc:
                raise ValueError(f"The PKCS #7 certificate bundle could not be read: {exc}") from exc
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise ValueError("The PEM file contains no certificate (no BEGIN CERTIFICATE block).")
        try:
            return list(x509.load_pem_x509_certificates(data))
        except ValueError as exc:
            raise ValueError(f"The PEM certificate could not be read: {exc}") from exc
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    try:
        certs = list(pkcs7.load_der_pkcs7_certificates(data))
    except ValueError:
        certs = []
    if certs:
        return certs
    raise ValueError("The file is not an X.509 certificate (neither PEM nor DER).")


def _info(cert: x509.Certificate) -> CertificateInfo:
    der = cert.public_bytes(serialization.Encoding.DER)
    try:
        is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        is_ca = False
    except ValueError:  # a malformed extension: treat as not a CA
        is_ca = False
    try:
        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        common_name = str(cns[0].value) if cns else ""
    except ValueError:
        common_name = ""
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        fingerprint=hashlib.sha256(der).hexdigest(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        is_ca=is_ca,
        serial=format(cert.serial_number, "x"),
        common_name=common_name,
    )


def _info_from_asn1(cert: asn1_x509.Certificate) -> CertificateInfo:
    der = cert.dump()
    try:
        return _info(x509.load_der_x509_certificate(der))
    except ValueError:
        # cryptography refuses some certificates asn1crypto accepts (e.g. negative serials)
        pem = asn1_pem.armor("CERTIFICATE", der).decode("ascii")
        return CertificateInfo(
            subject=cert.subject.human_friendly,
            issuer=cert.issuer.human_friendly,
            fingerprint=hashlib.sha256(der).hexdigest(),
            not_before=cert.not_valid_before,
            not_after=cert.not_valid_after,
            pem=pem,
            is_ca=bool(cert.ca),
            serial=format(cert.serial_number, "x"),
            common_name=cert.subject.native.get("common_name", "") or "",
        )


def certificate_info(data: bytes) -> CertificateInfo:
    """Parse one certificate, PEM or DER; raises ValueError with a readable message."""
    certs = _load_x509(data)
    if len(certs) != 1:
        raise ValueError(f"Expected one certificate, found {len(certs)}.")
    return _info(certs[0])


def load_certificates(data: bytes) -> list[CertificateInfo]:
    """Every certificate in a PEM bundle or a single DER file; raises ValueError."""
    return [_info(cert) for cert in _load_x509(data)]


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _valid_at(cert: x509.Certificate, at: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _may_issue(cert: x509.Certificate) -> bool:
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return cert.version == x509.Version.v1  # old self-signed roots have no extensions
    except ValueError:
        return False
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign)
    except x509.ExtensionNotFound:
        return True
    except ValueError:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chain_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    moment: dt.datetime | None,
) -> list[x509.Certificate] | None:
    """The path [leaf, ..., anchor] from ``leaf`` to one of ``trusted``, or None.

    With ``moment``, every certificate on the path must be valid at that moment."""

    def ok_at(cert: x509.Certificate) -> bool:
        return moment is None or _valid_at(cert, moment)

    if not ok_at(leaf):
        return None
    trusted_der = {cert.public_bytes(serialization.Encoding.DER) for cert in trusted}
    if leaf.public_bytes(serialization.Encoding.DER) in trusted_der:
        return [leaf]
    frontier: list[list[x509.Certificate]] = [[leaf]]
    seen: set[bytes] = set()
    for _depth in range(8):
        next_frontier = []
        for path in frontier:
            cert = path[-1]
            for candidate in trusted:
                if _may_issue(candidate) and ok_at(candidate) and _issued_by(cert, candidate):
                    return [*path, candidate]
            for candidate in intermediates:
                key = candidate.fingerprint(hashes.SHA256())
                if key in seen or not _may_issue(candidate) or not ok_at(candidate):
                    continue
                if _issued_by(cert, candidate):
                    seen.add(key)
                    next_frontier.append([*path, candidate])
        if not next_frontier:
            return None
        frontier = next_frontier
    return None


def chains_to(certificate: bytes, anchors: Sequence[bytes], *, at: dt.datetime | None = None) -> bool:
    """Does ``certificate`` chain to one of ``anchors`` (the anchors may include intermediates)?

    ``certificate`` may be a PEM bundle: the first certificate is checked, the others serve as
    intermediates. Each anchor may be PEM (one or many certificates) or DER. Signatures along the
    path are verified; CA certificates must be allowed to issue certificates. With ``at``, every
    certificate on the path must also be valid at that moment. Raises ValueError for unreadable input.
    """
    certs = _load_x509(certificate)
    trusted = [cert for anchor in anchors for cert in _load_x509(anchor)]
    moment = _utc(at) if at is not None else None
    return _chain_path(certs[0], certs[1:], trusted, moment) is not None


@dataclass(frozen=True)
class ValidityProblem:
    """A certificate on an otherwise good chain that was not valid at the moment asked about."""

    expired: bool  # True: expired before the moment; False: not yet valid at the moment
    certificate: CertificateInfo
    is_leaf: bool  # the certificate itself, not a CA certificate above it


def chain_validity_problem(certificate: bytes, anchors: Sequence[bytes], *, at: dt.datetime) -> ValidityProblem | None:
    """Why ``certificate`` does not chain to ``anchors`` at ``at`` when it does chain regardless of
    time: the first certificate of the path (the certificate itself first) that had expired or was
    not yet valid at ``at``. None when there is no path at all, or when the path is valid at ``at``.
    Raises ValueError for unreadable input, like ``chains_to``."""
    certs = _load_x509(certificate)
    trusted = [cert for anchor in anchors for cert in _load_x509(anchor)]
    moment = _utc(at)
    path = _chain_path(certs[0], certs[1:], trusted, None)
    if path is None:
        return None
    for position, cert in enumerate(path):
        if not _valid_at(cert, moment):
            return ValidityProblem(
                expired=moment > cert.not_valid_after_utc, certificate=_info(cert), is_leaf=position == 0
            )
    return None


# --- plumbing: quiet pyHanko logging, event loop ------------------------------------------------------

_PYHANKO_LOGGERS = ("pyhanko", "pyhanko_certvalidator")
_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: dict[str, int] = {}


@contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """Raise pyHanko's loggers to ERROR while a check runs.

    pyHanko logs every expected trust failure (expired, untrusted, revoked, a modified file) as a
    WARNING with a full traceback; the finding already says all of that. Errors still get through.
    Reference-counted, so concurrent checks in several threads restore the levels exactly once.
    """
    global _quiet_depth
    with _quiet_lock:
        if _quiet_depth == 0:
            for name in _PYHANKO_LOGGERS:
                log = logging.getLogger(name)
                _quiet_saved[name] = log.level
                if log.getEffectiveLevel() < logging.ERROR:
                    log.setLevel(logging.ERROR)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name, level in _quiet_saved.items():
                    logging.getLogger(name).setLevel(level)
                _quiet_saved.clear()


def _run(coro_factory):
    """Run an async pyHanko job to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


def _when(moment: dt.datetime) -> str:
    return f"{_utc(moment):%Y-%m-%d %H:%M} UTC"


def _day(moment: dt.datetime) -> str:
    return f"{_utc(moment):%Y-%m-%d}"


# --- revocation data embedded in the file ----------------------------------------------------------


@dataclass
class _Revinfo:
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)
    ocsps: list[asn1_ocsp.OCSPResponse] = field(default_factory=list)
    certs: list[asn1_x509.Certificate] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.crls or self.ocsps)

    def plus(self, other: _Revinfo) -> _Revinfo:
        return _Revinfo(self.crls + other.crls, self.ocsps + other.ocsps, self.certs + other.certs)

    def concerns(self, cert: asn1_x509.Certificate) -> bool:
        """Is there a CRL from the certificate's issuer, or an OCSP response about its serial number?"""
        for crl in self.crls:
            try:
                if crl["tbs_cert_list"]["issuer"] == cert.issuer:
                    return True
            except ValueError:
                continue
        for response in self.ocsps:
            try:
                basic = response["response_bytes"]["response"].parsed
                for single in basic["tbs_response_data"]["responses"]:
                    cert_id = single["cert_id"]
                    if cert_id["serial_number"].native != cert.serial_number:
                        continue
                    algorithm = cert_id["hash_algorithm"]["algorithm"].native
                    name_hash = hashlib.new(algorithm, cert.issuer.dump()).digest()
                    if name_hash == cert_id["issuer_name_hash"].native:
                        return True
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return False


def _dss_revinfo(reader: PdfFileReader) -> tuple[_Revinfo, str]:
    """Revocation data and certificates from the document security store (DSS), if any."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return _Revinfo(), ""
    except Exception as exc:  # a broken DSS is not fatal: the signatures may not need it
        return _Revinfo(), f"DSS unreadable: {exc}"
    info = _Revinfo()
    problems = []
    try:
        info.certs = list(dss.load_certs())
    except Exception as exc:
        problems.append(f"DSS certificates unreadable: {exc}")
    for ref in dss.crls:
        try:
            crl = asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL))
            crl["tbs_cert_list"]["issuer"].native  # noqa: B018 - parse now, not inside pyHanko
            info.crls.append(crl)
        except Exception as exc:
            problems.append(f"DSS CRL unreadable: {exc}")
    for ref in dss.ocsps:
        try:
            response = asn1_ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
            response["response_status"].native  # noqa: B018
            info.ocsps.append(response)
        except Exception as exc:
            problems.append(f"DSS OCSP response unreadable: {exc}")
    return info, "; ".join(problems)


def _signature_revinfo(signed_data: asn1_cms.SignedData, signer_info: asn1_cms.SignerInfo) -> _Revinfo:
    """Revocation data inside the signature: Adobe's revocation-info attribute and the CMS crls field."""
    info = _Revinfo()
    try:
        archival = find_unique_cms_attribute(signer_info["signed_attrs"], "adobe_revocation_info_archival")
        for crl in archival["crl"] or ():
            info.crls.append(crl)
        for response in archival["ocsp"] or ():
            info.ocsps.append(response)
    except (NonexistentAttributeError, MultivaluedAttributeError, ValueError, KeyError, TypeError):
        pass
    try:
        choices = signed_data["crls"]
        if choices is not None and not isinstance(choices, asn1_core.Void):
            for choice in choices:
                if choice.name == "crl":
                    info.crls.append(choice.chosen)
                elif choice.name == "other" and choice.chosen["other_rev_info_format"].native == "ocsp_response":
                    info.ocsps.append(choice.chosen["other_rev_info"])
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return info


# --- validation --------------------------------------------------------------------------------------

WEAK_ALGORITHM_FALLBACK = gettext_noop(
    "The signature or its certificates use an algorithm that is no longer considered secure."
)

# The algorithm policy pyHanko applies to the signature and to every certificate of its path:
# pyHanko's own default (RSA keys of at least 2048 bits, DSA of at least 3192, no MD5 or SHA-1),
# made explicit so that a refusal can name the same numbers the check enforced.
ALGORITHM_POLICY = DisallowWeakAlgorithmsPolicy()

# Key usage that allows signing: either bit is enough.
_SIGNING_KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"},
    match_all_key_usages=False,
)

# Revocation checking when the file carries data about the signer's own certificate: it must be
# used (a CRL from the issuer or an OCSP response for the certificate), whether or not the
# certificate names a distribution point; higher up, data is used where the certificate declares it.
_CHECK_SIGNER_REVOCATION = RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
)
# Otherwise: use whatever applies, never fail because something is missing (nothing is fetched).
_SOFT_REVOCATION = RevocationCheckingPolicy.from_legacy("soft-fail")


@dataclass(frozen=True)
class _Anchors:
    """The agency's anchors, split for pyHanko: trust roots, and anchors issued by another anchor.

    An intermediate registered next to its root is passed as an ordinary certificate, not as a
    trust root: pyhanko-certvalidator 0.33 cannot build the path of a CRL issuer that is itself a
    non-self-signed trust root, so the intermediate's own CRL would be unusable. Trust is the same
    (the intermediate chains to the root anchor). An intermediate registered without its root stays
    a trust root.
    """

    roots: tuple[asn1_x509.Certificate, ...]
    via: tuple[asn1_x509.Certificate, ...]

    @property
    def every(self) -> tuple[asn1_x509.Certificate, ...]:
        return self.roots + self.via


def _context(
    anchors: _Anchors,
    moment: dt.datetime,
    revinfo: _Revinfo,
    policy: RevocationCheckingPolicy,
) -> ValidationContext:
    return ValidationContext(
        trust_roots=list(anchors.roots),
        other_certs=[*anchors.via, *revinfo.certs],
        moment=moment,
        allow_fetching=False,
        crls=list(revinfo.crls),
        ocsps=list(revinfo.ocsps),
        # Revocation data answers "was the certificate revoked at the moment?": a CRL issued after
        # the moment that lists the certificate as revoked before it is evidence too.
        revinfo_policy=CertRevTrustPolicy(policy, retroactive_revinfo=True),
        algorithm_usage_policy=ALGORITHM_POLICY,
    )


def _load_anchors(trust_roots: Sequence[bytes]) -> _Anchors:
    if isinstance(trust_roots, bytes | bytearray):
        trust_roots = [bytes(trust_roots)]
    certs: dict[bytes, x509.Certificate] = {}
    for data in trust_roots:
        for cert in _load_x509(data):
            certs.setdefault(cert.public_bytes(serialization.Encoding.DER), cert)
    roots, via = [], []
    for der, cert in certs.items():
        issued_by_anchor = cert.issuer != cert.subject and any(
            other is not cert and _may_issue(other) and _issued_by(cert, other) for other in certs.values()
        )
        (via if issued_by_anchor else roots).append(asn1_x509.Certificate.load(der))
    return _Anchors(tuple(roots), tuple(via))


def _own_crl_check(
    cert: asn1_x509.Certificate, issuers: Sequence[asn1_x509.Certificate], crls, moment: dt.datetime
) -> tuple[str, dt.datetime | None, str] | None:
    """Independent look at the embedded CRLs, for when pyHanko could not use them.

    Only CRLs issued by the certificate's issuer and signed with a key of a candidate issuer
    certificate count. Returns ("revoked", date, reason) when one lists the certificate as revoked
    before ``moment``, ("good", None, "") when one that is current at ``moment`` does not list it,
    None when no CRL settles the question.
    """
    try:
        subject_cert = x509.load_der_x509_certificate(cert.dump())
    except ValueError:
        return None
    candidates = []
    for issuer in issuers:
        issuer_cert = _x509(issuer)
        if issuer_cert is not None and issuer_cert.subject == subject_cert.issuer and _may_issue(issuer_cert):
            candidates.append(issuer_cert)
    verdict = None
    for crl_asn1 in crls:
        try:
            crl = x509.load_der_x509_crl(crl_asn1.dump())
        except ValueError:
            continue
        if crl.issuer != subject_cert.issuer:
            continue
        for issuer_cert in candidates:
            try:
                if not crl.is_signature_valid(issuer_cert.public_key()):
                    continue
            except (TypeError, ValueError):
                continue
            entry = crl.get_revoked_certificate_by_serial_number(subject_cert.serial_number)
            if entry is not None:
                if entry.revocation_date_utc < moment:
                    try:
                        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
                    except (x509.ExtensionNotFound, ValueError):
                        reason = ""
                    return "revoked", entry.revocation_date_utc, reason
            elif crl.next_update_utc is None or moment <= crl.next_update_utc:
                verdict = ("good", None, "")
            break
    return verdict


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
        timing.claimed = generic_cms.extract_self_reported_ts(signer_info)
    except Exception:  # a broken signingTime attribute is only a claim: ignore it
        timing.claimed = None
    try:
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


_MAYBE_REVINFO_PROBLEMS = (AdESIndeterminate.TRY_LATER, AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE)


async def _validate_timestamp(token, signer_info, anchors, at, revinfo, policy) -> TimestampSignatureStatus:
    kwargs = await generic_cms.validate_tst_signed_data(
        token,
        _context(anchors, at, revinfo, policy),
        generic_cms.message_imprint_checker(signer_info),
    )
    return TimestampSignatureStatus(**kwargs)


def _cms_status_kwargs(status_kwargs: dict, timing: _Timing) -> dict:
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


def _key_usage_allows_signing(cert: asn1_x509.Certificate) -> bool:
    usage = cert.key_usage_value
    if usage is None:
        return True  # no key usage extension: no restriction
    return bool({"digital_signature", "non_repudiation"} & set(usage.native))


def _x509(cert: asn1_x509.Certificate) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(cert.dump())
    except ValueError:
        return None


def _validity_problem(cert: asn1_x509.Certificate, moment: dt.datetime, when: str, *, who: str) -> str | None:
    not_before, not_after = cert.not_valid_before, cert.not_valid_after
    span = {"who": who, "when": when, "start": _day(not_before), "end": _day(not_after)}
    if moment > not_after:
        return HAD_EXPIRED % span
    if moment < not_before:
        return NOT_YET_VALID % span
    return None


SIGNER_KEY_TOO_SMALL = template(
    gettext_noop(
        "The signer's key is a %(bits)s-bit %(algorithm)s key; the signature policy requires at least "
        "%(minimum)s bits. Ask the agency to sign again with a stronger key."
    )
)
AUTHORITY_KEY_TOO_SMALL = template(
    gettext_noop(
        'The key of the issuing authority "%(subject)s" is a %(bits)s-bit %(algorithm)s key; the signature '
        "policy requires at least %(minimum)s bits."
    )
)
SIGNED_WITH_REFUSED_DIGEST = template(
    gettext_noop("The signature was made with %(digest)s, which the signature policy no longer accepts.")
)
CERTIFICATE_WITH_REFUSED_DIGEST = template(
    gettext_noop(
        'The certificate of "%(subject)s" was signed with %(digest)s, which the signature policy no longer accepts.'
    )
)
_KEY_MINIMUM = {"rsa": "rsa_key_size_threshold", "dsa": "dsa_key_size_threshold"}


@dataclass(frozen=True)
class WeakKey:
    algorithm: str  # "RSA", "DSA"
    bits: int
    minimum: int  # the policy's minimum for this algorithm


def _weak_key(public_key: asn1_keys.PublicKeyInfo) -> WeakKey | None:
    try:
        algorithm, bits = public_key.algorithm, public_key.bit_size
    except (ValueError, KeyError, TypeError):
        return None
    minimum = getattr(ALGORITHM_POLICY, _KEY_MINIMUM.get(algorithm, ""), None)
    if minimum is None or bits >= minimum:
        return None
    return WeakKey(algorithm.upper(), bits, minimum)


def weak_key(certificate: bytes) -> WeakKey | None:
    """The key of ``certificate`` (the first of a PEM bundle) when it is shorter than the signature
    policy (``ALGORITHM_POLICY``, the one pyHanko applies to signatures) requires; else None."""
    der = _load_x509(certificate)[0].public_bytes(serialization.Encoding.DER)
    return _weak_key(asn1_x509.Certificate.load(der).public_key)


def _digest_name(algorithm) -> str:
    return str(algorithm).upper().replace("SHA", "SHA-").replace("SHA--", "SHA-")


def _algorithm_problem(status, signer_info: asn1_cms.SignerInfo | None, moment: dt.datetime) -> str | None:
    """Which key or algorithm pyHanko's policy refused, in words: the signer's key and digest first,
    then each certificate of the path (its issuer's key, the digest it was signed with)."""
    policy = ALGORITHM_POLICY
    cert: asn1_x509.Certificate = status.signing_cert
    if signer_info is not None:
        try:
            mechanism, digest = signer_info["signature_algorithm"], signer_info["digest_algorithm"]
            if not policy.signature_algorithm_allowed(mechanism, moment, cert.public_key).allowed:
                if weak := _weak_key(cert.public_key):
                    return SIGNER_KEY_TOO_SMALL % {
                        "bits": weak.bits,
                        "algorithm": weak.algorithm,
                        "minimum": weak.minimum,
                    }
                return SIGNED_WITH_REFUSED_DIGEST % {"digest": _digest_name(mechanism.hash_algo)}
            if not policy.digest_algorithm_allowed(digest, moment).allowed:
                return SIGNED_WITH_REFUSED_DIGEST % {"digest": _digest_name(digest["algorithm"].native)}
        except (ValueError, KeyError, TypeError):
            pass
    path = status.validation_path
    if path is None:
        return None
    chain = [c for c in path.iter_certs(include_root=True) if isinstance(c, asn1_x509.Certificate)]
    for issuer, subject in itertools.pairwise(chain):
        algorithm = subject["signature_algorithm"]
        if policy.signature_algorithm_allowed(algorithm, moment, issuer.public_key).allowed:
            continue
        if weak := _weak_key(issuer.public_key):
            return AUTHORITY_KEY_TOO_SMALL % {
                "subject": issuer.subject.human_friendly,
                "bits": weak.bits,
                "algorithm": weak.algorithm,
                "minimum": weak.minimum,
            }
        try:
            digest = _digest_name(algorithm.hash_algo)
        except ValueError:
            digest = str(algorithm["algorithm"].native)
        return CERTIFICATE_WITH_REFUSED_DIGEST % {"subject": subject.subject.human_friendly, "digest": digest}
    return None


def _because(reason: str) -> str:
    """ "key compromise" from a CRL reason name such as key_compromise / keyCompromise ("" if none)."""
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in reason).replace("_", " ").strip()
    if not words or words == "unspecified":
        return ""
    return words


def _revoked_on(who: str, date: dt.datetime, reason: str, point: str) -> str:
    values = {"who": who, "date": _when(date), "because": _because(reason), "point": point}
    return (REVOKED_ON_BECAUSE if values["because"] else REVOKED_ON) % values


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
    signer_cert = signed_data_signer_cert(signed_data)
    if not revinfo:
        policy, note = _SOFT_REVOCATION, NO_REVOCATION_DATA
    elif signer_cert is not None and revinfo.concerns(signer_cert):
        policy, note = _CHECK_SIGNER_REVOCATION, ""
    else:
        policy, note = _SOFT_REVOCATION, REVOCATION_DATA_NOT_FOR_SIGNER
    kwargs = await _validate_signer(signed_data, digest, anchors, moment, revinfo, policy, base_kwargs)
    status = status_cls(**kwargs)
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
        retry = status_cls(**retry_kwargs)
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


def signed_data_signer_cert(signed_data: asn1_cms.SignedData) -> asn1_x509.Certificate | None:
    try:
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


# --- PDF coverage and later changes ----------------------------------------------------------------


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


# --- PDF --------------------------------------------------------------------------------------------

_PDF_SUBFILTERS = (SigSeedSubFilter.ADOBE_PKCS7_DETACHED, SigSeedSubFilter.PADES, SigSeedSubFilter.PBAD_PADES)


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
        "revisions": reader.xrefs.total_revisions,
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


# --- detached CMS ----------------------------------------------------------------------------------


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
        signer_cert = generic_cms.extract_certs_for_validation(signed_data).signer_cert
        signer = _info_from_asn1(signer_cert)
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
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
