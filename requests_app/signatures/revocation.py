"""Revocation data embedded in the file, and how it is used. Nothing is fetched from the network.

Where the data is taken from (the PDF's document security store, the signature's Adobe
revocation-info attribute and the CMS crls field), which revocation policy pyHanko applies (the
signer's own data must be used; otherwise soft-fail), and an independent look at the embedded CRLs
(``_own_crl_check``) for when pyHanko could not use them."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.generic import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.general import MultivaluedAttributeError, NonexistentAttributeError, find_unique_cms_attribute
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko_certvalidator.policy_decl import RevocationCheckingPolicy, RevocationCheckingRule

from .certificates import _may_issue, _x509

# Revocation checking when the file carries data about the signer's own certificate: it must be
# used (a CRL from the issuer or an OCSP response for the certificate), whether or not the
# certificate names a distribution point; higher up, data is used where the certificate declares it.
_CHECK_SIGNER_REVOCATION = RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
)
# Otherwise: use whatever applies, never fail because something is missing (nothing is fetched).
_SOFT_REVOCATION = RevocationCheckingPolicy.from_legacy("soft-fail")

# Trust failures that may come only from unusable embedded revocation data (out of date at the
# moment, or its issuer not verifiable): the check is then tried again without revocation checking.
_MAYBE_REVINFO_PROBLEMS = (AdESIndeterminate.TRY_LATER, AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE)


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
    # pyHanko internal: the DSS's raw CRL and OCSP stream references (``crls``, ``ocsps``), read here
    # so that revocation data can be handed to our own ValidationContext and looked at ourselves.
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
