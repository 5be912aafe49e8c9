"""A small test PKI, made with ``cryptography``, and PDF signing with pyHanko.

Two issuing agencies, each with a root CA and an intermediate CA; end-entity certificates for the
people and cases the signature check has to tell apart; CRLs; a timestamp authority; simple PDFs;
signing, incremental modification after signing and detached CMS (.p7s) signatures.

Everything is generated in memory with EC P-256 keys (fast) and cached for the test session
(``pki()`` is an ``lru_cache``). Validity periods are fixed dates around ``RECEIPT`` (the warrant's
recorded receipt time the tests validate at), so results do not depend on today's date::

    from tests import pki

    ca = pki.pki()
    signed = pki.sign_pdf(pki.make_pdf(), ca.chief_a)
    signatures.verify_pdf(signed, trust_roots=ca.anchors_a, at=pki.RECEIPT)

Identities (all EC P-256, issued by the agency's intermediate unless noted):

- ``chief_a``: chief investigator of agency A (digitalSignature + nonRepudiation)
- ``investigator_a``: ordinary investigator of agency A
- ``chief_b``: chief investigator of agency B (chains to B's root only)
- ``expired_a``: validity ended on ``EXPIRED_NOT_AFTER``, before ``RECEIPT``
- ``revoked_a``: revoked on ``REVOKED_ON`` (after ``SIGNED``, before ``RECEIPT``); listed in ``crl_a``
- ``nosign_a``: key usage keyEncipherment only (not allowed to sign)
- ``tsa_a``: timestamp authority, issued by A's root (extended key usage timeStamping; RSA 2048,
  as pyHanko's DummyTimeStamper signs with RSA only); ``tsa_b`` the same for agency B
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

UTC = dt.UTC

# The timeline every generated fixture follows.
CA_NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=UTC)
CA_NOT_AFTER = dt.datetime(2040, 1, 1, tzinfo=UTC)
EE_NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=UTC)
EE_NOT_AFTER = dt.datetime(2027, 1, 1, tzinfo=UTC)
EXPIRED_NOT_BEFORE = dt.datetime(2023, 1, 1, tzinfo=UTC)
EXPIRED_NOT_AFTER = dt.datetime(2025, 1, 1, tzinfo=UTC)  # before RECEIPT
SIGNED = dt.datetime(2025, 5, 10, 10, 0, tzinfo=UTC)  # default signing time (claimed and timestamped)
SIGNED_WHILE_VALID = dt.datetime(2024, 10, 1, 9, 30, tzinfo=UTC)  # inside expired_a's validity
REVOKED_ON = dt.datetime(2025, 5, 20, tzinfo=UTC)
CRL_THIS_UPDATE = dt.datetime(2025, 5, 21, tzinfo=UTC)
CRL_NEXT_UPDATE = dt.datetime(2025, 8, 1, tzinfo=UTC)
RECEIPT = dt.datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # the warrant's recorded receipt time

PDF_SIG_FIELD = "Signature1"


@dataclass(frozen=True)
class Identity:
    """A certificate with its private key and the chain up to (not including) the root."""

    name: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...] = ()  # intermediates, nearest first
    root: x509.Certificate | None = None

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    def asn1_cert(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.der)

    def asn1_key(self) -> asn1_keys.PrivateKeyInfo:
        return asn1_keys.PrivateKeyInfo.load(
            self.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def pyhanko_signer(self) -> signers.SimpleSigner:
        extra = [_asn1(cert) for cert in self.chain]
        return signers.SimpleSigner(
            signing_cert=self.asn1_cert(),
            signing_key=self.asn1_key(),
            cert_registry=SimpleCertificateStore.from_certs(extra),
        )


@dataclass(frozen=True)
class Agency:
    name: str
    root: Identity
    intermediate: Identity
    crl: bytes  # DER, issued by the intermediate (lists the agency's revoked certificates)
    root_crl: bytes  # DER, issued by the root (lists nothing: the intermediate is good)

    @property
    def anchors(self) -> tuple[bytes, ...]:
        """The agency's trust anchors as DER: root and intermediate, as an agency would register them."""
        return (self.root.der, self.intermediate.der)

    @property
    def anchors_pem(self) -> bytes:
        return self.root.pem + self.intermediate.pem

    @property
    def crls(self) -> tuple[bytes, ...]:
        return (self.crl, self.root_crl)


