"""KakaoTalk "export chat" files: recognising the format and reading the messages. Pure Python, no Django.

Formats (``detect_format`` names them; one example line each):

``pc_ko``       Windows or Mac PC, Korean. Date separators carry the day, messages only the time::

                    --------------- 2021년 5월 1일 토요일 ---------------
                    [홍길동] [오후 3:12] 안녕하세요

``pc_en``       Windows or Mac PC, English::

                    --------------- Saturday, May 1, 2021 ---------------
                    [Hong Gildong] [3:12 PM] Hello

``android_ko``  Android, Korean (a bare "2021년 5월 1일 오후 3:12" line before each message is a date line)::

                    2021년 5월 1일 오후 3:12, 홍길동 : 안녕하세요

``android_en``  Android, English (a bare stamp line before each message, as in Korean)::

                    May 1, 2021, 3:12 PM, Hong Gildong : Hello

``android_en_old``  older Android, English: the time first ("Date Saved : 1:01am, August 3, 2015")::

                    8:34pm, July 9, 2015, Hong Gildong : Hello

``android_en_dmy``  Android, English with day-month-year dates (UK-style locales)::

                    9 July 2015 20:34, Hong Gildong : Hello

``ios_ko``      iPhone, Korean (date lines "2021년 5월 1일 토요일"; older files begin "Talk_2015.8.3 01:01-1.txt")::

                    2021. 5. 1. 오후 3:12, 홍길동 : 안녕하세요

``ios_en``      iPhone, English (date lines "Saturday, May 1, 2021"; "at" before the time, abbreviated months)::

                    May 1, 2021, 3:12 PM, Hong Gildong : Hello
                    Jul 9, 2015 at 8:34 PM, Hong Gildong : Hello

``mobile_ymd``  phones set to numeric dates, either language (seen from iPhones and Korean Android)::

                    2015/07/09 20:34, Hong Gildong : Hello
                    2019-03-30 오전 4:39, 홍길동 : 안녕하세요

``csv``         the Mac (older) and PC CSV export, any language::

                    Date,User,Message
                    2021-05-01 15:12:00,"홍길동","안녕하세요"

Rules common to all formats:

* In every mobile format the clock may be 12-hour or 24-hour, with seconds or not; the day period is
  오전/오후 (also 새벽, 아침, 낮, 저녁, 밤) before the time or AM/PM after it in any case, with or without
  dots and a space ("8:34pm", "8:34 P.M."). A system line's stamp ends in ", " or ": ". Date lines
  ("2015년 7월 9일 목요일", "Thursday, July 9, 2015", "Thursday 9 July 2015", a PC-style dashed separator)
  and bare stamp lines end the message above them. Each file is read in the one stamp shape it was
  detected in: a continuation line that starts like another shape's header is text.
* Mobile exports label the device owner's own lines "회원님", "나" or "You" (``is_self_label``; "회원님이
  …님을 초대했습니다" names "회원님" too). The parser keeps the label; the store maps it (``--me``).
* The times are local times without a zone: they are read in the zone given to ``parse`` (aware
  datetimes). 오전 12:xx is 00:xx and 오후 12:xx is 12:xx; 12:xx AM and PM likewise. A 24-hour clock
  (no 오전/오후, no AM/PM) is read as such.
* A line that is not a message header, a date line or a system line continues the message before it
  (multi-line messages; their text is joined with "\\n", trailing blank lines dropped). A line is
  *unreadable* (``ParseError``) only where no message is open, where a line shaped like a message
  header has an impossible date or time, or, in CSV, for a row with a wrong column count or date.
  The lines that follow an unreadable header belong to it and are not reported again.
* A sender's name is everything between the time and the first " : " ("2021년 …, 이름 : 본문"). A
  name that itself contains " : " is recognised when it is known: given in ``known_senders`` (the
  mapping file's names) or seen in a system line ("A : B님이 들어왔습니다.", itself read as a system
  line unless "A" is a known name).
* A sender's name and text are split at " : "; failing that, at a colon with spaces on one side
  ("name: text", "name :text").
* Media are placeholders: 사진 / Photo / (사진) → PHOTO, 동영상 / Video → VIDEO, 이모티콘 / Emoticon →
  EMOTICON, "파일: report.pdf" / "File: report.pdf" → FILE. The placeholder is kept as the body.
* System lines (joined, left, invited, removed) are kind SYSTEM, with ``event`` describing them and
  ``sender`` set to the account they are about: the one who joined or left, the one who invited, the
  one who removed someone (or the one removed, when no one is named as doing it). A system line that
  names no one has ``sender=None``. On PC, a system line has no time of its own. A join or an
  invitation takes the first time known after it (it happened before that): the next message's, or
  midnight of the next date line (at the end of the file, the last time known). A leave or a removal
  takes the last time known before it (it happened after that): the previous message's, or midnight
  of its date line. So a membership never takes in a message its member could not have seen.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

FORMATS = (
    "pc_ko",
    "pc_en",
    "android_ko",
    "android_en",
    "android_en_old",
    "android_en_dmy",
    "ios_ko",
    "ios_en",
    "mobile_ymd",
    "csv",
)


class Kind(StrEnum):
    """The same values as ``disclosure.models.Message.Kind``."""

    TEXT = "TEXT"
    PHOTO = "PHOTO"
    VIDEO = "VIDEO"
    FILE = "FILE"
    EMOTICON = "EMOTICON"
    SYSTEM = "SYSTEM"


class Action(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    INVITE = "invite"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class SystemEvent:
    """A membership change: ``actor`` invited or removed ``subjects``; for JOIN and LEAVE, ``subjects``
    holds the one who joined or left and ``actor`` is None."""

    action: Action
    subjects: tuple[str, ...]
    actor: str | None = None

    @property
    def names(self) -> list[str]:
        """Everyone the line names: the subjects, then the actor."""
        return [*self.subjects, *([self.actor] if self.actor else [])]

    @property
    def account_name(self) -> str | None:
        """The name the system line is attributed to."""
        if self.action in (Action.INVITE, Action.REMOVE) and self.actor:
            return self.actor
        return self.subjects[0] if self.subjects else None


@dataclass(slots=True)
class ParsedLine:
    """One message: its header is on ``line_no``, its last continuation line on ``end_line_no``."""

    line_no: int
    sender: str | None
    sent_at: dt.datetime
    kind: Kind
    body: str
    end_line_no: int
    event: SystemEvent | None = None


@dataclass(frozen=True, slots=True)
class ParseError:
    """A line that cannot be read; the import of the rest goes on."""

    line_no: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.reason}"


class UnknownFormat(ValueError):
    pass


# --- reading the bytes ------------------------------------------------------------------------------


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text of an export and the encoding used: UTF-8 (with or without BOM), UTF-16 with a BOM, else
    CP949 (old Windows exports). With ``encoding`` given, only that one (UnicodeDecodeError otherwise)."""
    if encoding:
        return data.decode(encoding), encoding
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp949"), "cp949"
        except UnicodeDecodeError:
            raise utf8_error from None


