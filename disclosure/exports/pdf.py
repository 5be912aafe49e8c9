"""The PDF report of an export package: a cover, then the messages room by room, in volumes.

Pure data in, bytes (or files) out: no database, no settings, so the exporter can call it from
worker processes. The only module that imports WeasyPrint (lazily: it takes over half a second).

Layout dominates the cost (WeasyPrint lays out every line box), so the report is kept plain: one
paragraph per message, no tables, floats or flex boxes, one font family. Large exports are split
into volumes that render in parallel processes; see ``render_volumes``.
Which characters the fonts can draw, and how the others are spelled, is ``fonts``' job.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import cache
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as connection_wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from django.template import Context, Engine, Template
from django.utils.safestring import SafeString, mark_safe

from .fonts import legible
from .reader import forkserver_context
from .verify_package import format_fingerprint

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"
TEMPLATE_NAME = "disclosure/report.html"

# A placeholder the redaction left in a message body: [[p1.<key id>.<base32>]].
PLACEHOLDER = re.compile(r"\[\[([^\[\]\s]+)\]\]")

# WeasyPrint warns about CSS it ignores and logs every rendering step; fontTools chatters while
# subsetting fonts. None of it helps an operator; real failures raise.
for _noisy in ("weasyprint", "fontTools"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)


@dataclass(frozen=True)
class ReportCover:
    reference: str  # WD-2026-000123
    agency: str
    warrant_number: str
    court: str
    legal_basis: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    counts: dict[str, int]  # {"rooms": 3, "messages": 1200, "targets": 1, "pseudonymised": 14}
    targets: list[tuple[str, str]]  # (account uid, display name), in clear
    aliases: list[tuple[str, str]]  # (alias "Participant 7", token "p1.ab12cd34.xyz...")
    volume: int = 1
    volumes: int = 1
    language: str = "ko"  # the cover's labels: "ko" or "en"
    operator_key_fingerprint: str = ""  # SHA-256 of the signing key's DER SubjectPublicKeyInfo, hex
    timezone: str = "Asia/Seoul"  # aware datetimes are shown in this zone


@dataclass(frozen=True)
class ReportMessage:
    room: str  # a room label, "Room 3 (group)": never a non-target's name
    sent_at: datetime
    sender: str  # a target's display name or an alias
    kind: str  # TEXT/PHOTO/VIDEO/FILE/EMOTICON/SYSTEM
    body: str  # already redacted; [[token]] placeholders become aliases here


LABELS: dict[str, dict[str, str]] = {
    "ko": {
        "title": "대화 내용 제공 보고서",
        "volume": "전 {volumes}권 중 제{volume}권",
        "reference": "관리번호",
        "agency": "요청 기관",
        "warrant_number": "영장 번호",
        "court": "발부 법원",
        "legal_basis": "법적 근거",
        "period": "대상 기간",
        "generated_at": "작성 일시",
        "timezone": "시간대",
        "counts": "건수",
        "counts_note": (
            "가명 처리된 사람은 이 패키지에 나오는 대상자 외의 모든 사람입니다. 범위 내에서 메시지를 보낸 사람"
            "(범위 미리보기의 '대상자 외 참여자')과 메시지 본문에서만 언급된 사람(전화번호, 이메일 주소, 계정 ID "
            "또는 이름으로)이 모두 포함되므로, 범위 미리보기의 참여자 수보다 많을 수 있습니다."
        ),
        "operator_key": "운영자 서명 키 (SHA-256)",
        "operator_key_note": (
            "이 보고서가 담긴 패키지의 manifest.json은 위 지문의 운영자 키로 서명되어 있습니다. 운영자가 공개한 "
            "지문(/operator-key/)과 대조한 뒤 verify_package.py --fingerprint로 패키지를 검증하십시오."
        ),
        "targets": "대상자",
        "aliases": "가명 대조표",
        "aliases_note": (
            "대상자가 아닌 참여자는 가명으로 표시됩니다. 가명은 conversations.json의 토큰에 대응하며, "
            "토큰은 영장별 키로만 복원할 수 있습니다."
        ),
        "volume_note": "이 권에는 메시지 {first}–{last}번이 수록되어 있습니다.",
        "volume_note_empty": "이 권에는 메시지가 없습니다.",
        "messages": "대화 내용",
        "no_messages": "범위 내 메시지가 없습니다.",
        "page": "{page} / {pages} 쪽",
        "weekdays": "월화수목금토일",
    },
    "en": {
        "title": "Conversation disclosure report",
        "volume": "Volume {volume} of {volumes}",
        "reference": "Reference",
        "agency": "Requesting agency",
        "warrant_number": "Warrant number",
        "court": "Issuing court",
        "legal_basis": "Legal basis",
        "period": "Period in scope",
        "generated_at": "Generated at",
        "timezone": "Time zone",
        "counts": "Counts",
        "counts_note": (
            "Pseudonymised people are everyone in this package who is not a target: those who sent messages "
            "in scope (the scope preview's non-target participants) and those only named in message text (by "
            "phone number, e-mail address, account ID or name). So there can be more of them than participants."
        ),
        "operator_key": "Operator signing key (SHA-256)",
        "operator_key_note": (
            "The manifest.json of the package holding this report is signed with the operator key of the "
            "fingerprint above. Compare it with the fingerprint the operator publishes (/operator-key/), then "
            "check the package with verify_package.py --fingerprint."
        ),
        "targets": "Targets",
        "aliases": "Alias table",
        "aliases_note": (
            "Participants who are not targets appear under an alias. Each alias stands for the token in "
            "conversations.json, which only the warrant's key can reverse."
        ),
        "volume_note": "This volume holds messages {first}–{last}.",
        "volume_note_empty": "This volume holds no messages.",
        "messages": "Messages",
        "no_messages": "No messages in scope.",
        "page": "Page {page} of {pages}",
        "weekdays": "Mon Tue Wed Thu Fri Sat Sun",
    },
}

COUNT_LABELS: dict[str, dict[str, str]] = {
    "ko": {
        "rooms": "대화방",
        "messages": "메시지",
        "targets": "대상자",
        "pseudonymised": "가명 처리된 사람(전체)",
        "pseudonymised_participants": "– 그중 범위 내 메시지 발신자",
        "pseudonymised_named_in_text": "– 그중 본문에서만 언급된 사람",
        "unmatched_targets": "확인되지 않은 대상 식별자",
    },
    "en": {
        "rooms": "Rooms",
        "messages": "Messages",
        "targets": "Targets",
        "pseudonymised": "Pseudonymised people (all)",
        "pseudonymised_participants": "– of whom sent messages in scope",
        "pseudonymised_named_in_text": "– of whom only named in message text",
        "unmatched_targets": "Unmatched target identifiers",
    },
}

# The PDF is for people: in a Korean report a pseudonymised participant is "참여자 7". The package's
# JSON and CSV keep the stable alias ("Participant 7") and the token, which is what a follow-up names.
ALIAS_LABELS = {"ko": "참여자 {number}", "en": "Participant {number}"}
ROOM_LABELS = {"ko": "대화방 {number} ({kind})", "en": "Room {number} ({kind})"}
_STABLE_ALIAS = re.compile(r"\AParticipant (\d+)\Z")


def report_language(language: str) -> str:
    """The report's language: "ko" or "en" (anything else falls back to English)."""
    language = (language or "").split("-")[0].lower()
    return language if language in LABELS else "en"


