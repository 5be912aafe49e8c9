"""English date formats: ISO-like in tables and forms, as before. Input as in every language."""

from warrantdesk.formats import DATE_INPUT_FORMATS, DATETIME_INPUT_FORMATS  # noqa: F401

DATE_FORMAT = "N j, Y"
DATETIME_FORMAT = "N j, Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
# Shown next to date inputs (help text): what to type.
DATE_INPUT_EXAMPLE = "2026-12-04"
DATETIME_INPUT_EXAMPLE = "2026-12-04 14:30"