def split_lines(text: str) -> list[str]:
    """Physical lines as ``cat -n`` counts them: split at LF, a CR before it dropped (CRLF and LF files
    alike). Other separators (U+2028, form feeds) stay inside the line they are in."""
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# --- dates and times --------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# Day periods of a 12-hour clock: the Korean words KakaoTalk and phone locales print, and am/pm in any
# case, with or without dots ("AM", "am", "a.m.", "A. M."). 오전, 새벽, 아침: before noon; 오후, 저녁: after.
# 낮 (daytime) is after noon except 7 to 11 (morning hours); 밤 (night) is after noon from 6 to 11, and
# 12, 1 to 5 are past midnight.
_AM_WORDS = frozenset({"오전", "새벽", "아침", "am"})
_PM_WORDS = frozenset({"오후", "저녁", "pm"})
_PERIODS_KO = "오전|오후|새벽|아침|낮|저녁|밤"


def _month(name: str) -> int:
    try:
        return _MONTHS[name.rstrip(".").lower()]
    except KeyError:
        raise ValueError(name) from None


def _date(year: str, month: str, day: str, text: str) -> dt.date:
    try:
        return dt.date(int(year), _month(month) if not month.isdigit() else int(month), int(day))
    except ValueError:
        raise ValueError(f"cannot read the date '{text}'") from None


def _hour(period: str, hour: int) -> int:
    period = period.replace(".", "").replace(" ", "").lower()
    if period in _AM_WORDS:
        return hour % 12
    if period in _PM_WORDS:
        return hour % 12 + 12
    if period == "낮":
        return hour if 7 <= hour <= 11 else hour % 12 + 12
    if period == "밤":
        return hour + 12 if 6 <= hour <= 11 else hour % 12
    raise ValueError(period)


