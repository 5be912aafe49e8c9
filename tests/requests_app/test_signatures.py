"""The technical signature check (requests_app.signatures): pure, no database.

Two sources of signed documents: real PDFs from pyHanko's test suite (../shared/testdata/pdfsig, with
their expected outcomes at the receipt time 2020-11-01) and PDFs signed here with the generated test
PKI (tests/pki.py), validated at ``pki.RECEIPT``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import random

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from requests_app import signatures
from requests_app.signatures import Outcome
from tests import pki
from tests.shared_data import TESTDATA, needs

SHARED = TESTDATA
PDFSIG = SHARED / "pdfsig"
RECEIPT_2020 = dt.datetime(2020, 11, 1, tzinfo=dt.UTC)
YEARS_LATER = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # the Alice certificates expired on 2022-01-01

needs_shared = needs("pdfsig")


# --- helpers ----------------------------------------------------------------------------------------


@functools.cache
def shared_anchors() -> tuple[bytes, ...]:
    return (
        (PDFSIG / "TRUST-ROOT_pyhanko-testing-ca_root.cert.pem").read_bytes(),
        (PDFSIG / "pyhanko-testing-ca_interm.cert.pem").read_bytes(),
    )


def check_shared(name: str, at: dt.datetime) -> signatures.DocumentFindings:
    return signatures.verify_pdf((PDFSIG / name).read_bytes(), trust_roots=shared_anchors(), at=at)


def ca() -> pki.TestPKI:
    return pki.pki()


@functools.cache
def one_page() -> bytes:
    return pki.make_pdf()


@functools.cache
def signed(who: str, **options) -> bytes:
    """A one-page PDF signed by the identity ``who`` of the test PKI (cached: signing costs ~30 ms)."""
    return pki.sign_pdf(one_page(), getattr(ca(), who), **options)


def check(data: bytes, *, anchors=None, at: dt.datetime = pki.RECEIPT) -> signatures.DocumentFindings:
    return signatures.verify_pdf(data, trust_roots=anchors if anchors is not None else ca().anchors_a, at=at)


def only(findings: signatures.DocumentFindings) -> signatures.SignatureFinding:
    assert not findings.error, findings.error
    assert len(findings.findings) == 1, findings
    return findings.findings[0]


def said(finding: signatures.SignatureFinding, *words: str) -> bool:
    text = " ".join(finding.reasons).lower()
    return all(word.lower() in text for word in words)


# --- real signed PDFs (pyHanko's test files) ------------------------------------------------------

REAL_AT_RECEIPT = [
    # file, outcome per signature, signer subject contains
    ("pades-with-old-style-signing-cert-attr.pdf", [Outcome.VALID], "Alice"),
    ("sig-with-ski-sid.pdf", [Outcome.VALID], "Alice"),
    ("certified-with-indirect-refs-in-dir.pdf", [Outcome.VALID], "Lord Testerino"),
    ("pades-lta-dss-indirect-arrs-test.pdf", [Outcome.VALID], "Alice"),
    ("minimal-signed-twice-no-sig-type.pdf", [Outcome.UNTRUSTED, Outcome.UNTRUSTED], "Alice"),
    ("pdf-sig-with-econtent.pdf", [Outcome.MALFORMED], "Alice"),
    ("coverage-anomalies-tail-uncovered.pdf", [Outcome.MODIFIED], "Lord Testerino"),
    ("coverage-anomalies-weird-byterange.pdf", [Outcome.MODIFIED], "Lord Testerino"),
    ("DERIVED_tampered_pades-with-old-style-signing-cert-attr.pdf", [Outcome.TAMPERED], "Alice"),
]


@needs_shared
@pytest.mark.parametrize(("name", "outcomes", "signer"), REAL_AT_RECEIPT, ids=[row[0] for row in REAL_AT_RECEIPT])
def test_real_pdf_at_receipt_time_gives_the_listed_outcome(name, outcomes, signer):
    result = check_shared(name, RECEIPT_2020)

    assert not result.error
    assert [finding.outcome for finding in result.findings] == outcomes
    for finding in result.findings:
        assert signer in finding.signer.subject
        assert finding.reasons or finding.outcome == Outcome.VALID
        if finding.outcome == Outcome.VALID:
            assert finding.covers_whole_document
            assert finding.validated_at == RECEIPT_2020


@needs_shared
def test_real_valid_signature_reports_the_signers_certificate():
    finding = only(check_shared("pades-with-old-style-signing-cert-attr.pdf", RECEIPT_2020))

    cert = x509.load_pem_x509_certificate(finding.signer.pem.encode())
    assert finding.signer.fingerprint == hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    assert finding.signer.fingerprint == finding.signer.fingerprint.lower() and len(finding.signer.fingerprint) == 64
    assert "CN=Alice" in finding.signer.subject
    assert finding.signer.not_after == dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    assert finding.signing_time is not None  # claimed by the signer, shown
    assert finding.timestamp is None
    assert not finding.revocation_info
    assert signatures.NO_REVOCATION_DATA in finding.reasons


@needs_shared
def test_real_lta_signature_uses_its_timestamp_and_embedded_revocation_data():
    result = check_shared("pades-lta-dss-indirect-arrs-test.pdf", RECEIPT_2020)

    finding = only(result)  # the document timestamp is not a signer's signature
    assert finding.outcome == Outcome.VALID
    assert finding.timestamp == RECEIPT_2020 == finding.validated_at
    assert finding.revocation_info  # the OCSP response in the DSS was used
    assert finding.covers_whole_document  # later revisions are LTA updates only
    assert result.details["document_timestamps"] == 1


@needs_shared
def test_real_coverage_anomalies_say_the_signature_does_not_cover_everything():
    for name in ("coverage-anomalies-tail-uncovered.pdf", "coverage-anomalies-weird-byterange.pdf"):
        finding = only(check_shared(name, RECEIPT_2020))
        assert finding.outcome == Outcome.MODIFIED
        assert not finding.covers_whole_document
        assert said(finding, "not") and said(finding, "signature")


@needs_shared
def test_real_tampered_file_says_the_content_changed():
    finding = only(check_shared("DERIVED_tampered_pades-with-old-style-signing-cert-attr.pdf", RECEIPT_2020))

    assert finding.outcome == Outcome.TAMPERED
    assert said(finding, "changed after it was signed")


REAL_YEARS_LATER = [
    ("pades-with-old-style-signing-cert-attr.pdf", [Outcome.EXPIRED]),
    ("sig-with-ski-sid.pdf", [Outcome.EXPIRED]),
    ("certified-with-indirect-refs-in-dir.pdf", [Outcome.EXPIRED]),
    ("minimal-signed-twice-no-sig-type.pdf", [Outcome.UNTRUSTED, Outcome.UNTRUSTED]),
    ("pdf-sig-with-econtent.pdf", [Outcome.MALFORMED]),
    ("coverage-anomalies-tail-uncovered.pdf", [Outcome.MODIFIED]),
    ("coverage-anomalies-weird-byterange.pdf", [Outcome.MODIFIED]),
    ("DERIVED_tampered_pades-with-old-style-signing-cert-attr.pdf", [Outcome.TAMPERED]),
]


@needs_shared
@pytest.mark.parametrize("at", [YEARS_LATER, None], ids=["2026-01-01", "now"])
@pytest.mark.parametrize(("name", "outcomes"), REAL_YEARS_LATER, ids=[row[0] for row in REAL_YEARS_LATER])
def test_real_pdf_validated_years_later_is_not_valid(name, outcomes, at):
    at = at or dt.datetime.now(dt.UTC)
    result = check_shared(name, at)

    assert [finding.outcome for finding in result.findings] == outcomes
    for finding in result.findings:
        if finding.outcome == Outcome.EXPIRED:
            assert said(finding, "expired", "receipt time")
            assert said(finding, "claims to have signed")  # the claimed signing time was not used


@needs_shared
def test_real_lta_signature_stays_valid_years_later_thanks_to_its_trusted_timestamp():
    # The signature carries a timestamp token from 2020-11-01 whose authority chains to the root and
    # is still valid in 2026: the signer's certificate is judged at the timestamp, not at the receipt.
    finding = only(check_shared("pades-lta-dss-indirect-arrs-test.pdf", YEARS_LATER))

    assert finding.outcome == Outcome.VALID
    assert finding.timestamp == RECEIPT_2020 == finding.validated_at
    assert said(finding, "trusted timestamp")


@needs_shared
def test_real_lta_signature_without_the_timestamp_authoritys_root_is_expired():
    # Only the intermediate as anchor: the timestamp authority (issued by the root) is not trusted,
    # so the signer is judged at the receipt time.
    intermediate = (PDFSIG / "pyhanko-testing-ca_interm.cert.pem").read_bytes()
    finding = only(
        signatures.verify_pdf(
            (PDFSIG / "pades-lta-dss-indirect-arrs-test.pdf").read_bytes(), trust_roots=[intermediate], at=YEARS_LATER
        )
    )

    assert finding.outcome == Outcome.EXPIRED
    assert finding.timestamp is None
    assert said(finding, "timestamp that could not be verified")


# --- generated PKI: who signed -------------------------------------------------------------------


def test_chief_investigator_signature_is_valid_with_the_right_fingerprint():
    finding = only(check(signed("chief_a")))

    assert finding.outcome == Outcome.VALID
    assert finding.signer.fingerprint == ca().chief_a.fingerprint
    assert finding.signer.subject == ca().chief_a.subject
    assert finding.signer.common_name == "Kim Min-jun (Chief Investigator)"
    assert not finding.signer.is_ca
    assert finding.name == pki.PDF_SIG_FIELD
    assert finding.covers_whole_document
    assert finding.validated_at == pki.RECEIPT
    assert finding.signing_time == pki.SIGNED
    assert finding.timestamp is None


def test_ordinary_investigator_signature_is_technically_valid():
    # Whether the signer is a chief is for the registry (services) to decide, from the fingerprint.
    finding = only(check(signed("investigator_a")))

    assert finding.outcome == Outcome.VALID
    assert finding.signer.fingerprint == ca().investigator_a.fingerprint


def test_other_agencys_chief_is_untrusted_against_this_agencys_anchors():
    data = signed("chief_b")

    finding = only(check(data, anchors=ca().anchors_a))
    assert finding.outcome == Outcome.UNTRUSTED
    assert said(finding, "does not lead to any of the issuing agency")
    assert finding.signer.fingerprint == ca().chief_b.fingerprint  # still reported, for the registry

    assert only(check(data, anchors=ca().anchors_b)).outcome == Outcome.VALID


def test_anchors_may_be_given_as_one_pem_bundle_or_the_root_alone():
    data = signed("chief_a")

    assert only(check(data, anchors=[ca().agency_a.anchors_pem])).outcome == Outcome.VALID
    assert only(check(data, anchors=[ca().agency_a.root.pem])).outcome == Outcome.VALID
    assert only(check(data, anchors=[ca().agency_a.intermediate.der])).outcome == Outcome.VALID
    assert only(check(data, anchors=[])).outcome == Outcome.UNTRUSTED


def test_certificate_without_signing_key_usage_is_not_valid():
    finding = only(check(signed("nosign_a")))

    assert finding.outcome == Outcome.UNTRUSTED
    assert said(finding, "key usage")


# --- generated PKI: time ------------------------------------------------------------------------


def test_certificate_expired_before_the_receipt_time():
    finding = only(check(signed("expired_a")))

    assert finding.outcome == Outcome.EXPIRED
    assert said(finding, "expired", "2025-01-01")
    assert finding.validated_at == pki.RECEIPT


def test_claimed_signing_time_inside_the_validity_is_not_trusted():
    finding = only(check(signed("expired_a", signing_time=pki.SIGNED_WHILE_VALID)))

    assert finding.signing_time == pki.SIGNED_WHILE_VALID  # shown ...
    assert finding.outcome == Outcome.EXPIRED  # ... but not relied on
    assert finding.validated_at == pki.RECEIPT
    assert said(finding, "claims to have signed", "not relied on")


def test_trusted_timestamp_inside_the_validity_makes_an_expired_certificate_valid():
    data = signed("expired_a", signing_time=pki.SIGNED_WHILE_VALID, timestamp=True)

    finding = only(check(data))

    assert finding.outcome == Outcome.VALID
    assert finding.timestamp == pki.SIGNED_WHILE_VALID
    assert finding.validated_at == pki.SIGNED_WHILE_VALID
    assert said(finding, "trusted timestamp")


def test_timestamp_from_an_authority_outside_the_anchors_is_not_relied_on():
    data = signed("expired_a", signing_time=pki.SIGNED_WHILE_VALID, timestamp=True, tsa=ca().tsa_b)

    finding = only(check(data))

    assert finding.outcome == Outcome.EXPIRED
    assert finding.timestamp is None
    assert finding.validated_at == pki.RECEIPT
    assert said(finding, "timestamp that could not be verified")


def test_timestamp_after_the_certificate_expired_does_not_help():
    data = signed("expired_a", signing_time=pki.SIGNED_WHILE_VALID, timestamp=pki.SIGNED)

    finding = only(check(data))

    assert finding.outcome == Outcome.EXPIRED
    assert finding.timestamp == pki.SIGNED
    assert said(finding, "time of the trusted timestamp")


# --- generated PKI: revocation --------------------------------------------------------------------


@pytest.mark.parametrize("revinfo_in", ["dss", "signature"])
def test_revoked_certificate_with_embedded_crl(revinfo_in):
    finding = only(check(signed("revoked_a", embed_crl=ca().agency_a.crls, revinfo_in=revinfo_in)))

    assert finding.outcome == Outcome.REVOKED
    assert finding.revocation_info
    assert said(finding, "revoked on 2025-05-20", "key compromise")
    assert finding.covers_whole_document  # the DSS added after signing is a harmless update


@pytest.mark.parametrize("revinfo_in", ["dss", "signature"])
def test_valid_certificate_with_embedded_crl_records_revocation_info(revinfo_in):
    finding = only(check(signed("chief_a", embed_crl=ca().agency_a.crls, revinfo_in=revinfo_in)))

    assert finding.outcome == Outcome.VALID
    assert finding.revocation_info
    assert not said(finding, "not checked")


def test_embedded_crl_of_the_issuer_alone_is_enough():
    finding = only(check(signed("chief_a", embed_crl=ca().agency_a.crl)))

    assert finding.outcome == Outcome.VALID
    assert finding.revocation_info


@pytest.mark.parametrize("who", ["chief_a", "revoked_a"])
def test_without_embedded_revocation_data_revocation_is_not_checked_and_that_is_recorded(who):
    finding = only(check(signed(who)))

    assert finding.outcome == Outcome.VALID  # nothing is fetched: a revocation cannot be seen
    assert not finding.revocation_info
    assert signatures.NO_REVOCATION_DATA in finding.reasons
    assert said(finding, "no revocation data was embedded; revocation not checked")


def test_signature_timestamped_before_the_revocation_stays_valid():
    finding = only(check(signed("revoked_a", embed_crl=ca().agency_a.crls, timestamp=True)))

    assert finding.outcome == Outcome.VALID
    assert finding.timestamp == pki.SIGNED < pki.REVOKED_ON
    assert finding.revocation_info


def test_crl_out_of_date_at_the_validation_time_is_recorded_but_a_listed_revocation_still_counts():
    after_next_update = pki.CRL_NEXT_UPDATE + dt.timedelta(days=30)

    good = only(check(signed("chief_a", embed_crl=ca().agency_a.crls), at=after_next_update))
    assert good.outcome == Outcome.VALID
    assert not good.revocation_info
    assert said(good, "could not be used", "revocation not checked")

    revoked = only(check(signed("revoked_a", embed_crl=ca().agency_a.crls), at=after_next_update))
    assert revoked.outcome == Outcome.REVOKED


def test_crl_of_an_intermediate_registered_without_its_root_is_still_used():
    intermediate_only = [ca().agency_a.intermediate.der]

    assert only(check(signed("revoked_a", embed_crl=ca().agency_a.crls), anchors=intermediate_only)).outcome == (
        Outcome.REVOKED
    )
    chief = only(check(signed("chief_a", embed_crl=ca().agency_a.crls), anchors=intermediate_only))
    assert chief.outcome == Outcome.VALID
    assert chief.revocation_info


def test_revocation_data_about_someone_else_is_recorded_as_not_concerning_the_signer():
    finding = only(check(signed("chief_a", embed_crl=ca().agency_b.crl)))

    assert finding.outcome == Outcome.VALID
    assert not finding.revocation_info
    assert signatures.REVOCATION_DATA_NOT_FOR_SIGNER in finding.reasons


# --- generated PKI: the document ------------------------------------------------------------------


def test_page_added_incrementally_after_signing_is_modified():
    finding = only(check(pki.add_page_incrementally(signed("chief_a"))))

    assert finding.outcome == Outcome.MODIFIED
    assert not finding.covers_whole_document
    assert said(finding, "changed after it was signed")
    assert finding.signer.fingerprint == ca().chief_a.fingerprint


def test_bytes_appended_after_the_signed_range_are_modified():
    finding = only(check(signed("chief_a") + b"\n% unsigned trailing comment\n" + b"1 0 obj\n<<>>\nendobj\n"))

    assert finding.outcome == Outcome.MODIFIED
    assert not finding.covers_whole_document
    assert said(finding, "not covered by the signature")


def test_one_signed_byte_changed_is_tampered():
    finding = only(check(pki.flip_signed_byte(signed("chief_a"))))

    assert finding.outcome == Outcome.TAMPERED
    assert said(finding, "changed after it was signed")


def test_second_signature_added_later_leaves_the_first_intact():
    data = pki.sign_pdf(signed("investigator_a"), ca().chief_a, field_name="Signature2")

    result = check(data)

    assert [(f.name, f.outcome) for f in result.findings] == [
        ("Signature1", Outcome.VALID),
        ("Signature2", Outcome.VALID),
    ]
    assert [f.signer.fingerprint for f in result.findings] == [
        ca().investigator_a.fingerprint,
        ca().chief_a.fingerprint,
    ]


def test_certification_signature_is_valid():
    finding = only(check(pki.sign_pdf(one_page(), ca().chief_a, certify=True)))

    assert finding.outcome == Outcome.VALID


def test_fifty_page_warrant_is_valid():
    finding = only(check(pki.sign_pdf(pki.make_pdf(pages=50), ca().chief_a)))

    assert finding.outcome == Outcome.VALID
    assert finding.covers_whole_document


def test_unsigned_pdf_has_no_findings():
    result = check(one_page())

    assert result.unsigned
    assert result.findings == ()
    assert result.outcome == Outcome.UNSIGNED


# --- bad input: MALFORMED, never an exception ---------------------------------------------------


def _truncated() -> bytes:
    data = signed("chief_a")
    return data[: len(data) // 2]


BAD_PDFS = {
    "not a PDF": lambda: b"This is a plain text file, not a warrant.\n" * 20,
    "empty file": lambda: b"",
    "PNG image": lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "truncated signed PDF": _truncated,
    "only the PDF header": lambda: b"%PDF-1.7\n",
    "encrypted PDF": lambda: pki.encrypt_pdf(one_page()),
    "encrypted copy of a signed PDF": lambda: pki.encrypt_pdf(signed("chief_a")),
    "garbage in the signature /Contents": lambda: pki.corrupt_signature_contents(signed("chief_a")),
}


@pytest.mark.parametrize("make", BAD_PDFS.values(), ids=BAD_PDFS.keys())
def test_bad_pdf_is_malformed_with_a_reason(make):
    result = check(make())

    assert result.outcome == Outcome.MALFORMED
    if result.error:
        assert result.findings == ()
    else:
        assert [f.outcome for f in result.findings] == [Outcome.MALFORMED]
        assert result.findings[0].reasons
    assert not result.unsigned


def test_encrypted_pdf_says_so():
    result = check(pki.encrypt_pdf(one_page()))

    assert "encrypted" in result.error


def test_random_damage_never_escapes_as_an_exception():
    original = signed("chief_a")
    rng = random.Random(20250602)
    for _ in range(40):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            data[position : position + rng.randint(1, 16)] = rng.randbytes(rng.randint(0, 16))
        result = check(bytes(data))
        assert isinstance(result.outcome, Outcome)
        for finding in result.findings:
            assert finding.outcome != Outcome.VALID or bytes(data) == original or finding.covers_whole_document


# --- detached CMS (.p7s) ----------------------------------------------------------------------------


def check_detached(content: bytes, p7s: bytes, *, anchors=None, at=pki.RECEIPT) -> signatures.DocumentFindings:
    return signatures.verify_detached(content, p7s, trust_roots=anchors or ca().anchors_a, at=at)


@pytest.mark.parametrize("pem", [False, True], ids=["DER", "PEM"])
def test_detached_signature_over_the_pdf_is_valid(pem):
    finding = only(check_detached(one_page(), pki.detached_cms(one_page(), ca().chief_a, pem=pem)))

    assert finding.outcome == Outcome.VALID
    assert finding.name == "detached"
    assert finding.signer.fingerprint == ca().chief_a.fingerprint
    assert finding.covers_whole_document


def test_detached_signature_over_a_changed_pdf_is_tampered():
    p7s = pki.detached_cms(one_page(), ca().chief_a)

    finding = only(check_detached(pki.make_pdf(title="Another warrant"), p7s))

    assert finding.outcome == Outcome.TAMPERED
    assert not finding.covers_whole_document


def test_detached_signature_from_another_agency_is_untrusted():
    finding = only(check_detached(one_page(), pki.detached_cms(one_page(), ca().chief_b)))

    assert finding.outcome == Outcome.UNTRUSTED


def test_detached_signature_with_an_expired_certificate():
    finding = only(check_detached(one_page(), pki.detached_cms(one_page(), ca().expired_a)))

    assert finding.outcome == Outcome.EXPIRED


def test_detached_signature_with_the_content_inside_is_malformed():
    signer = ca().chief_a
    attached = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(one_page())
        .add_signer(signer.cert, signer.key, hashes.SHA256())
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )

    finding = only(check_detached(one_page(), attached))

    assert finding.outcome == Outcome.MALFORMED


BAD_P7S = {
    "text": b"not a signature at all",
    "empty": b"",
    "a certificate instead": pki.pki().chief_a.der,
    "CMS data, not signed data": asn1_cms.ContentInfo({"content_type": "data", "content": b"hello"}).dump(),
    "PEM garbage": b"-----BEGIN PKCS7-----\nbm90IGNtcw==\n-----END PKCS7-----\n",
}


@pytest.mark.parametrize("p7s", BAD_P7S.values(), ids=BAD_P7S.keys())
def test_p7s_that_is_not_cms_is_malformed(p7s):
    finding = only(check_detached(one_page(), p7s))

    assert finding.outcome == Outcome.MALFORMED
    assert said(finding, "signature")


# --- certificates ----------------------------------------------------------------------------------


def test_certificate_info_reads_pem_and_der_alike():
    chief = ca().chief_a

    from_pem = signatures.certificate_info(chief.pem)
    from_der = signatures.certificate_info(chief.der)

    assert from_pem == from_der
    assert from_pem.fingerprint == chief.fingerprint
    assert from_pem.subject == chief.subject
    assert "Agency A Issuing CA 1" in from_pem.issuer
    assert from_pem.not_before == pki.EE_NOT_BEFORE and from_pem.not_after == pki.EE_NOT_AFTER
    assert from_pem.pem.startswith("-----BEGIN CERTIFICATE-----")
    assert from_pem.der == chief.der
    assert not from_pem.is_ca


def test_certificate_info_of_a_ca():
    info = signatures.certificate_info(ca().agency_a.root.pem)

    assert info.is_ca
    assert info.subject == info.issuer


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", b"-----BEGIN FOO-----\n"],
    ids=["empty", "garbage", "broken PEM", "PEM without certificate"],
)
def test_certificate_info_refuses_what_is_not_a_certificate(data):
    with pytest.raises(ValueError, match=r"\w"):
        signatures.certificate_info(data)


def test_certificate_info_wants_exactly_one_certificate():
    with pytest.raises(ValueError, match="one certificate"):
        signatures.certificate_info(ca().agency_a.anchors_pem)


def test_load_certificates_reads_bundles_and_single_der():
    bundle = signatures.load_certificates(pki.pem_bundle(ca().chief_a, ca().agency_a.intermediate, ca().agency_a.root))
    assert [c.fingerprint for c in bundle] == [
        ca().chief_a.fingerprint,
        ca().agency_a.intermediate.fingerprint,
        ca().agency_a.root.fingerprint,
    ]
    assert [c.is_ca for c in bundle] == [False, True, True]

    assert [c.fingerprint for c in signatures.load_certificates(ca().chief_b.der)] == [ca().chief_b.fingerprint]


@needs_shared
def test_load_certificates_reads_the_shared_trust_root():
    (root,) = signatures.load_certificates(shared_anchors()[0])

    assert root.is_ca
    assert "Root CA" in root.subject


def test_chains_to():
    a = ca().anchors_a

    assert signatures.chains_to(ca().chief_a.der, a)
    assert signatures.chains_to(ca().chief_a.pem, a, at=pki.RECEIPT)
    assert not signatures.chains_to(ca().chief_b.der, a)
    assert signatures.chains_to(ca().chief_b.der, ca().anchors_b)
    assert signatures.chains_to(ca().tsa_a.der, a)  # issued by the root directly
    assert signatures.chains_to(ca().agency_a.intermediate.der, a)  # an anchor itself


def test_chains_to_with_a_time_and_with_intermediates_in_the_certificate_bundle():
    root_only = [ca().agency_a.root.der]

    assert signatures.chains_to(ca().expired_a.der, ca().anchors_a)
    assert not signatures.chains_to(ca().expired_a.der, ca().anchors_a, at=pki.RECEIPT)
    assert not signatures.chains_to(ca().chief_a.der, root_only)  # the intermediate is missing
    assert signatures.chains_to(pki.pem_bundle(ca().chief_a, ca().agency_a.intermediate), root_only)
    assert not signatures.chains_to(pki.pem_bundle(ca().chief_b, ca().agency_b.intermediate), root_only)


# --- behaviour around the call ---------------------------------------------------------------------


def test_expected_trust_failures_do_not_log_pyhanko_warnings_and_levels_are_restored(caplog):
    pyhanko_logger = logging.getLogger("pyhanko")
    before = pyhanko_logger.level

    with caplog.at_level(logging.WARNING):
        assert only(check(signed("expired_a"))).outcome == Outcome.EXPIRED
        assert only(check(signed("chief_b"))).outcome == Outcome.UNTRUSTED

    assert not [r for r in caplog.records if r.name.startswith("pyhanko")]
    assert pyhanko_logger.level == before


def test_works_when_called_from_inside_a_running_event_loop():
    async def inside() -> signatures.DocumentFindings:
        return check(signed("chief_a"))

    assert only(asyncio.run(inside())).outcome == Outcome.VALID


def test_naive_validation_time_is_taken_as_utc():
    finding = only(check(signed("chief_a"), at=pki.RECEIPT.replace(tzinfo=None)))

    assert finding.validated_at == pki.RECEIPT