@dataclass(frozen=True)
class TestPKI:
    agency_a: Agency
    agency_b: Agency
    chief_a: Identity
    investigator_a: Identity
    chief_b: Identity
    expired_a: Identity
    revoked_a: Identity
    nosign_a: Identity
    tsa_a: Identity
    tsa_b: Identity  # a timestamp authority of agency B: not trusted by agency A's anchors

    @property
    def anchors_a(self) -> tuple[bytes, ...]:
        return self.agency_a.anchors

    @property
    def anchors_b(self) -> tuple[bytes, ...]:
        return self.agency_b.anchors

    @property
    def crl_a(self) -> bytes:
        return self.agency_a.crl


# --- certificates -----------------------------------------------------------------------------------


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


_KU_NONE = dict.fromkeys(
    (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ),
    False,
)


def _key_usage(**flags: bool) -> x509.KeyUsage:
    return x509.KeyUsage(**{**_KU_NONE, **flags})


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    issuer: Identity | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool = False,
    path_length: int | None = None,
    key_usage: x509.KeyUsage,
    extended_key_usage: Sequence[x509.ObjectIdentifier] = (),
    crl_url: str | None = None,
) -> x509.Certificate:
    issuer_name = issuer.cert.subject if issuer else subject
    issuer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if extended_key_usage:
        # timeStamping must be the only, critical, extended key usage of a TSA (RFC 3161 2.3)
        critical = ExtendedKeyUsageOID.TIME_STAMPING in extended_key_usage
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_key_usage)), critical=critical)
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _crl(issuer: Identity, revoked: Sequence[tuple[x509.Certificate, dt.datetime]], *, number: int = 1) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(CRL_THIS_UPDATE)
        .next_update(CRL_NEXT_UPDATE)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    for cert, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(when)
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _ca(label: str, organisation: str, domain: str) -> tuple[Identity, Identity]:
    root_key = _key()
    root_cert = _issue(
        _name(f"{label} Root CA", organisation),
        root_key,
        issuer=None,
        not_before=CA_NOT_BEFORE,
        not_after=CA_NOT_AFTER,
        ca=True,
        path_length=1,
        key_usage=_key_usage(key_cert_sign=True, crl_sign=True),
    )
    root = Identity(f"{label} root", root_cert, root_key)
    interm_key = _key()
    interm_cert = _issue(
        _name(f"{label} Issuing CA 1", organisation),
        interm_key,
        issuer=root,
        not_before=CA_NOT_BEFORE,
        not_after=dt.datetime(2035, 1, 1, tzinfo=UTC),
        ca=True,
        path_length=0,
        key_usage=_key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True),
        crl_url=f"http://pki.{domain}.test/root.crl",
    )
    return root, Identity(f"{label} intermediate", interm_cert, interm_key, (), root_cert)


def _person(
    name: str,
    common_name: str,
    organisation: str,
    issuer: Identity,
    domain: str,
    *,
    not_before: dt.datetime = EE_NOT_BEFORE,
    not_after: dt.datetime = EE_NOT_AFTER,
    key_usage: x509.KeyUsage | None = None,
) -> Identity:
    key = _key()
    cert = _issue(
        _name(common_name, organisation),
        key,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        key_usage=key_usage or _key_usage(digital_signature=True, content_commitment=True),
        extended_key_usage=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
        crl_url=f"http://pki.{domain}.test/issuing-ca-1.crl",
    )
    return Identity(name, cert, key, (issuer.cert,), issuer.root)