def _time(ampm: str | None, hour: str, minute: str, second: str | None, text: str) -> dt.time:
    h, m, s = int(hour), int(minute), int(second or 0)
    if ampm:
        if not 0 <= h <= 12:
            raise ValueError(f"cannot read the time '{text}'")
        h = _hour(ampm, h)
    if not (0 <= h <= 23 and 0 <= m <= 59 and 0 <= s <= 59):
        raise ValueError(f"cannot read the time '{text}'")
    return dt.time(h, m, s)


def _at(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=tz)


# --- line shapes ------------------------------------------------------------------------------------
#
# A mobile message header is a time stamp, then ", name : text" (a message) or ", text" / ": text" (a
# system line). The stamp is a date and a time in one of these orders and spellings:
#
#   ko    2015년 7월 9일 오후 8:34          dots  2015. 7. 9. 오후 8:34 (also 2015.7.9. 20:34)
#   ymd   2015/07/09 20:34, 2019-03-30 오전 4:39
#   mdy   July 9, 2015, 8:34 PM / Jul 9, 2015 at 8:34 PM / Jul 16, 2020 22:23
#   dmy   9 July 2015 20:34 / 9 Jul 2015, 8:34 pm
#   mdy, time first (older Android, English): 8:34pm, July 9, 2015
#
# The time: an optional Korean day period before it (오전 8:34, 새벽 2:10), an optional am/pm after it
# (8:34 PM, 8:34pm, 8:34 a.m.), seconds optional; without either it is a 24-hour clock. One file keeps
# one stamp shape (``_SHAPES``): a continuation line that happens to start with another shape's stamp
# stays text.

_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MON = rf"(?i:{_MONTH_NAMES})\.?"
_WEEKDAY_KO = r"(?:\(?[월화수목금토일]요일\)?|\([월화수목금토일]\))"
_WEEKDAY_EN = r"(?i:(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs?)?|Fri|Sat(?:ur)?|Sun)(?:day)?\.?)"
_WEEKDAY = re.compile(rf"{_WEEKDAY_KO}|{_WEEKDAY_EN}")


def _date_pattern(form: str) -> str:
    body = {
        "ko": r"(?P<y>\d{4})년 ?(?P<mo>\d{1,2})월 ?(?P<d>\d{1,2})일",
        "dots": r"(?P<y>\d{4})\. ?(?P<mo>\d{1,2})\. ?(?P<d>\d{1,2})\.?",
        "ymd": r"(?P<y>\d{4})(?P<dsep>[-/])(?P<mo>\d{1,2})(?P=dsep)(?P<d>\d{1,2})",
        "mdy": rf"(?P<mon>{_MON}) (?P<d>\d{{1,2}}),? (?P<y>\d{{4}})",
        "dmy": rf"(?P<d>\d{{1,2}}) (?P<mon>{_MON}),? (?P<y>\d{{4}})",
    }[form]
    return f"(?P<date>{body})"


_TIME = (
    rf"(?P<time>(?:(?P<ap>{_PERIODS_KO}) ?)?(?P<h>\d{{1,2}}):(?P<mi>\d{{2}})(?::(?P<s>\d{{2}}))?"
    r"(?: ?(?P<ap2>[AaPp]\.? ?[Mm]\.?))?)"
)
_DATE_FORMS = ("ko", "dots", "ymd", "mdy", "dmy")


def _stamp(form: str, time_first: bool) -> str:
    date = _date_pattern(form)
    return rf"{_TIME},? {date}" if time_first else rf"{date}(?:,? (?:at )?| ){_TIME}"


@dataclass(frozen=True, slots=True)
class _Shape:
    """How one mobile format writes its time stamps: the header of a message or system line, and a
    line that is only a stamp (Android prints one before each message)."""

    header: re.Pattern
    bare: re.Pattern


def _shape(form: str, time_first: bool = False) -> _Shape:
    stamp = _stamp(form, time_first)
    return _Shape(
        header=re.compile(rf"^(?P<stamp>{stamp}) ?(?P<sep>[,:])(?: +(?P<rest>.*)|$)"),
        bare=re.compile(rf"^{stamp},?\s*$"),
    )


_SHAPES: dict[str, _Shape] = {
    "android_ko": _shape("ko"),
    "ios_ko": _shape("dots"),
    "android_en": _shape("mdy"),
    "ios_en": _shape("mdy"),
    "android_en_old": _shape("mdy", time_first=True),
    "android_en_dmy": _shape("dmy"),
    "mobile_ymd": _shape("ymd"),
}

