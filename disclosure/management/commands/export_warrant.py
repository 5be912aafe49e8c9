import shutil
import sys

from django.core.management.base import BaseCommand, CommandError

from disclosure import packages, services
from disclosure.models import Export
from requests_app.models import Warrant
from warrantdesk.exceptions import DomainError


class Command(BaseCommand):
    help = "Export an approved warrant in the foreground, with a progress bar (the same export the worker runs)."

    def add_arguments(self, parser):
        parser.add_argument("reference", help="the warrant's reference, e.g. WD-2026-000123")
        parser.add_argument("--out", required=True, help="where to copy the finished package")
        parser.add_argument("--user", required=True, help="user name of the officer requesting it (audited)")

    def handle(self, *args, reference, out, user, **options):
        from django.contrib.auth import get_user_model

        warrant = Warrant.objects.filter(reference=reference).first()
        actor = get_user_model().objects.filter(username=user).first()
        if warrant is None or actor is None:
            raise CommandError("No such warrant or user.")
        try:
            export = services.export_start(warrant=warrant, actor=actor)
            export = services.export_run(export=export, progress_printer=self._bar)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        sys.stderr.write("\n")
        if export.status != Export.Status.READY:
            raise CommandError(f"Export failed: {export.error}")
        try:  # stored sealed: decrypted here, every chunk checked first
            source = packages.package_open(export, verify=True)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        with source, open(out, "wb") as target:
            shutil.copyfileobj(source, target)
        self.stdout.write(
            self.style.SUCCESS(f"{out}: {export.counts.get('messages', 0)} messages, SHA-256 {export.package_sha256}")
        )

    def _bar(self, stage: str, done: int, total: int) -> None:
        width = 40
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r{stage:<9} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
        sys.stderr.flush()