def alias_label(alias: str, language: str) -> str:
    """The stable alias ("Participant 7") as the report's reader reads it ("참여자 7")."""
    found = _STABLE_ALIAS.match(alias)
    return ALIAS_LABELS[report_language(language)].format(number=found[1]) if found else alias


def room_label(number: int, kind: str, language: str) -> str:
    return ROOM_LABELS[report_language(language)].format(number=number, kind=kind)


KIND_LABELS: dict[str, dict[str, str]] = {
    "ko": {"PHOTO": "사진", "VIDEO": "동영상", "FILE": "파일", "EMOTICON": "이모티콘", "SYSTEM": "시스템"},
    "en": {"PHOTO": "Photo", "VIDEO": "Video", "FILE": "File", "EMOTICON": "Emoticon", "SYSTEM": "System"},
}


# --- HTML ------------------------------------------------------------------------------------------


@cache
def _template() -> Template:
    # A standalone engine, not django.template.loader: worker processes have no settings.
    return Engine(dirs=[str(TEMPLATE_DIR)], autoescape=True).get_template(TEMPLATE_NAME)


def _language(cover: ReportCover) -> str:
    return report_language(cover.language)


def _css_string(text: str) -> SafeString:
    """A CSS string literal that cannot end the string, the rule or the <style> element."""
    escaped = "".join(ch if ch.isalnum() or ch in " -_.,/:()" else f"\\{ord(ch):x} " for ch in text)
    return mark_safe(f'"{escaped}"')  # noqa: S308 - every other character is a CSS escape