# A date line: a date in any of the forms, with its weekday ("2015년 7월 9일 목요일", "Thursday, July 9,
# 2015", "2015. 7. 9. 목요일", "Thursday 9 July 2015"). Without a weekday, a date alone on a line is text.
_DAY_LINES = [
    re.compile(rf"^(?:(?P<wd1>{_WEEKDAY_EN}),? )?{_date_pattern(form)}(?:,? (?P<wd2>{_WEEKDAY_KO}|{_WEEKDAY_EN}))?$")
    for form in _DATE_FORMS
]

_ENGLISH_DAY_LINE = re.compile(rf"^{_WEEKDAY_EN},? (?:{_MON} \d|\d{{1,2}} {_MON})")

# A whole stamp of any shape (the CSV export's Date column in other versions)
_STAMPS = [
    re.compile(rf"^{_stamp(form, time_first)}$")
    for form in _DATE_FORMS
    for time_first in (False, True)
    if form == "mdy" or not time_first
]

# PC: date separators and "[name] [time] text"
_PC_DATE = re.compile(r"^-{5,} (?P<date>.*\d{4}.*?) -{5,}$")
_PC_MESSAGE = re.compile(rf"^\[(?P<name>.+?)\] \[{_TIME}\](?: (?P<body>.*))?$")

# CSV
_CSV_HEADER = re.compile(r"^\ufeff?\s*date\s*,\s*user\s*,\s*message\s*$", re.IGNORECASE)
_CSV_DATE = re.compile(
    r"^(?P<y>\d{4})[-./] ?(?P<mo>\d{1,2})[-./] ?(?P<d>\d{1,2})\.?[ T](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?$"
)

# Header lines at the top of the text exports
_TITLE = [
    re.compile(r"^(?P<title>.+?)(?: \(\d+명\))?(?: 님)?[과와] 카카오톡 대화(?:-\d+)?(?:\.txt)?$"),
    re.compile(r"^KakaoTalk Chats with (?P<title>.+?)(?: \(\d+ people\))?(?:-\d+)?(?:\.txt)?$"),
    re.compile(r"^(?P<title>.+?) with KakaoTalk Chats$"),
]
_SAVED = re.compile(r"^(?:저장한 날짜|Date Saved)\s*:")
# The file name an iPhone export writes on its first line ("Talk_2015.8.3 01:01-1.txt")
_FILE_NAME = re.compile(r"^Talk_\d{4}\.\d{1,2}\.\d{1,2} \d{1,2}[:_]\d{2}(?:-\d+)?(?:\.txt)?$")
# Notices KakaoTalk prints into open-chat exports: not messages, not errors.
_NOTICE = re.compile(r"^(?:운영정책을 위반한 메시지로 신고 접수 시|신고 방법 ?>)")

# Media placeholders (a whole single-line body)
_MEDIA = re.compile(
    r"^(?:\(?(?:(?P<PHOTO>사진(?: \d+장)?|[Pp]hotos?|\d+ [Pp]hotos)|(?P<VIDEO>동영상|[Vv]ideos?)"
    r"|(?P<EMOTICON>이모티콘|[Ee]moticons?))\)?|(?P<FILE>(?:파일|[Ff]ile) ?: .+))$"
)

# System lines
_KO_JOIN = re.compile(r"^(?P<name>.+?)님이 들어왔습니다\.?$")
_KO_LEAVE = re.compile(r"^(?P<name>.+?)님이 나갔습니다\.?$")
_KO_INVITE = re.compile(r"^(?P<actor>.+?)님이 (?P<names>.+?)님을 초대(?:했|하였)습니다\.?$")
_KO_REMOVE = re.compile(r"^(?:채팅방 관리자가 |(?P<actor>.+?)님이 )?(?P<name>.+?)님을 내보냈습니다\.?$")
_EN_JOIN = re.compile(r"^(?P<name>.+?) (?:has )?joined this chat ?room\.?$", re.IGNORECASE)
_EN_LEAVE = re.compile(r"^(?P<name>.+?) (?:has )?left this chat ?room\.?$", re.IGNORECASE)
_EN_INVITE = re.compile(r"^(?P<actor>.+?) invited (?P<names>.+?)\.?$")
_EN_REMOVED = re.compile(r"^(?P<name>.+?) (?:has been|was) removed from this chat ?room\.?$", re.IGNORECASE)
_EN_REMOVE = re.compile(r"^(?P<actor>.+?) removed (?P<name>.+?) from this chat ?room\.?$", re.IGNORECASE)
_LOOSE_COLON = re.compile(r" +: *| *: +")
_SYSTEM_HINT = re.compile(r"님이 |님을 | joined | left | invited | removed ", re.IGNORECASE)
_KO_NAMES = re.compile(r"님(?:, |과 |와 )")
_EN_NAMES = re.compile(r",? and |, ")