def _tsa(common_name: str, organisation: str, root: Identity) -> Identity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # DummyTimeStamper is RSA-only
    cert = _issue(
        _name(common_name, organisation),
        key,
        issuer=root,
        not_before=CA_NOT_BEFORE,
        not_after=dt.datetime(2035, 1, 1, tzinfo=UTC),
        key_usage=_key_usage(digital_signature=True),
        extended_key_usage=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    return Identity(common_name, cert, key, (), root.cert)


@functools.lru_cache(maxsize=1)
def pki() -> TestPKI:
    """The whole test PKI, generated once per test session (about 0.15 s, mostly the two RSA TSA keys)."""
    org_a, org_b = "Agency A Cyber Crime Division", "Agency B Financial Crimes Unit"
    root_a, interm_a = _ca("Agency A", org_a, "agency-a")
    root_b, interm_b = _ca("Agency B", org_b, "agency-b")
    chief_a = _person("chief_a", "Kim Min-jun (Chief Investigator)", org_a, interm_a, "agency-a")
    investigator_a = _person("investigator_a", "Lee Seo-yeon (Investigator)", org_a, interm_a, "agency-a")
    chief_b = _person("chief_b", "Park Ji-ho (Chief Investigator)", org_b, interm_b, "agency-b")
    expired_a = _person(
        "expired_a",
        "Choi Expired (Chief Investigator)",
        org_a,
        interm_a,
        "agency-a",
        not_before=EXPIRED_NOT_BEFORE,
        not_after=EXPIRED_NOT_AFTER,
    )
    revoked_a = _person("revoked_a", "Jung Revoked (Chief Investigator)", org_a, interm_a, "agency-a")
    nosign_a = _person(
        "nosign_a",
        "Kang Encrypt-Only (Chief Investigator)",
        org_a,
        interm_a,
        "agency-a",
        key_usage=_key_usage(key_encipherment=True),
    )
    tsa_a = _tsa("Agency A Time Stamping Authority", org_a, root_a)
    tsa_b = _tsa("Agency B Time Stamping Authority", org_b, root_b)
    agency_a = Agency("Agency A", root_a, interm_a, _crl(interm_a, [(revoked_a.cert, REVOKED_ON)]), _crl(root_a, []))
    agency_b = Agency("Agency B", root_b, interm_b, _crl(interm_b, []), _crl(root_b, []))
    return TestPKI(agency_a, agency_b, chief_a, investigator_a, chief_b, expired_a, revoked_a, nosign_a, tsa_a, tsa_b)


@functools.lru_cache(maxsize=4)
def rsa_signer(bits: int = 1024, *, issuer: str = "agency_a") -> Identity:
    """A chief investigator of agency A (or B) whose certificate holds an RSA key of ``bits`` bits,
    issued by the agency's intermediate like the others (real key, real signatures): 1024 bits is
    below the signature policy's minimum (2048)."""
    ca = pki()
    agency = ca.agency_a if issuer == "agency_a" else ca.agency_b
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    cert = _issue(
        _name(f"Yoon RSA-{bits} (Chief Investigator)", agency.name),
        key,
        issuer=agency.intermediate,
        not_before=EE_NOT_BEFORE,
        not_after=EE_NOT_AFTER,
        key_usage=_key_usage(digital_signature=True, content_commitment=True),
        extended_key_usage=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
    )
    return Identity(f"rsa{bits}_a", cert, key, (agency.intermediate.cert,), agency.root.cert)


def pem_bundle(*identities: Identity) -> bytes:
    return b"".join(identity.pem for identity in identities)


# --- PDFs ---------------------------------------------------------------------------------------------


def make_pdf(pages: int = 1, *, title: str = "Warrant") -> bytes:
    """A small, valid, unsigned PDF with ``pages`` pages of text (hand-written objects, exact xref)."""
    objects: list[bytes] = []  # object n is objects[n - 1]
    page_ids = [4 + 2 * i for i in range(pages)]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % n for n in page_ids), pages))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for number in range(1, pages + 1):
        text = f"{title}, page {number} of {pages}".encode("ascii")
        lines = [b"BT /F1 14 Tf 72 770 Td (" + text + b") Tj ET"]
        lines += [b"BT /F1 10 Tf 72 %d Td (Line %d of the warrant text.) Tj ET" % (740 - 14 * i, i) for i in range(30)]
        content = b"\n".join(lines)
        page_id = 4 + 2 * (number - 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


class _DatedPdfSigner(signers.PdfSigner):
    """PdfSigner whose signing session claims ``system_time`` (the /M entry and the signingTime attribute)."""

    def __init__(self, *args, system_time: dt.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._system_time = system_time

    def init_signing_session(self, pdf_out, existing_fields_only=False) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._system_time
        return session


def timestamper(at: dt.datetime = SIGNED, tsa: Identity | None = None) -> timestamps.DummyTimeStamper:
    """A timestamp authority that answers with the fixed time ``at`` (pyHanko's DummyTimeStamper)."""
    tsa = tsa or pki().tsa_a
    return timestamps.DummyTimeStamper(
        tsa_cert=tsa.asn1_cert(),
        tsa_key=tsa.asn1_key(),
        certs_to_embed=SimpleCertificateStore.from_certs([_asn1(c) for c in tsa.chain]),
        fixed_dt=at,
    )


def sign_pdf(
    pdf_bytes: bytes,
    signer: Identity,
    *,
    timestamp: bool | dt.datetime = False,
    tsa: Identity | None = None,
    embed_crl: bytes | Sequence[bytes] | None = None,
    revinfo_in: str = "dss",
    signing_time: dt.datetime | None = None,
    field_name: str = PDF_SIG_FIELD,
    certify: bool = False,
) -> bytes:
    """Sign ``pdf_bytes`` (incremental update) as ``signer`` with pyHanko; returns the signed PDF.

    - ``signing_time``: the time the signer claims (signingTime attribute and /M); default ``SIGNED``.
    - ``timestamp``: True (at the signing time) or a datetime: add a signature timestamp token from
      ``tsa`` (default: agency A's test TSA, ``tsa_a``).
    - ``embed_crl``: one or more DER CRLs to embed as revocation data, through pyHanko's own
      ``embed_validation_info`` (a ValidationContext carrying the CRLs): with ``revinfo_in="dss"``
      a PAdES signature and a DSS update after it, with ``revinfo_in="signature"`` an
      adbe.pkcs7.detached signature with the Adobe revocation-info attribute.
    """
    claimed = signing_time or SIGNED
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
    validation_context = None
    subfilter = fields.SigSeedSubFilter.PADES
    if embed_crl is not None:
        crls = [embed_crl] if isinstance(embed_crl, bytes) else list(embed_crl)
        validation_context = ValidationContext(
            trust_roots=[_asn1(signer.root)] if signer.root else [],
            other_certs=[_asn1(c) for c in signer.chain],
            crls=crls,
            moment=claimed,
            retroactive_revinfo=True,
            allow_fetching=False,
        )
        if revinfo_in == "signature":
            subfilter = fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED
        elif revinfo_in != "dss":
            raise ValueError("revinfo_in must be 'dss' or 'signature'")
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=subfilter,
        embed_validation_info=embed_crl is not None,
        validation_context=validation_context,
        certify=certify,
        reason="Lawful access warrant",
        location="Seoul",
        signer_key_usage={"digital_signature"},
    )
    ts = None
    if timestamp:
        ts = timestamper(timestamp if isinstance(timestamp, dt.datetime) else claimed, tsa)
    pdf_signer = _DatedPdfSigner(meta, signer.pyhanko_signer(), timestamper=ts, system_time=claimed)
    out = io.BytesIO()
    asyncio.run(pdf_signer.async_sign_pdf(writer, output=out))
    return out.getvalue()


def add_page_incrementally(signed_pdf: bytes, *, text: str = "Added after signing") -> bytes:
    """Append an incremental update that adds a page (content changed after signing: MODIFIED)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf), strict=False)
    content = f"BT /F1 14 Tf 72 770 Td ({text}) Tj ET".encode("ascii")
    stream = writer.add_object(generic.StreamObject(stream_data=content))
    font = writer.add_object(
        generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Font"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
                generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
            }
        )
    )
    page = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Page"),
            generic.pdf_name("/MediaBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 595, 842))),
            generic.pdf_name("/Resources"): generic.DictionaryObject(
                {generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font})}
            ),
            generic.pdf_name("/Contents"): stream,
        }
    )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()  # the original bytes followed by the update


def encrypt_pdf(pdf_bytes: bytes, *, user_password: str = "secret", owner_password: str = "owner") -> bytes:
    """A password-encrypted copy of ``pdf_bytes`` (pyHanko's writer, RC4/AES standard security handler)."""
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf_bytes), strict=False))
    writer.encrypt(owner_password, user_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt_signature_contents(signed_pdf: bytes) -> bytes:
    """Overwrite the start of the hex /Contents of the (last) signature with garbage of the same length."""
    start = signed_pdf.rindex(b"/Contents <") + len(b"/Contents <")
    return signed_pdf[:start] + b"DEADBEEF" * 8 + signed_pdf[start + 64 :]


def flip_signed_byte(signed_pdf: bytes, marker: bytes = b"Line 7 of") -> bytes:
    """Change one byte inside the signed range (in the page text): the signature no longer matches."""
    position = signed_pdf.index(marker)
    return signed_pdf[:position] + b"X" + signed_pdf[position + 1 :]


# --- detached CMS ----------------------------------------------------------------------------------


def detached_cms(pdf_bytes: bytes, signer: Identity, *, pem: bool = False) -> bytes:
    """A detached CMS signature (.p7s) over ``pdf_bytes``: DER (or PEM), with the signer's chain included."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(pdf_bytes).add_signer(signer.cert, signer.key, hashes.SHA256())
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    options = [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.DetachedSignature]
    encoding = serialization.Encoding.PEM if pem else serialization.Encoding.DER
    return builder.sign(encoding, options)
