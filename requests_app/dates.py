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
from django.utils.translation import gettext as _

CLOCK_SKEW = dt.timedelta(minutes=5)


def _shown(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


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