def classify(body: str) -> Kind:
    """The kind of a (non-system) message from its text: a media placeholder, or TEXT."""
    if "\n" in body or len(body) > 300:
        return Kind.TEXT
    m = _MEDIA.match(body)
    return Kind(m.lastgroup) if m else Kind.TEXT


def _ko_name(name: str) -> str:
    """A name read before "님이" / "님을": the device owner's label "회원님" keeps its 님."""
    return "회원님" if name == "회원" else name


def system_event(text: str) -> SystemEvent | None:
    """The membership change a system line describes, or None."""
    if not _SYSTEM_HINT.search(text):
        return None
    text = text.strip()
    if m := _KO_JOIN.match(text):
        return SystemEvent(Action.JOIN, (_ko_name(m["name"]),))
    if m := _KO_LEAVE.match(text):
        return SystemEvent(Action.LEAVE, (_ko_name(m["name"]),))
    if m := _KO_INVITE.match(text):
        names = tuple(_ko_name(name.strip()) for name in _KO_NAMES.split(m["names"]) if name.strip())
        return SystemEvent(Action.INVITE, names, _ko_name(m["actor"]))
    if m := _KO_REMOVE.match(text):
        return SystemEvent(Action.REMOVE, (_ko_name(m["name"]),), _ko_name(m["actor"]) if m["actor"] else None)
    if m := _EN_JOIN.match(text):
        return SystemEvent(Action.JOIN, (m["name"],))
    if m := _EN_LEAVE.match(text):
        return SystemEvent(Action.LEAVE, (m["name"],))
    if m := _EN_REMOVED.match(text):
        return SystemEvent(Action.REMOVE, (m["name"],))
    if m := _EN_REMOVE.match(text):
        return SystemEvent(Action.REMOVE, (m["name"],), m["actor"])
    if m := _EN_INVITE.match(text):
        names = m["names"].strip().removesuffix(" and").removesuffix(",")
        subjects = tuple(name.strip() for name in _EN_NAMES.split(names) if name.strip())
        return SystemEvent(Action.INVITE, subjects, m["actor"])
    return None


def _names(event: SystemEvent) -> list[str]:
    return [*event.subjects, *([event.actor] if event.actor else [])]


# --- detection and header ---------------------------------------------------------------------------


def read_day(text: str, *, weekday: bool = False) -> dt.date | None:
    """The date of a date line ("2015년 7월 9일 목요일", "Thursday, July 9, 2015", "9 July 2015"), or None when
    the text is not one; with ``weekday``, only a date with its weekday counts. ValueError for a line
    shaped like a date that cannot be one ("2021년 2월 30일")."""
    text = text.strip()
    if len(text) > 60 or not any(c.isdigit() for c in text):
        return None
    for pattern in _DAY_LINES:
        if (m := pattern.match(text)) and (not weekday or m["wd1"] or m["wd2"]):
            groups = m.groupdict()
            return _date(m["y"], groups.get("mo") or groups["mon"], m["d"], text)
    return None


def _is_day_line(line: str) -> bool:
    """A date line between the messages of a mobile export (the messages carry their own dates, so the
    date here only ends the message before it)."""
    if m := _PC_DATE.match(line):
        line, weekday = m["date"], False
    else:
        weekday = True
    try:
        return read_day(line, weekday=weekday) is not None
    except ValueError:
        return True  # shaped like a date line: not a continuation of the message above


def is_self_label(name: str) -> bool:
    """Whether a sender name is how a mobile export labels the device owner ("회원님", "나", "You"): the
    owner's own name appears nowhere in such an export."""
    return name.strip().casefold() in _SELF_LABELS


_SELF_LABELS = frozenset({"회원님", "나", "you"})
SELF_LABELS = ("회원님", "나", "You")


