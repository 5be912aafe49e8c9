"""The rules on the dates of a received document, in one place.

Used by the models' ``clean()`` (admin, model forms), the web forms, the API serializers and the
services (the last word: the command line and any other caller go through them too).

Clock skew: the officer's computer, the agency's signing device and the server do not share one
clock, and the web form takes minutes, not seconds. A moment up to ``CLOCK_SKEW`` (5 minutes) in
the future is taken as "now", and a signature claiming to be made up to 5 minutes after the receipt
is not flagged. Anything beyond is refused (a receipt in the future) or shown as a warning (a
signature made after the document arrived).
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

CLOCK_SKEW = dt.timedelta(minutes=5)


def _shown(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def receipt_errors(
    *, received_at: dt.datetime | None, deadline: dt.datetime | None, now: dt.datetime | None = None, what: str = ""
) -> dict[str, str]:
    """Field name -> message for the receipt time and the deadline of a warrant or follow-up request.

    - the receipt time may not be in the future (beyond ``CLOCK_SKEW``);
    - the deadline must be after the receipt time.

    ``what`` names the document in the deadline message ("request" for a follow-up request, else the
    warrant). Either value may be None (a field that failed its own validation): its rules are skipped.
    """
    now = now or timezone.now()
    errors = {}
    if received_at is not None and received_at > now + CLOCK_SKEW:
        errors["received_at"] = _(
            "The receipt time %(received)s is in the future. Enter when the document actually arrived."
        ) % {"received": _shown(received_at)}
    if received_at is not None and deadline is not None and deadline <= received_at:
        if what == "request":
            errors["deadline"] = _("The deadline must be after the request was received.")
        else:
            errors["deadline"] = _("The deadline must be after the warrant was received (%(received)s).") % {
                "received": _shown(received_at)
            }
    return errors


def signed_after_receipt(*, signing_time: dt.datetime | None, received_at: dt.datetime) -> bool:
    """Does a signature claim (or a timestamp prove) it was made after its document arrived?"""
    return signing_time is not None and signing_time > received_at + CLOCK_SKEW


SIGNED_AFTER_RECEIPT = "signed_after_receipt"
TIMESTAMPED_AFTER_RECEIPT = "timestamped_after_receipt"


def signature_warnings(findings, *, received_at: dt.datetime) -> list[dict]:
    """Warnings for signatures made (as claimed, or as a trusted timestamp proves) after their
    document was received, beyond ``CLOCK_SKEW``: a document cannot be signed after it arrived, so the
    receipt time is wrong or the file is not the one received. Stored with the verdict as
    ``{"code", "signature", "signing_time", "received_at"}`` (ISO 8601), shown by ``warning_message``."""
    warnings = []
    for finding in findings:
        for code, moment in (
            (TIMESTAMPED_AFTER_RECEIPT, finding.timestamp),
            (SIGNED_AFTER_RECEIPT, finding.signing_time),
        ):
            if signed_after_receipt(signing_time=moment, received_at=received_at):
                warnings.append(
                    {
                        "code": code,
                        "signature": finding.name,
                        "signing_time": moment.isoformat(),
                        "received_at": received_at.isoformat(),
                    }
                )
                break  # a proven time says it all; the claimed one adds nothing
    return warnings


def warning_message(warning: dict) -> str:
    """A stored signature warning in the reader's language ("" values are shown as stored)."""

    def shown(value) -> str:
        moment = parse_datetime(value or "") if isinstance(value, str) else None
        return _shown(moment) if moment is not None else str(value or "")

    values = {"signed": shown(warning.get("signing_time")), "received": shown(warning.get("received_at"))}
    if warning.get("code") == TIMESTAMPED_AFTER_RECEIPT:
        return (
            _(
                "A trusted timestamp shows the document was signed on %(signed)s, after it was received "
                "(%(received)s). A document cannot be signed after it arrived: check the receipt time, or whether "
                "this file is the one that was received."
            )
            % values
        )
    if warning.get("code") == SIGNED_AFTER_RECEIPT:
        return (
            _(
                "The signature claims to have been made on %(signed)s, after the document was received "
                "(%(received)s). A document cannot be signed after it arrived: check the receipt time, or whether "
                "this file is the one that was received."
            )
            % values
        )
    return str(warning.get("code", ""))
