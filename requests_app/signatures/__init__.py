"""Cryptographic verification of warrant documents (pyHanko). Pure: no Django, no database.

The caller passes the issuing agency's trust anchors and the moment to validate at (the warrant's
recorded receipt time). This package says, per signature, whether it is technically sound:
intact, covering the whole document, chaining to an anchor, within its validity, not revoked.
Whether the signer is a registered chief investigator of the right agency is decided by
``requests_app.verification`` against the registry, from the fingerprint reported here.

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

The modules (the public API is what this package re-exports; the rest is private to it):

- ``certificates``: loading certificates, ``CertificateInfo``, the registry's chain check
  (``chains_to``, ``chain_validity_problem``); ``cryptography`` only, no pyHanko.
- ``results``: ``Outcome``, ``SignatureFinding``, ``DocumentFindings``.
- ``reasons``: the stored reason sentences and templates.
- ``trust``: anchors, the validation context, ``ALGORITHM_POLICY`` and ``weak_key``.
- ``revocation``: embedded revocation data and the revocation policies.
- ``timestamps``: the signature timestamp and the validation moment.
- ``signer``: pyHanko's verdict on the signer, mapped to an outcome with reasons.
- ``pdf`` (``verify_pdf``) and ``cms`` (``verify_detached``): the two entry points.
- ``runtime``: running pyHanko's async validation, its loggers quiet.

pyHanko calls outside its documented public surface are marked ``# pyHanko internal:`` where they
are made: re-check them when upgrading pyHanko.
"""

import importlib
from typing import TYPE_CHECKING, Any

from .certificates import (
    CertificateInfo,
    ValidityProblem,
    certificate_info,
    chain_validity_problem,
    chains_to,
    load_certificates,
)
from .reasons import (
    AN_AUTHORITY_ABOVE,
    AT_POINT,
    AT_RECEIPT,
    AT_TIMESTAMP,
    AUTHORITY_KEY_TOO_SMALL,
    CERTIFICATE_WITH_REFUSED_DIGEST,
    CLAIMED_SIGNING_TIME,
    CRL_REASONS,
    FORM_FIELDS_CHANGED,
    HAD_EXPIRED,
    NO_REVOCATION_DATA,
    NOT_YET_VALID,
    REVOCATION_DATA_NOT_FOR_SIGNER,
    REVOCATION_DATA_UNUSABLE,
    REVOKED_BEFORE,
    REVOKED_ON,
    REVOKED_ON_BECAUSE,
    SIGNED_WITH_REFUSED_DIGEST,
    SIGNER_KEY_TOO_SMALL,
    THE_AUTHORITY,
    THE_SIGNERS_CERTIFICATE,
    TIMESTAMP_SHOWS,
    UNSUPPORTED_FORMAT,
    WEAK_ALGORITHM_FALLBACK,
)
from .results import DocumentFindings, Outcome, SignatureFinding

if TYPE_CHECKING:
    from .cms import verify_detached
    from .pdf import verify_pdf
    from .trust import ALGORITHM_POLICY, WeakKey, weak_key

# pyHanko (with aiohttp, which it imports for its timestamp client) is about 20 MB in every process that
# imports it, and most never check a signature: every web process imports this package through the
# registry and the admin, and an export process has no use for it. Its modules load on first use.
_LAZY = {
    "verify_detached": ".cms",
    "verify_pdf": ".pdf",
    "ALGORITHM_POLICY": ".trust",
    "WeakKey": ".trust",
    "weak_key": ".trust",
}


def __getattr__(name: str) -> Any:
    if (module := _LAZY.get(name)) is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ALGORITHM_POLICY",
    "AN_AUTHORITY_ABOVE",
    "AT_POINT",
    "AT_RECEIPT",
    "AT_TIMESTAMP",
    "AUTHORITY_KEY_TOO_SMALL",
    "CERTIFICATE_WITH_REFUSED_DIGEST",
    "CLAIMED_SIGNING_TIME",
    "CRL_REASONS",
    "FORM_FIELDS_CHANGED",
    "HAD_EXPIRED",
    "NOT_YET_VALID",
    "NO_REVOCATION_DATA",
    "REVOCATION_DATA_NOT_FOR_SIGNER",
    "REVOCATION_DATA_UNUSABLE",
    "REVOKED_BEFORE",
    "REVOKED_ON",
    "REVOKED_ON_BECAUSE",
    "SIGNED_WITH_REFUSED_DIGEST",
    "SIGNER_KEY_TOO_SMALL",
    "THE_AUTHORITY",
    "THE_SIGNERS_CERTIFICATE",
    "TIMESTAMP_SHOWS",
    "UNSUPPORTED_FORMAT",
    "WEAK_ALGORITHM_FALLBACK",
    "CertificateInfo",
    "DocumentFindings",
    "Outcome",
    "SignatureFinding",
    "ValidityProblem",
    "WeakKey",
    "certificate_info",
    "chain_validity_problem",
    "chains_to",
    "load_certificates",
    "verify_detached",
    "verify_pdf",
    "weak_key",
]