def detect_format(lines: Iterable[str], *, sample: int = 500) -> str:
    """The format of an export from its first lines (one of ``FORMATS``); UnknownFormat if none fits.

    The first line in the shape of a PC message, a PC date separator, a CSV header or a mobile message
    header decides. English mobile exports of Android and iPhone share a shape; weekday date lines,
    abbreviated months or "at" before the time tell an iPhone's.
    """
    english_mobile = False
    weekday_lines = iphone_marks = False
    pc_without_period = False
    english_shape = _SHAPES["android_en"]
    for index, raw in enumerate(lines):
        if index >= sample:
            break
        line = raw.removeprefix("\ufeff").rstrip("\r")
        if not line.strip():
            continue
        if not english_mobile:  # once an English mobile header is seen, later lines only tell the platform
            if _CSV_HEADER.match(line):
                return "csv"
            if m := _PC_MESSAGE.match(line):
                if m["ap"]:
                    return "pc_ko"
                if m["ap2"]:
                    return "pc_en"
                pc_without_period = True  # a 24-hour clock: the date separators tell the language
                continue
            if m := _PC_DATE.match(line):
                try:
                    day = read_day(m["date"])
                except ValueError:
                    day = None
                if day is not None:
                    return "pc_ko" if re.search("[가-힣]", m["date"]) else "pc_en"
        if m := english_shape.header.match(line):
            english_mobile = True
            month = m["mon"].rstrip(".")
            iphone_marks |= (len(month) == 3 and month.lower() != "may") or " at " in m["stamp"]
        elif _ENGLISH_DAY_LINE.match(line) and _safe_day(line):
            weekday_lines = True
        elif not english_mobile:
            for fmt, shape in _SHAPES.items():
                if fmt not in ("android_en", "ios_en") and shape.header.match(line):
                    return fmt
        if english_mobile and index >= 40:
            break
    if english_mobile:
        return "ios_en" if weekday_lines or iphone_marks else "android_en"
    if pc_without_period:
        return "pc_en"
    raise UnknownFormat(
        f"not a KakaoTalk export this importer knows: no message line in the first {sample} lines "
        "(known: the PC, Mac, Android and iPhone text exports in Korean or English, and the CSV export)"
    )


def _safe_day(line: str) -> dt.date | None:
    try:
        return read_day(line, weekday=True)
    except ValueError:
        return None


def read_title(lines: Iterable[str], *, header_lines: int = 5) -> str | None:
    """The room title from the header of a text export ("홍길동 님과 카카오톡 대화" → "홍길동"), looked for in
    its first non-blank lines (an iPhone export may put its file name "Talk_2015.8.3 01:01-1.txt" and the
    save date first)."""
    seen = 0
    for raw in lines:
        line = raw.removeprefix("\ufeff").strip()
        if not line:
            continue
        for pattern in _TITLE:
            if m := pattern.match(line):
                return m["title"].strip()
        seen += 1
        if seen >= header_lines or not (_SAVED.match(line) or _FILE_NAME.match(line)):
            return None
    return None


# --- parsing ----------------------------------------------------------------------------------------


class _Open:
    """A message being read: its continuation lines are added until the next header."""

    __slots__ = ("end_line_no", "event", "line_no", "lines", "sender", "sent_at")

    def __init__(self, line_no, sender, sent_at, first, event=None):
        self.line_no = self.end_line_no = line_no
        self.sender = sender
        self.sent_at = sent_at
        self.lines = [first]
        self.event = event

    def add(self, line_no: int, line: str) -> None:
        self.lines.append(line)
        if line.strip():
            self.end_line_no = line_no

    def finish(self) -> ParsedLine:
        lines = self.lines
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        body = lines[0] if len(lines) == 1 else "\n".join(lines)
        kind = Kind.SYSTEM if self.event is not None or self.sender is None else classify(body)
        return ParsedLine(self.line_no, self.sender, self.sent_at, kind, body, self.end_line_no, self.event)


def _split_sender(rest: str, known: set[str]) -> tuple[str, str] | None:
    """("name", "text") from "name : text"; the longest known name wins when the text has several " : ".
    Without " : ", a colon with spaces on one side only ("name: text", "name :text") or several spaces
    also splits, the name taken without its spaces."""
    index = rest.find(" : ")
    if index < 0:
        if rest.endswith(" :"):
            return rest[:-2], ""
        if (m := _LOOSE_COLON.search(rest)) and m.start() > 0 and rest[: m.start()].strip():
            return rest[: m.start()].strip(), rest[m.end() :]
        return None
    if known:
        position = rest.find(" : ", index + 3)
        while position >= 0:
            if rest[:position] in known:
                index = position
            position = rest.find(" : ", position + 3)
    name = rest[:index]
    return (name.rstrip() or name), rest[index + 3 :]


