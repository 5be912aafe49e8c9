"""The reason sentences the signature check stores, and the helpers that fill them in.

Reasons are stored in English and shown in the reader's language (``warrantdesk.stored_text``):
a fixed sentence is marked with gettext_noop, a sentence with values is a template declared here.
They are declared in one module, in one order, so that the templates are registered in the same
order as ever. A few one-off sentences are marked with gettext_noop where they are made."""

from __future__ import annotations

import datetime as dt

from warrantdesk.stored_text import gettext_noop, template

from .certificates import _utc

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

WEAK_ALGORITHM_FALLBACK = gettext_noop(
    "The signature or its certificates use an algorithm that is no longer considered secure."
)

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


def _when(moment: dt.datetime) -> str:
    return f"{_utc(moment):%Y-%m-%d %H:%M} UTC"


def _day(moment: dt.datetime) -> str:
    return f"{_utc(moment):%Y-%m-%d}"


def _because(reason: str) -> str:
    """ "key compromise" from a CRL reason name such as key_compromise / keyCompromise ("" if none)."""
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in reason).replace("_", " ").strip()
    if not words or words == "unspecified":
        return ""
    return words


def _revoked_on(who: str, date: dt.datetime, reason: str, point: str) -> str:
    values = {"who": who, "date": _when(date), "because": _because(reason), "point": point}
    return (REVOKED_ON_BECAUSE if values["because"] else REVOKED_ON) % values
