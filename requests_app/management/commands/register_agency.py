from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from requests_app import registry
from requests_app.models import Agency
from warrantdesk.exceptions import DomainError


class Command(BaseCommand):
    help = "Create or update an agency and add its trust anchors (CA certificates, PEM or DER)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="short code, e.g. scdpo")
        parser.add_argument("name", help="full name of the agency")
        parser.add_argument("--anchor", action="append", default=[], metavar="CA.pem", help="CA certificate file")
        parser.add_argument("--kind", choices=Agency.Kind.values, default=Agency.Kind.POLICE)
        parser.add_argument("--email", default="", help="contact e-mail address")

    def handle(self, *args, code, name, anchor, kind, email, **options):
        try:
            agency = registry.agency_save(code=code, name=name, kind=kind, contact_email=email, actor=None)
            for path in anchor:
                for added in registry.anchor_add(agency=agency, certificate=Path(path).read_bytes(), actor=None):
                    self.stdout.write(f"anchor {added.certificate_sha256[:16]}…  {added.subject}")
        except (OSError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        count = agency.anchors.filter(active=True).count()
        self.stdout.write(self.style.SUCCESS(f"{agency.code}: {agency.name} ({count} trust anchor(s))"))
