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

``android_en``  Android, English::

                    May 1, 2021, 3:12 PM, Hong Gildong : Hello

``ios_ko``      iPhone, Korean (date lines "2021년 5월 1일 토요일")::

                    2021. 5. 1. 오후 3:12, 홍길동 : 안녕하세요

``ios_en``      iPhone, English (date lines "Saturday, May 1, 2021")::

                    May 1, 2021, 3:12 PM, Hong Gildong : Hello

``csv``         the Mac (older) and PC CSV export, any language::

                    Date,User,Message
                    2021-05-01 15:12:00,"홍길동","안녕하세요"

Rules common to all formats:

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

FORMATS = ("pc_ko", "pc_en", "android_ko", "android_en", "ios_ko", "ios_en", "csv")


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
_AM = frozenset({"오전", "AM", "am", "Am", "aM"})


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


def _time(ampm: str | None, hour: str, minute: str, second: str | None, text: str) -> dt.time:
    h, m, s = int(hour), int(minute), int(second or 0)
    if ampm:
        if not 0 <= h <= 12:
            raise ValueError(f"cannot read the time '{text}'")
        h = h % 12 if ampm in _AM else h % 12 + 12
    if not (0 <= h <= 23 and 0 <= m <= 59 and 0 <= s <= 59):
        raise ValueError(f"cannot read the time '{text}'")
    return dt.time(h, m, s)


def _at(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=tz)


# --- line shapes ------------------------------------------------------------------------------------

_TIME = r"(?P<time>(?:(?P<ap>오전|오후) )?(?P<h>\d{1,2}):(?P<mi>\d{2})(?: ?(?P<ap2>[AaPp][Mm]))?)"
_EN_DATE = r"(?P<date>(?P<mon>[A-Z][a-z]{2,8}\.?) (?P<d>\d{1,2}), (?P<y>\d{4}))"
_WEEKDAY_KO = r"[월화수목금토일]요일"
_WEEKDAY_EN = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"

# PC: date separators and "[name] [time] text"
_PC_DATE = re.compile(r"^-{5,} (?P<date>.*\d{4}.*?) -{5,}$")
_PC_DATE_KO = re.compile(rf"^(?P<y>\d{{4}})년 (?P<mo>\d{{1,2}})월 (?P<d>\d{{1,2}})일(?: {_WEEKDAY_KO})?$")
_PC_DATE_EN = re.compile(rf"^(?:{_WEEKDAY_EN}, )?(?P<mon>[A-Z][a-z]{{2,8}}\.?) (?P<d>\d{{1,2}}), (?P<y>\d{{4}})$")
_PC_MESSAGE = re.compile(
    r"^\[(?P<name>.+?)\] \[(?P<time>(?:(?P<ap>오전|오후) )?(?P<h>\d{1,2}):(?P<mi>\d{2})(?: (?P<ap2>[AaPp][Mm]))?)\]"
    r"(?: (?P<body>.*))?$"
)

# Mobile: "<date> <time>, name : text" (message), "<date> <time>, text" or "<date> <time>: text" (system)
_SEP = r"(?P<sep>, |: )(?P<rest>.*)$"
_ANDROID_KO = re.compile(rf"^(?P<date>(?P<y>\d{{4}})년 (?P<mo>\d{{1,2}})월 (?P<d>\d{{1,2}})일) {_TIME}{_SEP}")
_IOS_KO = re.compile(rf"^(?P<date>(?P<y>\d{{4}})\. (?P<mo>\d{{1,2}})\. (?P<d>\d{{1,2}})\.?) {_TIME}{_SEP}")
_MOBILE_EN = re.compile(rf"^{_EN_DATE},? (?:at )?{_TIME}{_SEP}")
_DATE_LINE_KO = re.compile(
    rf"^(?:\d{{4}}년 \d{{1,2}}월 \d{{1,2}}일|\d{{4}}\. \d{{1,2}}\. \d{{1,2}}\.?) "
    rf"(?:{_WEEKDAY_KO}|(?:(?:오전|오후) )?\d{{1,2}}:\d{{2}})$"
)
_DATE_LINE_EN = re.compile(
    rf"^(?:{_WEEKDAY_EN}, [A-Z][a-z]{{2,8}}\.? \d{{1,2}}, \d{{4}}"
    rf"|[A-Z][a-z]{{2,8}}\.? \d{{1,2}}, \d{{4}},? (?:at )?\d{{1,2}}:\d{{2}}(?: ?[AaPp][Mm])?)$"
)
_WEEKDAY_LINE_EN = re.compile(rf"^{_WEEKDAY_EN}, [A-Z][a-z]{{2,8}}\.? \d{{1,2}}, \d{{4}}$")

_MOBILE = {"android_ko": _ANDROID_KO, "ios_ko": _IOS_KO, "android_en": _MOBILE_EN, "ios_en": _MOBILE_EN}
_DATE_LINES = {
    "android_ko": _DATE_LINE_KO,
    "ios_ko": _DATE_LINE_KO,
    "android_en": _DATE_LINE_EN,
    "ios_en": _DATE_LINE_EN,
}

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
_EN_REMOVE = re.compile(r"^(?P<actor>.+?) removed (?P<name>.+?) from this chat ?room\.?$", re.IGNORECASE)
_SYSTEM_HINT = re.compile(r"님이 |님을 | joined | left | invited | removed ", re.IGNORECASE)
_KO_NAMES = re.compile(r"님(?:, |과 |와 )")
_EN_NAMES = re.compile(r",? and |, ")


def classify(body: str) -> Kind:
    """The kind of a (non-system) message from its text: a media placeholder, or TEXT."""
    if "\n" in body or len(body) > 300:
        return Kind.TEXT
    m = _MEDIA.match(body)
    return Kind(m.lastgroup) if m else Kind.TEXT