def _ignorable(line_no: int, line: str, started: bool) -> bool:
    """A line that is neither a message nor an error: blank, a notice, or the header above the first message
    (the title on line 1, whatever its wording, and "저장한 날짜 : …" / "Date Saved : …")."""
    if not line.strip() or _NOTICE.match(line):
        return True
    return not started and (
        line_no == 1 or bool(_SAVED.match(line) or _FILE_NAME.match(line)) or any(p.match(line) for p in _TITLE)
    )


def _unreadable(line_no: int, line: str) -> ParseError:
    return ParseError(line_no, line, "unreadable: not a message, and no message before it to continue")


def parse(
    source: str | Iterable[str],
    *,
    tz: dt.tzinfo | str = "Asia/Seoul",
    fmt: str | None = None,
    known_senders: Iterable[str] = (),
) -> Iterator[ParsedLine | ParseError]:
    """The messages of an export, in file order, and a ``ParseError`` for each line that cannot be read.

    ``source`` is the decoded text or its lines (without line ends). ``fmt`` defaults to the detected one.
    """
    lines = split_lines(source) if isinstance(source, str) else list(source)
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    fmt = fmt or detect_format(lines)
    known = set(known_senders)
    if fmt == "csv":
        return _parse_csv(lines, zone)
    if fmt in ("pc_ko", "pc_en"):
        return _parse_pc(lines, zone, known)
    if fmt in _SHAPES:
        return _parse_mobile(lines, zone, known, _SHAPES[fmt])
    raise UnknownFormat(f"unknown format {fmt!r}")


def _header_time(m: re.Match, tz: dt.tzinfo, cache: dict[str, dt.datetime]) -> dt.datetime:
    key = m["stamp"]
    sent_at = cache.get(key)
    if sent_at is None:
        groups = m.groupdict()
        day = _date(m["y"], groups.get("mo") or groups["mon"], m["d"], m["date"])
        time = _time(m["ap"] or m["ap2"], m["h"], m["mi"], m["s"], m["time"])
        sent_at = cache[key] = _at(day, time, tz)
    return sent_at


def _parse_mobile(lines, tz, known, shape: _Shape) -> Iterator[ParsedLine | ParseError]:
    current: _Open | None = None
    broken = started = False
    times: dict[str, dt.datetime] = {}
    for line_no, line in enumerate(lines, start=1):
        if m := shape.header.match(line):
            if current is not None:
                yield current.finish()
                current = None
            started = True
            try:
                sent_at = _header_time(m, tz, times)
            except ValueError as exc:
                broken = True
                yield ParseError(line_no, line, str(exc))
                continue
            broken = False
            rest = m["rest"] or ""
            split = _split_sender(rest, known) if m["sep"] == "," else None
            if split is not None and split[0] not in known and system_event(rest) is not None:
                split = None  # "A : B님이 들어왔습니다.": a name with " : " in a system line
            if split is not None:
                sender, body = split
                if not sender.strip():
                    broken = True
                    yield ParseError(line_no, line, "no sender name before ' : '")
                    continue
                current = _Open(line_no, sender, sent_at, body)
            else:
                event = system_event(rest)
                if event is not None:
                    known.update(_names(event))
                current = _Open(line_no, event.account_name if event else None, sent_at, rest, event)
        elif shape.bare.match(line) or _is_day_line(line):
            if current is not None:
                yield current.finish()
                current = None
            broken = False
            started = True
        elif current is not None:
            current.add(line_no, line)
        elif broken or _ignorable(line_no, line, started):
            continue
        else:
            yield _unreadable(line_no, line)
    if current is not None:
        yield current.finish()


def _pc_date(text: str) -> dt.date:
    day = read_day(text)
    if day is None:
        raise ValueError(f"cannot read the date '{text}'")
    return day


def _pc_system_event(line: str, known: set[str]) -> SystemEvent | None:
    """A bare PC line that is a system line. "X invited Y." in English is too common a sentence to be
    taken as one unless X is a known name."""
    if not line or line[0].isspace():
        return None
    event = system_event(line)
    if event is not None and event.action is Action.INVITE and not _KO_INVITE.match(line) and event.actor not in known:
        return None
    return event


def _release(pending: list[_Open], at: dt.datetime) -> Iterator[ParsedLine]:
    for system in pending:
        system.sent_at = at
        yield system.finish()
    pending.clear()


