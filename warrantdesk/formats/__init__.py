"""Date formats per language (``FORMAT_MODULE_PATH``): ``en/formats.py``, ``ko/formats.py``.

Display follows the reader's language (``{{ value|date:"SHORT_DATETIME_FORMAT" }}``: English
``2026-12-04 14:30``, Korean ``2026. 12. 4. 오후 2:30``). Input is the same in both languages, so a
date typed the way either language writes it is accepted whatever the page's language:
ISO (what ``<input type="datetime-local">`` sends), the Korean dotted form, ``2026년 12월 4일``, and
오전/오후 or AM/PM with a 12-hour clock (see ``warrantdesk.dates``).
"""

DATE_INPUT_FORMATS = [
    "%Y-%m-%d",  # 2026-12-04, what <input type="date"> sends
    "%Y. %m. %d.",  # 2026. 12. 4.
    "%Y. %m. %d",
    "%Y.%m.%d",  # 2026.12.04
    "%Y/%m/%d",
    "%Y년 %m월 %d일",  # 2026년 12월 4일
]

_TIMES = ["%H:%M", "%H:%M:%S", "%I:%M %p", "%p %I:%M"]  # 14:30, 2:30 PM, PM 2:30 (오후 2:30, normalised)

DATETIME_INPUT_FORMATS = [
    "%Y-%m-%dT%H:%M",  # what <input type="datetime-local"> sends
    "%Y-%m-%dT%H:%M:%S",
    *(f"{day} {time}" for day in DATE_INPUT_FORMATS for time in _TIMES),
    "%Y년 %m월 %d일 %H시 %M분",
    "%Y년 %m월 %d일 %p %I시 %M분",
]
