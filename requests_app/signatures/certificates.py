"""Certificates with the ``cryptography`` library alone (no pyHanko): loading PEM, DER and PKCS #7
bundles, the summary the registry stores (``CertificateInfo``: subject, issuer, SHA-256
fingerprint, validity), and the registry's own chain check (``chains_to``,
``chain_validity_problem``): does a certificate lead to one of an agency's anchors, at a moment."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7


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


def _x509(cert: asn1_x509.Certificate) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(cert.dump())
    except ValueError:
        return None
