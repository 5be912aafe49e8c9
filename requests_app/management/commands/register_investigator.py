from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from requests_app import registry
from requests_app.models import Agency
from warrantdesk.exceptions import DomainError


class Command(BaseCommand):
    help = "Register an investigator of an agency by certificate; it must chain to one of the agency's anchors."

    def add_arguments(self, parser):
        parser.add_argument("code", help="agency code")
        parser.add_argument("certificate", help="the investigator's certificate, PEM or DER")
        parser.add_argument("--name", required=True)
        parser.add_argument("--title", default="")
        parser.add_argument("--chief", action="store_true", help="a chief investigator, who may sign warrants")

    def handle(self, *args, code, certificate, name, title, chief, **options):
        agency = Agency.objects.filter(code=code).first()
        if agency is None:
            raise CommandError(f"No agency with code {code!r}; create it with register_agency first.")
        try:
            investigator = registry.investigator_register(
                agency=agency,
                certificate=Path(certificate).read_bytes(),
                name=name,
                title=title,
                is_chief=chief,
                actor=None,
            )
        except (OSError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        role = "chief investigator" if investigator.is_chief else "investigator"
        self.stdout.write(
            self.style.SUCCESS(
                f"{investigator.name} registered as {role} of {agency.code} "
                f"(certificate {investigator.certificate_sha256[:16]}…, valid until "
                f"{investigator.certificate_not_after:%Y-%m-%d})"
            )
        )