def substitute_aliases(text: str, alias_of: Mapping[str, str]) -> str:
    """Replace [[token]] placeholders with their alias; an unknown token stays as it was."""
    if "[[" not in text:
        return text
    return PLACEHOLDER.sub(lambda match: alias_of.get(match[1], match[0]), text)


class _Clock:
    """Formats datetimes in the report's time zone; naive datetimes are taken as already local."""

    def __init__(self, zone: str, weekdays: str):
        self.zone = ZoneInfo(zone)
        self.weekdays = weekdays.split() if " " in weekdays else list(weekdays)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone) if moment.tzinfo is not None else moment

    def stamp(self, moment: datetime | date) -> str:
        if not isinstance(moment, datetime):
            return moment.isoformat()  # a bare date
        return self.local(moment).strftime("%Y-%m-%d %H:%M:%S")

    def day(self, moment: datetime) -> str:
        return f"{moment:%Y-%m-%d} ({self.weekdays[moment.weekday()]})"

    def offset(self, moment: datetime | date) -> str:
        """The zone and its offset from UTC at that moment."""
        local = self.local(moment) if isinstance(moment, datetime) else datetime.combine(moment, time())
        offset = local.replace(tzinfo=self.zone).strftime("%z")
        return f"{self.zone.key} (UTC{offset[:3]}:{offset[3:]})"


def _rooms(messages: Sequence[ReportMessage], alias_of: Mapping[str, str], clock: _Clock, language: str) -> list:
    """Consecutive messages of one room under one heading, with a date line whenever the day changes."""
    kinds = KIND_LABELS[language]
    rooms: list[dict] = []
    lines: list[tuple[str, str, str, str]] = []
    room = day = None
    for message in messages:
        if message.room != room:
            room, day = message.room, None
            rooms.append({"label": legible(substitute_aliases(room, alias_of)), "days": []})
        local = clock.local(message.sent_at)
        if local.date() != day:
            day = local.date()
            lines = []
            rooms[-1]["days"].append({"date": clock.day(local), "lines": lines})
        kind = "" if message.kind == "TEXT" else legible(kinds.get(message.kind, message.kind))
        sender = legible(substitute_aliases(message.sender, alias_of))
        body = legible(substitute_aliases(message.body, alias_of))
        lines.append((f"{local:%H:%M:%S}", sender, kind, body))
    return rooms


