"""Trust as pyHanko judges it: the agency's anchors split for pyHanko, the validation context at a
moment (nothing fetched, retroactive revocation data), the algorithm and key-size policy
(``ALGORITHM_POLICY``, ``weak_key``) and the words for what it refused, the key usage that allows
signing, and the validity window of a certificate at the validation moment."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms as asn1_cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, DisallowWeakAlgorithmsPolicy, RevocationCheckingPolicy

from .certificates import _issued_by, _load_x509, _may_issue
from .reasons import (
    AUTHORITY_KEY_TOO_SMALL,
    CERTIFICATE_WITH_REFUSED_DIGEST,
    HAD_EXPIRED,
    NOT_YET_VALID,
    SIGNED_WITH_REFUSED_DIGEST,
    SIGNER_KEY_TOO_SMALL,
    _day,
)
from .revocation import _Revinfo

# The algorithm policy pyHanko applies to the signature and to every certificate of its path:
# pyHanko's own default (RSA keys of at least 2048 bits, DSA of at least 3192, no MD5 or SHA-1),
# made explicit so that a refusal can name the same numbers the check enforced.
ALGORITHM_POLICY = DisallowWeakAlgorithmsPolicy()

# Key usage that allows signing: either bit is enough.
_SIGNING_KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"},
    match_all_key_usages=False,
)


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


def _key_usage_allows_signing(cert: asn1_x509.Certificate) -> bool:
    usage = cert.key_usage_value
    if usage is None:
        return True  # no key usage extension: no restriction
    return bool({"digital_signature", "non_repudiation"} & set(usage.native))


def _validity_problem(cert: asn1_x509.Certificate, moment: dt.datetime, when: str, *, who: str) -> str | None:
    not_before, not_after = cert.not_valid_before, cert.not_valid_after
    span = {"who": who, "when": when, "start": _day(not_before), "end": _day(not_after)}
    if moment > not_after:
        return HAD_EXPIRED % span
    if moment < not_before:
        return NOT_YET_VALID % span
    return None


# pyHanko internal: the policy's key-size thresholds, read back from the attributes its constructor
# stores, so that a refusal names the same minimum pyHanko enforced.
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
