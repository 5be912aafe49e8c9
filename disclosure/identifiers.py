"""Normalising the identifiers a warrant names, so "010-1234-5678", "+82 10 1234 5678" and
"01012345678" find the same account. Pure: no Django."""

import re

_NON_DIGITS = re.compile(r"[^\d+]")


def normalize_phone(value: str) -> str | None:
    """E.164 form for Korean and international numbers ("+821012345678"); None if not a number."""
    raw = _NON_DIGITS.sub("", value or "")
    if raw.startswith("+"):
        digits = raw[1:].replace("+", "")
    elif raw.startswith("00"):
        digits = raw[2:]
    elif raw.startswith("0"):
        digits = "82" + raw[1:]  # a domestic Korean number
    else:
        digits = raw
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        return None
    if digits.startswith("820"):
        digits = "82" + digits[3:]  # "+82 010 ..." written with the trunk zero
    return "+" + digits


def normalize_email(value: str) -> str:
    return (value or "").strip().lower()
