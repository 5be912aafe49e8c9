"""`manage.py import_accounts`: load the operator's account directory from a file.

    manage.py import_accounts accounts.csv [--skip-bad] [--dry-run] [--json] [--format csv|jsonl]

CSV with a header row (uid, display_name, phone, email, locale, postal_address; only uid and
display_name are required) or JSON lines (one object per line, the same keys); the format is told by
the extension (.csv, .jsonl/.ndjson/.json), else by the content. UTF-8 with or without BOM, else CP949.
Rows are matched by uid: loading the same file again changes nothing (see disclosure/account_import.py).

Every row is checked first. Bad rows are listed on stderr as "line N: reason" and, unless --skip-bad
is given, nothing is loaded and the exit status is 1. The summary goes to stdout (with --json, one
JSON object: format, encoding, rows, created, updated, unchanged, bad, loaded, dry_run, errors).
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from disclosure.account_import import FORMATS, AccountImportFailed, accounts_import
from warrantdesk.progress import plain, progress_bar

PROGRESS_MIN_ROWS = 20_000  # smaller files load in well under a second: no bar


class Command(BaseCommand):
    help = "Load the operator's account directory (CSV with a header row, or JSON lines); idempotent."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the directory file (.csv or .jsonl)")
        parser.add_argument(
            "--skip-bad", action="store_true", help="load the good rows even when some rows are bad (listed)"
        )
        parser.add_argument("--dry-run", action="store_true", help="check and count only; write nothing")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, help="skip detection: read as this format")
        parser.add_argument("--encoding", help="the file's encoding (default: UTF-8, else CP949)")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
        parser.add_argument("--progress", action="store_true", help="progress bar on stderr even when not a terminal")

    def handle(self, *args, file, skip_bad, dry_run, fmt, encoding, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {file}")
        progress = (
            progress_bar(self.stderr, unit="rows", min_total=PROGRESS_MIN_ROWS)
            if options["progress"] or self.stderr.isatty()
            else None
        )
        try:
            summary = accounts_import(
                path, skip_bad=skip_bad, dry_run=dry_run, fmt=fmt, encoding=encoding, progress=progress
            )
        except AccountImportFailed as exc:
            raise CommandError(f"{path.name}: {exc}; nothing was loaded") from exc
        for error in summary.errors:
            self.stderr.write(f"line {error.line}: {error.reason}", style_func=plain)
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
        else:
            verb = "would be " if not summary.loaded else ""
            self.stdout.write(
                f"{path.name}: {summary.format}"
                + (f", {summary.encoding}" if summary.encoding != "utf-8" else "")
                + ("" if summary.loaded else (" (dry run)" if dry_run else " (nothing loaded)"))
                + f"\n  rows: {summary.rows}\n"
                f"  created: {verb}{summary.created}\n"
                f"  updated: {verb}{summary.updated}\n"
                f"  unchanged: {summary.unchanged}\n"
                f"  bad rows{' skipped' if summary.loaded and summary.bad else ''}: {summary.bad}"
            )
        if summary.bad and not skip_bad and not dry_run:
            good = summary.rows - summary.bad
            raise CommandError(
                f"{summary.bad} bad row{'s' if summary.bad != 1 else ''}: nothing was loaded. Fix "
                f"{'them' if summary.bad != 1 else 'it'}, or give --skip-bad to load the {good} good "
                f"row{'s' if good != 1 else ''} alone."
            )
