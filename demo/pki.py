"""A throw-away PKI for the demo data of ``make run``: each demo agency gets a root CA, a chief
investigator and an ordinary investigator, so the demo warrants carry real signatures that the
real check verifies. Keys live in the data directory (mode 0600) so re-running seed_demo can sign
again. Used by ``seed_demo`` and, in demo mode only, by the sample documents to download
(demo.samples).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore


@dataclass(frozen=True)
class DemoIdentity:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(subject: x509.Name, key, issuer: DemoIdentity | None, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name = issuer.cert.subject if issuer else subject
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=3650 if ca else 730))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def _load_or_make(directory: Path, name: str, subject: x509.Name, issuer: DemoIdentity | None, *, ca: bool):
    key_path, cert_path = directory / f"{name}.key.pem", directory / f"{name}.cert.pem"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):  # every demo key is made below, on P-256
            raise ValueError(f"{key_path} does not hold an elliptic-curve key")
        return DemoIdentity(x509.load_pem_x509_certificate(cert_path.read_bytes()), key)
    key = ec.generate_private_key(ec.SECP256R1())
    identity = DemoIdentity(_issue(subject, key, issuer, ca=ca), key)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    cert_path.write_bytes(identity.pem)
    return identity


@dataclass(frozen=True)
class DemoAgencyPKI:
    root: DemoIdentity
    chief: DemoIdentity
    investigator: DemoIdentity


def agency_pki(directory: Path, code: str, organisation: str, chief: str, investigator: str) -> DemoAgencyPKI:
    directory = directory / code
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = _load_or_make(directory, "root", _name(f"{organisation} Demo Root CA", organisation), None, ca=True)
    return DemoAgencyPKI(
        root=root,
        chief=_load_or_make(directory, "chief", _name(chief, organisation), root, ca=False),
        investigator=_load_or_make(directory, "investigator", _name(investigator, organisation), root, ca=False),
    )


class _DatedPdfSigner(signers.PdfSigner):
    """A PdfSigner whose signature claims ``signed_at`` (the /M entry and the signingTime attribute)."""

    def __init__(self, *args, signed_at: dt.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._signed_at = signed_at

    def init_signing_session(self, pdf_out, existing_fields_only=False):
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signed_at
        return session


def sign_pdf(pdf: bytes, identity: DemoIdentity, root: DemoIdentity, *, signed_at: dt.datetime | None = None) -> bytes:
    """A PAdES signature over the whole ``pdf`` by ``identity``, claiming ``signed_at`` (default: now).

    A sample document to download claims a moment before the receipt time the form suggests: a
    document cannot have been signed after it arrived."""

    def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    signer = signers.SimpleSigner(
        signing_cert=asn1(identity.cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            identity.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([asn1(root.cert)]),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    output = io.BytesIO()
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES)
    if signed_at is None:
        signers.sign_pdf(writer, meta, signer=signer, output=output)
    else:
        _DatedPdfSigner(meta, signer, signed_at=signed_at).sign_pdf(writer, output=output)
    return output.getvalue()
