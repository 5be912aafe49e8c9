"""Korean date formats: 2026. 12. 4. 오후 2:30 in tables, 2026년 12월 4일 in prose."""

from warrantdesk.formats import DATE_INPUT_FORMATS, DATETIME_INPUT_FORMATS  # noqa: F401

DATE_FORMAT = "Y년 n월 j일"
DATETIME_FORMAT = "Y년 n월 j일 A g:i"
TIME_FORMAT = "A g:i"
SHORT_DATE_FORMAT = "Y. n. j."
SHORT_DATETIME_FORMAT = "Y. n. j. A g:i"
DATE_INPUT_EXAMPLE = "2026-12-04, 2026. 12. 4."
DATETIME_INPUT_EXAMPLE = "2026-12-04 14:30, 2026. 12. 4. 오후 2:30"
