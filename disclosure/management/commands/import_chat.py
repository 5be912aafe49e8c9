"""`manage.py import_chat`: import a KakaoTalk "export chat" file into the conversation store.

    manage.py import_chat KakaoTalk_20210501.txt --room kakao-1234 [--me ACCOUNT] [--tz Asia/Seoul]
        [--map names.csv] [--json]

The format (PC text, Android, iPhone, in Korean or English, current and older layouts, or the CSV
export) is recognised by itself. A mobile export labels its owner's own messages "회원님" / "나" / "You":
``--me ACCOUNT`` names the owner's existing account; without it such a file is refused (nothing is
imported) with a message naming ``--me`` (why: ``disclosure/importers/store.py``).
Importing the same file again adds nothing. Each unreadable line is reported on stderr with its line
number and the rest is imported; the summary goes to stdout (with --json, one JSON object with the keys
rooms, senders, messages, duplicates, skipped, format and errors). Exit status 0 unless the import
could not start (missing file, unknown time zone, bad mapping, unknown format, unnamed owner).
"""

import json
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError

from disclosure.importers import kakao
from disclosure.importers.store import ImportFailed, import_chat, load_mapping
from disclosure.models import Room
from warrantdesk.progress import plain, progress_bar

PROGRESS_MIN_LINES = 20_000  # smaller files import in well under a second: no bar


class Command(BaseCommand):
    help = "Import a KakaoTalk export (PC text, Android, iPhone, CSV; Korean or English; older layouts) into a room."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the exported .txt or .csv file")
        parser.add_argument("--room", required=True, help="the room's external ID (created if new)")
        parser.add_argument("--title", help="room title (default: the one in the export, for a new room)")
        parser.add_argument(
            "--kind",
            choices=Room.Kind.values,
            help="room kind (default for a new room: DIRECT when exactly two people wrote, else GROUP)",
        )
        parser.add_argument("--tz", default="Asia/Seoul", help="time zone of the export's times (default Asia/Seoul)")
        parser.add_argument(
            "--map",
            dest="mapping",
            metavar="FILE",
            help="CSV (name,uid) or JSON ({name: uid}) file mapping display names to existing account IDs",
        )
        parser.add_argument(
            "--me",
            metavar="ACCOUNT",
            help="existing account ID of the device owner, whose messages the export labels 회원님 / 나 / You",
        )
        parser.add_argument("--encoding", help="the file's encoding (default: UTF-8, else CP949, detected)")
        parser.add_argument("--format", dest="fmt", choices=kakao.FORMATS, help="skip detection: read as this format")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
        parser.add_argument("--progress", action="store_true", help="progress bar on stderr even when not a terminal")

    def handle(self, *args, file, room, title, kind, tz, mapping, encoding, fmt, me, **options):
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CommandError(f"unknown time zone {tz!r}: give an IANA name such as Asia/Seoul or UTC") from exc
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {file}")
        try:
            names = load_mapping(mapping) if mapping else None
            progress = (
                progress_bar(self.stderr, unit="lines", min_total=PROGRESS_MIN_LINES)
                if options["progress"] or self.stderr.isatty()
                else None
            )
            summary = import_chat(
                path,
                room_external_id=room,
                room_title=title,
                room_kind=kind,
                tz=zone,
                mapping=names,
                progress=progress,
                encoding=encoding,
                fmt=fmt,
                me=me,
            )
        except ImportFailed as exc:
            raise CommandError(str(exc)) from exc
        for error in summary.errors:
            shown = error.text if len(error.text) <= 80 else error.text[:79] + "…"
            detail = "" if not shown or shown in error.reason else f": {shown}"
            self.stderr.write(f"line {error.line_no}: {error.reason}{detail}", style_func=plain)
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
            return
        self.stdout.write(
            f"{path.name}: {summary.format}"
            + (f", {summary.encoding}" if summary.encoding not in ("", "utf-8") else "")
            + f" → room {room}{' (new)' if summary.room_created else ''}\n"
            f"  rooms: {summary.rooms}\n"
            f"  senders: {summary.senders}\n"
            f"  messages added: {summary.messages}\n"
            f"  duplicates skipped: {summary.duplicates}\n"
            f"  lines skipped (unreadable or unattributable): {summary.skipped}"
            + (f"\n  device owner's lines (→ {me}): {summary.owner_lines}" if me else "")
        )