def _parse_pc(lines, tz, known) -> Iterator[ParsedLine | ParseError]:
    current: _Open | None = None
    pending: list[_Open] = []  # joins and invitations, waiting for the first time after them
    day: dt.date | None = None
    last_time: dt.datetime | None = None  # the last message's time, or midnight of the last date line
    broken = started = False
    for line_no, line in enumerate(lines, start=1):
        if m := _PC_MESSAGE.match(line):
            if current is not None:
                yield current.finish()
                current = None
            started = True
            try:
                if day is None:
                    raise ValueError("no readable date line before this message")
                sent_at = _at(day, _time(m["ap"] or m["ap2"], m["h"], m["mi"], m["s"], m["time"]), tz)
            except ValueError as exc:
                broken = True
                yield ParseError(line_no, line, str(exc))
                continue
            broken = False
            yield from _release(pending, sent_at)
            last_time = sent_at
            known.add(m["name"])
            current = _Open(line_no, m["name"], sent_at, m["body"] or "")
        elif m := _PC_DATE.match(line):
            if current is not None:
                yield current.finish()
                current = None
            started = True
            try:
                day = _pc_date(m["date"])
                broken = False
            except ValueError as exc:
                day, broken = None, True
                yield ParseError(line_no, line, str(exc))
                continue
            last_time = _at(day, dt.time(0), tz)
            yield from _release(pending, last_time)
        elif started and (event := _pc_system_event(line, known)) is not None:
            if current is not None:
                yield current.finish()
                current = None
            known.update(_names(event))
            system = _Open(line_no, event.account_name, None, line, event)
            broken = False
            if event.action in (Action.JOIN, Action.INVITE):
                pending.append(system)
            elif last_time is None:
                broken = True
                yield ParseError(line_no, line, "no readable date line before this system line")
            else:
                yield from _release(pending, last_time)
                system.sent_at = last_time
                current = system
        elif current is not None:
            current.add(line_no, line)
        elif pending and not broken:
            pending[-1].add(line_no, line)
        elif broken or _ignorable(line_no, line, started):
            continue
        else:
            yield _unreadable(line_no, line)
    if current is not None:
        yield current.finish()
    if pending and last_time is None:
        for system in pending:
            yield ParseError(system.line_no, system.lines[0], "no readable date line before this system line")
    elif pending:
        yield from _release(pending, last_time)


def _csv_time(text: str, tz: dt.tzinfo) -> dt.datetime:
    """The Date column: "2021-05-01 15:12:00", else any mobile stamp ("2021. 5. 1. 오후 3:12")."""
    if m := _CSV_DATE.match(text):
        day = _date(m["y"], m["mo"], m["d"], text)
        return _at(day, _time(None, m["h"], m["mi"], m["s"], text), tz)
    for pattern in _STAMPS:
        if m := pattern.match(text):
            groups = m.groupdict()
            day = _date(m["y"], groups.get("mo") or groups["mon"], m["d"], text)
            return _at(day, _time(m["ap"] or m["ap2"], m["h"], m["mi"], m["s"], text), tz)
    raise ValueError(f"cannot read the date '{text}'")


def _parse_csv(lines, tz) -> Iterator[ParsedLine | ParseError]:
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))
    reader = csv.reader(line + "\n" for line in lines)
    previous = 0
    header_seen = False
    for row in reader:
        line_no, previous = previous + 1, reader.line_num
        raw = lines[line_no - 1] if line_no <= len(lines) else ""
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if not header_seen and _CSV_HEADER.match(",".join(row)):
            header_seen = True
            continue
        if len(row) != 3:
            yield ParseError(line_no, raw, f"expected 3 columns (Date,User,Message), found {len(row)}")
            continue
        date_text, sender, body = row
        if not date_text.strip() and not sender.strip():
            yield ParseError(line_no, raw, f"a row with no date and no sender, not stored: {body[:80]}")
            continue
        try:
            sent_at = _csv_time(date_text.strip(), tz)
        except ValueError as exc:
            yield ParseError(line_no, raw, str(exc))
            continue
        if not sender.strip():
            yield ParseError(line_no, raw, "no sender name in the User column")
            continue
        event = system_event(body) if "\n" not in body else None
        if event is not None and event.account_name != sender:
            event = None  # someone typed a sentence that looks like a system line
        kind = Kind.SYSTEM if event is not None else classify(body)
        yield ParsedLine(line_no, sender, sent_at, kind, body, previous, event)