def system_event(text: str) -> SystemEvent | None:
    """The membership change a system line describes, or None."""
    if not _SYSTEM_HINT.search(text):
        return None
    text = text.strip()
    if m := _KO_JOIN.match(text):
        return SystemEvent(Action.JOIN, (m["name"],))
    if m := _KO_LEAVE.match(text):
        return SystemEvent(Action.LEAVE, (m["name"],))
    if m := _KO_INVITE.match(text):
        names = tuple(name.strip() for name in _KO_NAMES.split(m["names"]) if name.strip())
        return SystemEvent(Action.INVITE, names, m["actor"])
    if m := _KO_REMOVE.match(text):
        return SystemEvent(Action.REMOVE, (m["name"],), m["actor"])
    if m := _EN_JOIN.match(text):
        return SystemEvent(Action.JOIN, (m["name"],))
    if m := _EN_LEAVE.match(text):
        return SystemEvent(Action.LEAVE, (m["name"],))
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


def detect_format(lines: Iterable[str], *, sample: int = 500) -> str:
    """The format of an export from its first lines (one of ``FORMATS``); UnknownFormat if none fits."""
    english_mobile = False
    weekday_lines = abbreviated = False
    for index, raw in enumerate(lines):
        if index >= sample:
            break
        line = raw.removeprefix("\ufeff").rstrip("\r")
        if not line.strip():
            continue
        if _CSV_HEADER.match(line):
            return "csv"
        if m := _PC_MESSAGE.match(line):
            return "pc_ko" if m["ap"] else "pc_en"
        if m := _PC_DATE.match(line):
            if _PC_DATE_KO.match(m["date"]):
                return "pc_ko"
            if _PC_DATE_EN.match(m["date"]):
                return "pc_en"
        if _ANDROID_KO.match(line):
            return "android_ko"
        if _IOS_KO.match(line):
            return "ios_ko"
        if _DATE_LINE_KO.match(line) and "년" in line and not english_mobile:
            continue  # a date line: the message lines below tell Android from iPhone
        if m := _MOBILE_EN.match(line):
            english_mobile = True
            abbreviated |= len(m["mon"].rstrip(".")) == 3 and m["mon"] != "May"
        elif _WEEKDAY_LINE_EN.match(line):
            weekday_lines = True
        if english_mobile and index >= 40:
            break
    if english_mobile:
        return "ios_en" if weekday_lines or abbreviated else "android_en"
    raise UnknownFormat("not a KakaoTalk export this importer knows (no message line in the first lines)")


def read_title(lines: Iterable[str]) -> str | None:
    """The room title from the first line of a text export ("홍길동 님과 카카오톡 대화" → "홍길동")."""
    for raw in lines:
        line = raw.removeprefix("\ufeff").strip()
        if not line:
            continue
        for pattern in _TITLE:
            if m := pattern.match(line):
                return m["title"].strip()
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
    """("name", "text") from "name : text"; the longest known name wins when the text has several " : "."""
    index = rest.find(" : ")
    if index < 0:
        return (rest[:-2], "") if rest.endswith(" :") else None
    if known:
        position = rest.find(" : ", index + 3)
        while position >= 0:
            if rest[:position] in known:
                index = position
            position = rest.find(" : ", position + 3)
    return rest[:index], rest[index + 3 :]


def _ignorable(line_no: int, line: str, started: bool) -> bool:
    """A line that is neither a message nor an error: blank, a notice, or the header above the first message
    (the title on line 1, whatever its wording, and "저장한 날짜 : …" / "Date Saved : …")."""
    if not line.strip() or _NOTICE.match(line):
        return True
    return not started and (line_no == 1 or bool(_SAVED.match(line)) or any(p.match(line) for p in _TITLE))


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
    if fmt in _MOBILE:
        return _parse_mobile(lines, zone, known, _MOBILE[fmt], _DATE_LINES[fmt])
    raise UnknownFormat(f"unknown format {fmt!r}")


def _header_time(m: re.Match, tz: dt.tzinfo, cache: dict[str, dt.datetime]) -> dt.datetime:
    key = m.string[: m.end("time")]
    sent_at = cache.get(key)
    if sent_at is None:
        month = m["mo"] if "mo" in m.re.groupindex else m["mon"]
        day = _date(m["y"], month, m["d"], m["date"])
        time = _time(m["ap"] or m["ap2"], m["h"], m["mi"], None, m["time"])
        sent_at = cache[key] = _at(day, time, tz)
    return sent_at


def _parse_mobile(lines, tz, known, header, date_line) -> Iterator[ParsedLine | ParseError]:
    current: _Open | None = None
    broken = started = False
    times: dict[str, dt.datetime] = {}
    for line_no, line in enumerate(lines, start=1):
        if m := header.match(line):
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
            rest = m["rest"]
            split = _split_sender(rest, known) if m["sep"] == ", " else None
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
        elif date_line.match(line):
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
    if m := _PC_DATE_KO.match(text):
        return _date(m["y"], m["mo"], m["d"], text)
    if m := _PC_DATE_EN.match(text):
        return _date(m["y"], m["mon"], m["d"], text)
    raise ValueError(f"cannot read the date '{text}'")


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
                sent_at = _at(day, _time(m["ap"] or m["ap2"], m["h"], m["mi"], None, m["time"]), tz)
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
        m = _CSV_DATE.match(date_text.strip())
        try:
            if m is None:
                raise ValueError(f"cannot read the date '{date_text}'")
            day = _date(m["y"], m["mo"], m["d"], date_text)
            sent_at = _at(day, _time(None, m["h"], m["mi"], m["s"], date_text), tz)
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