def render_html(
    cover: ReportCover, messages: Sequence[ReportMessage], *, alias_of: Mapping[str, str], first: int = 1
) -> str:
    """The report's HTML; ``first`` is the number of the volume's first message in the whole export."""
    language = _language(cover)
    labels = LABELS[language]
    clock = _Clock(cover.timezone, labels["weekdays"])
    volume = labels["volume"].format(volume=cover.volume, volumes=cover.volumes)
    page_before, _, rest = labels["page"].partition("{page}")
    page_middle, _, page_after = rest.partition("{pages}")
    if messages:
        volume_note = labels["volume_note"].format(first=f"{first:,}", last=f"{first + len(messages) - 1:,}")
    else:
        volume_note = labels["volume_note_empty"]
    count_labels = COUNT_LABELS[language]
    context = {
        "lang": language,
        "title": labels["title"],
        "reference": legible(cover.reference),
        "volume_label": volume,
        "page_css": {
            "reference": _css_string(legible(cover.reference)),
            "volume": _css_string(volume),
            "page_before": _css_string(page_before),
            "page_middle": _css_string(page_middle),
            "page_after": _css_string(page_after),
        },
        "fields": [
            (labels["reference"], legible(cover.reference)),
            (labels["agency"], legible(cover.agency)),
            (labels["warrant_number"], legible(cover.warrant_number)),
            (labels["court"], legible(cover.court)),
            (labels["legal_basis"], legible(cover.legal_basis)),
            (labels["period"], f"{clock.stamp(cover.period_start)} – {clock.stamp(cover.period_end)}"),
            (labels["generated_at"], clock.stamp(cover.generated_at)),
            (labels["timezone"], clock.offset(cover.generated_at)),
            *(
                [(labels["operator_key"], format_fingerprint(cover.operator_key_fingerprint))]
                if cover.operator_key_fingerprint
                else []
            ),
        ],
        "operator_key_note": labels["operator_key_note"] if cover.operator_key_fingerprint else "",
        "counts_title": labels["counts"],
        "counts": [(legible(count_labels.get(key, key)), f"{value:,}") for key, value in cover.counts.items()],
        "counts_note": labels["counts_note"] if "pseudonymised" in cover.counts else "",
        "targets_title": labels["targets"],
        "targets": [(legible(uid), legible(name)) for uid, name in cover.targets],
        "aliases_title": labels["aliases"],
        "aliases": [(legible(alias), legible(token)) for alias, token in cover.aliases],
        "aliases_note": labels["aliases_note"],
        "volume_note": volume_note,
        "messages_title": labels["messages"],
        "no_messages": labels["no_messages"],
        "rooms": _rooms(messages, alias_of, clock, language),
    }
    return _template().render(Context(context, autoescape=True, use_l10n=False, use_tz=False))


# --- PDF -------------------------------------------------------------------------------------------


def write_pdf(html: str, target: Path | None = None) -> bytes | None:
    """Render self-contained HTML to PDF with WeasyPrint, fetching nothing: the bytes, or written to
    ``target`` (then None). Used for reports, identity sheets and paper letters alike."""
    # Imported here, not at the top: WeasyPrint takes over half a second to import.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Nothing may be fetched: the CSS is inline and the fonts come from fontconfig.
    document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=()))
    return document.write_pdf(target)


def render_volume(
    cover: ReportCover, messages: Sequence[ReportMessage], *, alias_of: Mapping[str, str], first: int = 1
) -> bytes:
    """One PDF: the cover (warrant, agency, scope, counts, targets, alias table, volume), then the messages."""
    pdf = write_pdf(render_html(cover, messages, alias_of=alias_of, first=first))
    assert pdf is not None
    return pdf


def _render_volume_to(
    path: Path, cover: ReportCover, messages: Sequence[ReportMessage], alias_of: Mapping[str, str], first: int
) -> Path:
    """Worker-side: write the volume straight to its file, so only a path travels back."""
    write_pdf(render_html(cover, messages, alias_of=alias_of, first=first), path)
    return path


def _volume_process(
    out: Connection,
    path: Path,
    cover: ReportCover,
    messages: Sequence[ReportMessage],
    aliases: Mapping[str, str],
    first: int,
) -> None:
    """A volume process's body: render, then tell the parent None (done) or what went wrong."""
    try:
        _render_volume_to(path, cover, messages, aliases, first)
        out.send(None)
    except BaseException as error:  # reported to the parent, which raises it
        logging.getLogger(__name__).exception("rendering %s failed", path.name)
        out.send(f"{type(error).__name__}: {error}")
    finally:
        out.close()


def volume_paths(out_dir: Path, volumes: int) -> list[Path]:
    if volumes == 1:
        return [out_dir / "report.pdf"]
    return [out_dir / f"report-{index:03d}.pdf" for index in range(1, volumes + 1)]


def _chunks(messages: Iterable[ReportMessage], size: int, limit: int) -> Iterator[list[ReportMessage]]:
    chunk: list[ReportMessage] = []
    seen = 0
    for message in messages:
        seen += 1
        if seen > limit:
            raise ValueError(f"more messages than the {limit:,} announced")
        chunk.append(message)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk or seen == 0:
        yield chunk
    if seen != limit:
        raise ValueError(f"{seen:,} messages instead of the {limit:,} announced")


def _aliases_in(
    aliases: list[tuple[str, str]], messages: Sequence[ReportMessage], alias_of: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The alias table of one volume: the aliases that appear in its messages (as sender or in the text)."""
    used = {message.sender for message in messages}
    for message in messages:
        if "[[" in message.body:
            used.update(alias_of.get(token, "") for token in PLACEHOLDER.findall(message.body))
    return [(alias, token) for alias, token in aliases if alias in used]


def render_volumes(
    cover: ReportCover,
    messages: Iterable[ReportMessage],
    *,
    alias_of: Mapping[str, str],
    per_volume: int = 5000,
    processes: int | None = None,
    out_dir: Path,
    total: int | None = None,
) -> list[Path]:
    """Render the report as volumes of at most ``per_volume`` messages and return their paths in order.

    Every volume says "Volume i of n", so n must be known before the first one renders: ``total`` is
    the number of messages, by default ``len(messages)`` or else ``cover.counts["messages"]``. Getting
    more or fewer messages than that raises ValueError.

    Messages are consumed as a stream: at most ``processes`` volumes are in flight (submitted and not
    yet written) plus the one being collected, so memory does not grow with the size of the export.
    Each volume renders in a process of its own, started through "forkserver" (safe in a threaded
    parent, unlike fork, and cheaper than spawn because the server preloads WeasyPrint once); a
    failure in one stops the others and is raised here. With ``processes=1`` everything renders in
    this process.
    """
    if per_volume < 1:
        raise ValueError("per_volume must be at least 1")
    if total is None:
        total = len(messages) if isinstance(messages, Sized) else cover.counts["messages"]
    volumes = max(1, math.ceil(total / per_volume))
    paths = volume_paths(Path(out_dir), volumes)
    jobs = (
        (
            paths[index],
            replace(cover, volume=index + 1, volumes=volumes, aliases=_aliases_in(cover.aliases, chunk, alias_of)),
            chunk,
            index * per_volume + 1,
        )
        for index, chunk in enumerate(_chunks(messages, per_volume, total))
    )
    workers = min(processes or os.cpu_count() or 1, volumes)
    if workers == 1:
        for path, volume_cover, chunk, first in jobs:
            _render_volume_to(path, volume_cover, chunk, alias_of, first)
        return paths

    aliases = dict(alias_of)
    context = forkserver_context()
    # One process per volume, forked from the forkserver (WeasyPrint already loaded): a process that
    # renders volume after volume keeps growing (about 7 MB a volume), one that renders a single
    # volume stays at what that volume needs. (ProcessPoolExecutor's max_tasks_per_child would do the
    # same but can hang on CPython 3.13.0, gh-115634.)
    running: dict[Connection, tuple[BaseProcess, Path]] = {}

    def collect(block: bool) -> None:
        # wait() hands back the objects it was given: here the receiving ends of our pipes.
        ready = cast(list[Connection], connection_wait(list(running), timeout=None if block else 0))
        for end in ready:
            process, path = running.pop(end)
            try:
                error = end.recv()
            except EOFError:
                error = "the process stopped unexpectedly"
            finally:
                end.close()
            process.join()
            if error is not None:
                raise RuntimeError(f"{path.name} could not be rendered: {error}")

    try:
        for path, volume_cover, chunk, first in jobs:
            while len(running) >= workers:
                collect(block=True)
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_volume_process,
                args=(sending, path, volume_cover, chunk, aliases, first),
                name=f"warrantdesk-pdf-{path.stem}",
                daemon=True,
            )
            process.start()
            sending.close()
            running[receiving] = (process, path)
        while running:
            collect(block=True)
    finally:
        for end, (unfinished, _path) in running.items():
            unfinished.terminate()
            unfinished.join()
            end.close()
    return paths
